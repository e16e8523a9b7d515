"""The denoising backbone: a Diffusion Transformer over latent frames.

Input and output are latents [B, C, T]. Every block is pre-norm and does, in order:

1. **frame-aligned conditioning**: ``frames`` [B, T, D] (LUFS curve and video motion resampled to
   latent frames) added to the residual stream after a zero-initialised projection, so what happens
   at second s enters exactly at the latent frames of second s (Omni2Sound's temporal branch);
2. **self-attention** over latent frames with rotary positions (relative) on queries and keys;
3. **cross-attention** to the condition sequence ``tokens`` [B, S, D] with ``token_mask``;
4. **MLP**.

Self-attention and MLP are modulated by AdaLN-zero (shift, scale, gate) from the timestep embedding
plus the ``globals`` vector (timing + task). The modulation is PixArt-alpha's "adaLN-single": one
shared projection of the conditioning vector plus a learned per-block offset table, which keeps the
base preset near Tri-Ergon-S's 0.9 B parameters (a per-block 6·D² projection would add 0.28 B).
The shared projection, the offset tables, the gates, the frame projections, the cross-attention
output projections and the final output layer start at zero, so a fresh DiT is exactly the zero map
and every block starts as the identity.

Positions work for any length: rotary embeddings are computed per call from frame indices, and an
absolute time signal (fixed sinusoids of the frame's time in seconds, the same function the
conditioners use for their tokens) is added to the input so cross-attention can match a latent
frame with the video and LUFS tokens of the same moment. Nothing has a fixed-size position table.

Attention is ``torch.nn.functional.scaled_dot_product_attention`` with boolean masks, prepared once
per forward (`KeyMask`). A row whose keys are all masked would give NaN; such rows attend to
everything and their output is zeroed.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.engine.conditions import EncodedConditions

logger = logging.getLogger(__name__)

# Frequencies of the timestep embedding (DiT / ADM convention: t in [0, 1] scaled to [0, 1000]).
_TIMESTEP_SCALE = 1000.0
_TIMESTEP_FEATURES = 256
# Time-in-seconds sinusoids: unit 10 ms, periods from 63 ms (about one latent frame at 21.5 fps)
# to well beyond 60 s, so every moment of a window has a distinct code.
_SECONDS_UNIT = 0.01
_SECONDS_MAX_PERIOD = 1.0e5


@dataclass(frozen=True)
class DiTConfig:
    """Shape of the backbone. ``latent_channels`` comes from the codec."""

    latent_channels: int
    width: int
    depth: int
    heads: int
    mlp_ratio: float = 4.0
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        for name in ("latent_channels", "width", "depth", "heads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DiTConfig.{name} must be a positive whole number, got {value!r}")
        if self.width % self.heads:
            raise ValueError(f"DiT width {self.width} is not divisible by {self.heads} heads")
        if (self.width // self.heads) % 2:
            raise ValueError(f"DiT head size {self.width // self.heads} must be even for rotary positions")
        if not self.mlp_ratio > 0 or not self.rope_base > 1:
            raise ValueError("DiTConfig.mlp_ratio must be > 0 and rope_base > 1")

    @property
    def head_dim(self) -> int:
        return self.width // self.heads

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DiTConfig:
        return cls(**data)


TINY_DIT = DiTConfig(latent_channels=16, width=64, depth=2, heads=4)
SMALL_DIT = DiTConfig(latent_channels=64, width=384, depth=8, heads=6)
# The size a 2-core CPU trains in about an hour (the shipped foley-small; see models/foley-small).
COMPACT_DIT = DiTConfig(latent_channels=256, width=192, depth=4, heads=4)
BASE_DIT = DiTConfig(latent_channels=64, width=1536, depth=20, heads=24)


# ---- shared primitives (also used by the conditioners) -----------------------------------------


def sinusoidal_embedding(values: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[...] -> [..., dim]: cos and sin of ``values`` at geometric frequencies 1 .. 1/max_period."""
    half = dim // 2
    exponent = torch.arange(half, device=values.device, dtype=torch.float32) / max(half, 1)
    frequencies = torch.exp(-math.log(max_period) * exponent)
    angles = values.to(torch.float32)[..., None] * frequencies
    embedding = torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)
    if dim % 2:
        embedding = F.pad(embedding, (0, 1))
    return embedding


def seconds_embedding(seconds: torch.Tensor, dim: int) -> torch.Tensor:
    """Fixed code of a time in seconds; the DiT and every time-aligned conditioner share it."""
    return sinusoidal_embedding(seconds / _SECONDS_UNIT, dim, _SECONDS_MAX_PERIOD)


def latent_frame_times(frames: int, latent_rate: float, device=None) -> torch.Tensor:
    """Centre time in seconds of each latent frame (frame k covers [k, k + 1) / latent_rate)."""
    return (torch.arange(frames, device=device, dtype=torch.float32) + 0.5) / float(latent_rate)


@dataclass(frozen=True)
class KeyMask:
    """A boolean key mask prepared once per forward for every attention layer that uses it.

    sdpa: [B, 1, 1, S] for scaled_dot_product_attention, or None when every key is real (the
    fastest kernels take no mask). rows_with_keys: [B, 1, 1, 1] 0/1 factor, or None when every row
    has a real key. A row whose keys are all masked would softmax over -inf only (NaN): it attends
    to every key instead and its output is multiplied by 0, which is what "nothing to attend to"
    means.
    """

    sdpa: torch.Tensor | None
    rows_with_keys: torch.Tensor | None

    @classmethod
    def of(cls, mask: torch.Tensor | None) -> KeyMask:
        if mask is None or bool(mask.all()):
            return cls(None, None)
        has_keys = mask.any(dim=-1)
        if bool(has_keys.all()):
            return cls(mask[:, None, None, :], None)
        safe = mask | ~has_keys[:, None]
        return cls(safe[:, None, None, :], has_keys[:, None, None, None])


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask) -> torch.Tensor:
    """SDPA over [B, H, L, d]; key_mask: a `KeyMask`, a bool [B, S] (True = real key) or None."""
    if not isinstance(key_mask, KeyMask):
        key_mask = KeyMask.of(key_mask)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask.sdpa)
    if key_mask.rows_with_keys is not None:
        out = out * key_mask.rows_with_keys.to(out.dtype)
    return out


@dataclass(frozen=True, eq=False)
class Rotary:
    """Rotary positions for [B, T, H, d] queries/keys: pair (2i, 2i + 1) of frame p is rotated by
    p * base^(-2i/d). Computed per call for the call's length, so any length works.

    In float32 on CPU and CUDA the rotation is one complex multiply (one pass over memory; the
    rotate-half form costs five); elsewhere (MPS, half precision) the same rotation in real arithmetic.
    """

    cos: torch.Tensor  # [T, 1, d/2]
    sin: torch.Tensor
    rotation: torch.Tensor | None  # complex64 [T, 1, d/2], where complex arithmetic is used

    @classmethod
    def of(cls, length: int, head_dim: int, base: float, device, dtype) -> Rotary:
        half = head_dim // 2
        inverse = base ** (-torch.arange(half, device=device, dtype=torch.float32) / half)
        angles = (torch.arange(length, device=device, dtype=torch.float32)[:, None] * inverse)[:, None]
        use_complex = dtype == torch.float32 and torch.device(device).type in ("cpu", "cuda")
        rotation = torch.polar(torch.ones_like(angles), angles) if use_complex else None
        return cls(torch.cos(angles).to(dtype), torch.sin(angles).to(dtype), rotation)

    def __call__(self, x: torch.Tensor, force_real: bool = False) -> torch.Tensor:
        if self.rotation is not None and not force_real and x.dtype == torch.float32:
            pairs = torch.view_as_complex(x.unflatten(-1, (-1, 2)))
            return torch.view_as_real(pairs * self.rotation).flatten(-2)
        even, odd = x.unflatten(-1, (-1, 2)).unbind(-1)
        return torch.stack((even * self.cos - odd * self.sin, even * self.sin + odd * self.cos), dim=-1).flatten(-2)


class SelfAttention(nn.Module):
    """Multi-head self-attention with RMS-normalised queries/keys and optional rotary positions."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.q_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, key_mask=None, rotary: Rotary | None = None) -> torch.Tensor:
        batch, length, width = h.shape
        # [B, T, H, d] views of one projection; heads move to dim 1 only as SDPA views (no copies).
        qkv = self.qkv(h).view(batch, length, 3, self.heads, width // self.heads)
        q, k, v = self.q_norm(qkv[:, :, 0]), self.k_norm(qkv[:, :, 1]), qkv[:, :, 2]
        if rotary is not None:
            q, k = rotary(q), rotary(k)
        out = masked_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), key_mask)
        return self.out(out.transpose(1, 2).reshape(batch, length, width))


class CrossAttention(nn.Module):
    """Queries from the latent frames, keys and values from the condition tokens."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.q_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.out = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, tokens: torch.Tensor, token_mask) -> torch.Tensor:
        batch, length, width = h.shape
        head_dim = width // self.heads
        q = self.q_norm(self.q(h).view(batch, length, self.heads, head_dim))
        kv = self.kv(tokens).view(batch, tokens.shape[1], 2, self.heads, head_dim)
        k, v = self.k_norm(kv[:, :, 0]), kv[:, :, 1]
        out = masked_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), token_mask)
        return self.out(out.transpose(1, 2).reshape(batch, length, width))


class FeedForward(nn.Sequential):
    def __init__(self, width: int, ratio: float = 4.0) -> None:
        hidden = max(1, int(round(width * ratio)))
        super().__init__(nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width))


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return torch.addcmul(shift[:, None], x, 1 + scale[:, None])


# ---- the DiT ----------------------------------------------------------------------------------


class DiTBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        # Added to the shared modulation: shift, scale, gate for attention, then for the MLP.
        self.modulation = nn.Parameter(torch.zeros(6, width))
        self.frame_proj = nn.Linear(width, width)
        self.norm_attn = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(width, heads)
        self.norm_cross = nn.LayerNorm(width, eps=1e-6)
        self.cross = CrossAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = FeedForward(width, mlp_ratio)
        for layer in (self.frame_proj, self.cross.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, h, shared_modulation, cond: EncodedConditions, masks: tuple[KeyMask, KeyMask], rotary: Rotary):
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = (shared_modulation + self.modulation).unbind(1)
        frame_mask, token_mask = masks
        h = h + self.frame_proj(cond.frames)
        attended = self.attn(_modulate(self.norm_attn(h), shift_a, scale_a), frame_mask, rotary)
        h = torch.addcmul(h, gate_a[:, None], attended)
        h = h + self.cross(self.norm_cross(h), cond.tokens, token_mask)
        return torch.addcmul(h, gate_m[:, None], self.mlp(_modulate(self.norm_mlp(h), shift_m, scale_m)))


class DiT(nn.Module):
    """v(x_t, t, conditions): latents [B, C, T], t [B] in [0, 1] -> velocity [B, C, T]."""

    def __init__(self, config: DiTConfig, latent_rate: float) -> None:
        super().__init__()
        if not (math.isfinite(latent_rate) and 0 < latent_rate <= 50):
            raise ValueError(f"latent rate must be in (0, 50] frames/s, got {latent_rate}")
        self.config = config
        self.latent_rate = float(latent_rate)
        width = config.width
        self.in_proj = nn.Linear(config.latent_channels, width)
        self.time_mlp = nn.Sequential(nn.Linear(_TIMESTEP_FEATURES, width), nn.SiLU(), nn.Linear(width, width))
        self.shared_modulation = nn.Linear(width, 6 * width)
        self.blocks = nn.ModuleList(DiTBlock(width, config.heads, config.mlp_ratio) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Linear(width, 2 * width)
        self.out_proj = nn.Linear(width, config.latent_channels)
        for layer in (self.shared_modulation, self.final_modulation, self.out_proj):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def timestep_embedding(self, t: torch.Tensor) -> torch.Tensor:
        features = sinusoidal_embedding(t * _TIMESTEP_SCALE, _TIMESTEP_FEATURES)
        return self.time_mlp(features.to(self.in_proj.weight.dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: EncodedConditions) -> torch.Tensor:
        batch, channels, frames = self._check(x, t, cond)
        t = t.reshape(-1).expand(batch) if t.numel() == 1 else t
        h = self.embed_input(x)
        c = F.silu(self.timestep_embedding(t) + cond.globals)
        shared = self.shared_modulation(c).reshape(batch, 6, -1)
        rotary = Rotary.of(frames, self.config.head_dim, self.config.rope_base, x.device, h.dtype)
        masks = (KeyMask.of(cond.frame_mask), KeyMask.of(cond.token_mask))
        for block in self.blocks:
            h = block(h, shared, cond, masks, rotary)
        shift, scale = self.final_modulation(c).chunk(2, dim=-1)
        out = self.out_proj(_modulate(self.final_norm(h), shift, scale))
        return out.transpose(1, 2)

    def embed_input(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B, T, D]: projected latents plus the absolute time of each frame."""
        h = self.in_proj(x.transpose(1, 2))
        times = latent_frame_times(x.shape[-1], self.latent_rate, x.device)
        return h + seconds_embedding(times, h.shape[-1]).to(h.dtype)

    def _check(self, x: torch.Tensor, t: torch.Tensor, cond: EncodedConditions) -> tuple[int, int, int]:
        if x.ndim != 3 or x.shape[1] != self.config.latent_channels:
            raise ValueError(f"DiT expects latents [B, {self.config.latent_channels}, T], got {tuple(x.shape)}")
        batch, channels, frames = x.shape
        if frames < 1:
            raise ValueError("DiT needs at least one latent frame")
        if t.numel() not in (1, batch):
            raise ValueError(f"DiT got {t.numel()} timesteps for a batch of {batch}")
        if cond.batch_size != batch or cond.latent_frames != frames or cond.width != self.config.width:
            raise ValueError(
                f"conditions [B={cond.batch_size}, T={cond.latent_frames}, D={cond.width}] do not fit "
                f"latents [B={batch}, T={frames}] of a width-{self.config.width} DiT"
            )
        return batch, channels, frames
