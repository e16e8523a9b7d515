"""Small building blocks shared by the conditioners: padding, time resampling, feature maps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from foleystudio.engine.dit import FeedForward, SelfAttention, sinusoidal_embedding


def pad_stack(items: Sequence[torch.Tensor], device=None, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
    """[T_i, F] tensors -> ([N, T_max, F] zero-padded, lengths [N])."""
    lengths = torch.tensor([item.shape[0] for item in items], dtype=torch.long, device=device)
    longest = int(lengths.max())
    out = torch.zeros(len(items), longest, *items[0].shape[1:], device=device, dtype=dtype or items[0].dtype)
    for row, item in enumerate(items):
        out[row, : item.shape[0]] = item.to(device=device, dtype=out.dtype)
    return out, lengths


def length_mask(lengths: torch.Tensor, longest: int) -> torch.Tensor:
    """[N] lengths -> [N, longest] bool, True on real entries."""
    return torch.arange(longest, device=lengths.device)[None] < lengths[:, None]


def frame_times(count: int, rate: float, start_s: torch.Tensor) -> torch.Tensor:
    """[N] starts -> [N, count] centre times in seconds of frames at ``rate``."""
    centres = (torch.arange(count, device=start_s.device, dtype=torch.float32) + 0.5) / rate
    return start_s.to(torch.float32)[:, None] + centres[None]


def resample_to_frames(
    values: torch.Tensor, lengths: torch.Tensor, rate: float, start_s: torch.Tensor,
    dst_frames: int, dst_rate: float,
) -> torch.Tensor:
    """[N, T_src, F] at ``rate`` -> [N, dst_frames, F] at ``dst_rate``, linear in time.

    Interval centres are aligned: source frame i (of row n) is at start_s[n] + (i + 0.5) / rate,
    destination frame k at (k + 0.5) / dst_rate. Each row uses only its first lengths[n] frames and
    holds its end values beyond them. Only gather and arithmetic, so it runs on every device.
    """
    dst_times = (torch.arange(dst_frames, device=values.device, dtype=torch.float32) + 0.5) / dst_rate
    position = (dst_times[None] - start_s.to(values.device, torch.float32)[:, None]) * rate - 0.5
    last = (lengths.to(values.device) - 1).to(torch.float32)[:, None]
    position = torch.minimum(position.clamp(min=0.0), last)
    low = position.floor()
    weight = (position - low).to(values.dtype)[..., None]
    low = low.long()
    high = torch.minimum(low + 1, last.long())
    features = values.shape[-1]
    take = lambda index: values.gather(1, index[..., None].expand(-1, -1, features))  # noqa: E731
    return take(low) * (1 - weight) + take(high) * weight


def fourier_features(values: torch.Tensor, count: int) -> torch.Tensor:
    """[..., F] values in about [0, 1] -> [..., F * (1 + 2 * count)]: the value, then sin/cos at
    frequencies pi * 2^k, so a small MLP can resolve fine differences (1 LU of a curve)."""
    frequencies = math.pi * 2.0 ** torch.arange(count, device=values.device, dtype=values.dtype)
    angles = values[..., None] * frequencies
    waves = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1).flatten(-2)
    return torch.cat([values, waves], dim=-1)


class MLP(nn.Sequential):
    def __init__(self, inputs: int, width: int, outputs: int | None = None) -> None:
        super().__init__(nn.Linear(inputs, width), nn.GELU(approximate="tanh"), nn.Linear(width, outputs or width))


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder block (self-attention with a key mask, then MLP)."""

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0) -> None:
        super().__init__()
        self.norm_attn = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = FeedForward(width, mlp_ratio)

    def forward(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        h = h + self.attn(self.norm_attn(h), mask)
        return h + self.mlp(self.norm_mlp(h))


def index_positions(length: int, width: int, device) -> torch.Tensor:
    """Fixed sinusoidal codes of token positions 0 .. length - 1 (any length)."""
    return sinusoidal_embedding(torch.arange(length, device=device, dtype=torch.float32), width)
