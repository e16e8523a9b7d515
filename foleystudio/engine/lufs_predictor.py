"""The LUFS predictor: a video span -> left and right loudness curves at 6 Hz (Tri-Ergon §LUFS prediction).

Tri-Ergon extracts DINO-V2 features from frames at 6 fps and runs a transformer encoder over them.
No pretrained image model is available offline, so frames go through our own :class:`FrameEncoder`
(trained with the predictor) and are joined by the parameter-free motion energy, which carries
the onsets and the left/right placement a loudness curve follows:

    frames [B, T, H, W, 3] at 6 fps -> FrameEncoder [B, T, D_v] ++ compress_motion(motion) [B, T, M]
    -> linear -> + sinusoidal frame positions -> pre-norm transformer encoder -> linear -> sigmoid
    -> [B, T, 2] (left, right), normalised loudness.

Output scale: the same as the LUFS embedding's: a value y in [0, 1] means ``y * 70 - 70`` LUFS,
i.e. loudness clipped to [-70, 0] LUFS and mapped by ``(x + 70) / 70``
(:func:`normalise_lufs` / :func:`denormalise_lufs`). The sigmoid keeps every prediction in range.

Frame k of a prediction covers ``[k / 6, (k + 1) / 6)`` s after the span start, as a loudness-curve
frame does. Positions are sinusoidal in the frame index, so any length works; the model is trained
on windows of up to ``max_frames`` (60 s) and :func:`predict_curve` runs longer spans as
overlapping windows whose predictions are crossfaded, holding one window of frames at a time.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from foleystudio.audio.curve import CURVE_RATE_HZ, FLOOR_LUFS, LoudnessCurve
from foleystudio.engine.device import select_device
from foleystudio.engine.video_features import (
    BASE_FRAME_ENCODER,
    COMPACT_FRAME_ENCODER,
    SMALL_FRAME_ENCODER,
    TINY_FRAME_ENCODER,
    FrameEncoder,
    FrameEncoderConfig,
    compress_motion,
    iter_video_windows,
    window_starts,
)
from foleystudio.errors import UserInputError
from foleystudio.video.motion import MOTION_REGIONS, motion_channel_count, motion_energy

logger = logging.getLogger(__name__)

LUFS_FPS = CURVE_RATE_HZ  # frames per second in and curve frames per second out (6)
LUFS_RANGE = -FLOOR_LUFS  # 70 LU between the floor and 0 LUFS
# At inference the frame encoder sees at most this many frames at once (bounds memory, not results).
_FRAMES_PER_PASS = 120


def normalise_lufs(lufs):
    """LUFS -> [0, 1]: clipped to [-70, 0], then (x + 70) / 70. Tensors and numpy arrays alike."""
    if isinstance(lufs, torch.Tensor):
        return (lufs.clamp(FLOOR_LUFS, 0.0) - FLOOR_LUFS) / LUFS_RANGE
    return (np.clip(lufs, FLOOR_LUFS, 0.0) - FLOOR_LUFS) / LUFS_RANGE


def denormalise_lufs(values):
    """[0, 1] -> LUFS in [-70, 0]; the inverse of :func:`normalise_lufs` inside the range."""
    return values * LUFS_RANGE + FLOOR_LUFS


@dataclass(frozen=True)
class LufsPredictorConfig:
    encoder: FrameEncoderConfig = SMALL_FRAME_ENCODER
    width: int = 256
    layers: int = 4
    heads: int = 4
    ff_mult: int = 4
    max_frames: int = 360  # the window: 60 s at 6 fps
    overlap_frames: int = 36  # windows of a longer span overlap (and crossfade) by at least this
    motion_regions: int = MOTION_REGIONS
    dropout: float = 0.1

    def __post_init__(self) -> None:
        for name in ("width", "layers", "heads", "ff_mult", "max_frames", "motion_regions"):
            if getattr(self, name) < 1:
                raise UserInputError(f"LUFS predictor {name} must be >= 1, got {getattr(self, name)}")
        if self.width % self.heads:
            raise UserInputError(f"LUFS predictor width {self.width} is not divisible by {self.heads} heads")
        if not 0 <= self.overlap_frames < self.max_frames:
            raise UserInputError(
                f"LUFS predictor overlap must be in [0, {self.max_frames}) frames, got {self.overlap_frames}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise UserInputError(f"LUFS predictor dropout must be in [0, 1), got {self.dropout}")

    def to_dict(self) -> dict:
        return {**asdict(self), "encoder": self.encoder.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> LufsPredictorConfig:
        try:
            return cls(**{**data, "encoder": FrameEncoderConfig.from_dict(data["encoder"])})
        except (KeyError, TypeError) as error:
            raise UserInputError(f"bad LUFS predictor config: {error}") from None


TINY_LUFS_PREDICTOR = LufsPredictorConfig(
    encoder=TINY_FRAME_ENCODER, width=32, layers=1, heads=2, ff_mult=2, max_frames=12, overlap_frames=4, dropout=0.0
)
SMALL_LUFS_PREDICTOR = LufsPredictorConfig()
COMPACT_LUFS_PREDICTOR = LufsPredictorConfig(
    encoder=COMPACT_FRAME_ENCODER, width=64, layers=2, heads=4, ff_mult=2, max_frames=60, overlap_frames=12, dropout=0.0
)
# Tri-Ergon's T_LUFS-S: 12 layers, 8 heads, width 768.
BASE_LUFS_PREDICTOR = LufsPredictorConfig(encoder=BASE_FRAME_ENCODER, width=768, layers=12, heads=8)


def sinusoidal_positions(count: int, width: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """[count, width] sine/cosine codes of positions 0..count-1 (the Transformer paper's)."""
    half = width // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / half)
    angles = torch.arange(count, device=device, dtype=torch.float32)[:, None] * frequencies[None]
    codes = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if width % 2:
        codes = F.pad(codes, (0, 1))
    return codes.to(dtype)


class _EncoderBlock(nn.Module):
    """Pre-norm transformer encoder layer on scaled_dot_product_attention."""

    def __init__(self, width: int, heads: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.attention_out = nn.Linear(width, width)
        self.feedforward_norm = nn.LayerNorm(width)
        self.feedforward = nn.Sequential(
            nn.Linear(width, ff_mult * width), nn.GELU(), nn.Linear(ff_mult * width, width)
        )

    def forward(self, x: torch.Tensor, attention_mask: torch.Tensor | None) -> torch.Tensor:
        batch, count, width = x.shape
        qkv = self.qkv(self.attention_norm(x)).view(batch, count, 3, self.heads, width // self.heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4)
        dropout = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout)
        attended = attended.transpose(1, 2).reshape(batch, count, width)
        x = x + F.dropout(self.attention_out(attended), dropout, self.training)
        return x + F.dropout(self.feedforward(self.feedforward_norm(x)), dropout, self.training)


class LufsPredictor(nn.Module):
    """Frames at 6 fps (+ motion energy) -> normalised left/right loudness [B, T, 2] in [0, 1]."""

    def __init__(self, config: LufsPredictorConfig = SMALL_LUFS_PREDICTOR) -> None:
        super().__init__()
        self.config = config
        self.encoder = FrameEncoder(config.encoder)
        motion_channels = motion_channel_count(config.motion_regions)
        self.input = nn.Linear(config.encoder.feature_dim + motion_channels, config.width)
        self.blocks = nn.ModuleList(
            _EncoderBlock(config.width, config.heads, config.ff_mult, config.dropout) for _ in range(config.layers)
        )
        self.output_norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, 2)

    def forward(
        self,
        frames: torch.Tensor,
        motion: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        frames_per_pass: int | None = None,
    ) -> torch.Tensor:
        """``frames`` [B, T, H, W, 3]; ``motion`` [B, T, M] (computed from uint8 frames when None,
        the first frame then reading 0); ``mask`` [B, T] bool, True for real frames (padding is
        neither attended to nor meaningful in the output)."""
        if motion is None:
            motion = motion_energy(frames, self.config.motion_regions)
        features = self.encoder(frames, frames_per_pass)
        expected = (*features.shape[:2], motion_channel_count(self.config.motion_regions))
        if tuple(motion.shape) != expected:
            raise ValueError(f"motion must have shape {expected}, got {tuple(motion.shape)}")
        x = self.input(torch.cat([features, compress_motion(motion.to(features.dtype))], dim=-1))
        x = x + sinusoidal_positions(x.shape[1], x.shape[2], x.device, x.dtype)
        attention_mask = None if mask is None else mask.to(torch.bool)[:, None, None, :]
        for block in self.blocks:
            x = block(x, attention_mask)
        return torch.sigmoid(self.head(self.output_norm(x)))


def lufs_loss(
    predictor: LufsPredictor,
    frames: torch.Tensor,
    target_curves: torch.Tensor,
    mask: torch.Tensor | None = None,
    motion: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean absolute error on the normalised scale over real frames and both channels.

    ``target_curves`` [B, T, 2] are LUFS (left, right; clipped to [-70, 0] here). Times 70 the
    loss is the mean error in LU. L1 rather than Tri-Ergon's MSE: loudness errors are judged in
    LU, and long quiet stretches at the floor should not dominate the few loud events.
    """
    if target_curves.shape != (*frames.shape[:2], 2):
        raise ValueError(
            f"target curves must be [B, T, 2] for frames {tuple(frames.shape)}, got {tuple(target_curves.shape)}"
        )
    if mask is not None and not bool(mask.any(dim=1).all()):
        raise ValueError("every sample needs at least one real (unmasked) frame")
    predicted = predictor(frames, motion, mask)
    error = (predicted - normalise_lufs(target_curves.to(predicted.dtype))).abs().mean(dim=-1)
    if mask is None:
        return error.mean()
    mask = mask.to(torch.bool)
    return torch.where(mask, error, torch.zeros_like(error)).sum() / mask.sum()


def curve_targets(curves: list[LoudnessCurve], frame_count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Curves (6 Hz, starting at the clip start) -> targets [B, frame_count, 2] LUFS and mask [B, frame_count].

    Curves at another rate are resampled to 6 Hz; longer ones are cut, shorter ones padded
    (mask False).
    """
    targets = torch.full((len(curves), frame_count, 2), FLOOR_LUFS)
    mask = torch.zeros((len(curves), frame_count), dtype=torch.bool)
    for row, curve in enumerate(curves):
        if not math.isclose(curve.frame_s, 1.0 / LUFS_FPS, rel_tol=1e-3):
            curve = curve.resample(LUFS_FPS)
        count = min(frame_count, len(curve))
        targets[row, :count, 0] = torch.from_numpy(curve.left[:count].astype(np.float32))
        targets[row, :count, 1] = torch.from_numpy(curve.right[:count].astype(np.float32))
        mask[row, :count] = True
    return targets, mask


class _Crossfade:
    """Joins window predictions: each overlap is a linear crossfade over its whole length.

    Window i fades in over its overlap with window i - 1 and out over its overlap with window
    i + 1; the result is the weighted mean, so agreeing windows give back exactly their values.
    """

    def __init__(self, total: int, starts: list[int], window: int) -> None:
        self.starts = starts
        self.window = min(window, total)
        self.values = np.zeros((total, 2))
        self.weights = np.zeros(total)

    def _weight(self, index: int) -> np.ndarray:
        weight = np.ones(self.window)
        if index > 0:
            fade = self.starts[index - 1] + self.window - self.starts[index]
            weight[:fade] = np.arange(1, fade + 1) / (fade + 1)  # never 0: every frame keeps a say
        if index + 1 < len(self.starts):
            fade = self.starts[index] + self.window - self.starts[index + 1]
            if fade > 0:
                weight[-fade:] = np.minimum(weight[-fade:], np.arange(fade, 0, -1) / (fade + 1))
        return weight

    def add(self, start: int, values: np.ndarray) -> None:
        weight = self._weight(self.starts.index(start))
        self.values[start : start + self.window] += weight[:, None] * values
        self.weights[start : start + self.window] += weight

    def result(self) -> np.ndarray:
        if np.any(self.weights == 0):
            raise RuntimeError("windows did not cover the whole span")  # a bug, not bad input
        return self.values / self.weights[:, None]


def predict_curve(
    predictor: LufsPredictor,
    video_path: str | os.PathLike,
    start_s: float = 0.0,
    duration_s: float | None = None,
    device: str | torch.device = "cpu",
) -> LoudnessCurve:
    """The predicted 6 Hz loudness curve of a video span; its times start at 0 (the span start).

    ``duration_s`` None runs to the end of the video. The predictor is moved to ``device`` (in
    place, as ``Module.to`` does) and run in eval mode (its training flag is restored afterwards).
    Spans longer than ``config.max_frames`` run as overlapping windows, crossfaded.
    """
    target = select_device(device)
    config = predictor.config
    windows = iter_video_windows(
        video_path, start_s, duration_s, LUFS_FPS, config.encoder.frame_size,
        config.max_frames, config.overlap_frames, config.motion_regions,
    )  # checks the span before any work
    predictor.to(target)
    was_training = predictor.training
    predictor.eval()
    blend = None
    try:
        with torch.inference_mode():
            for window in windows:
                if blend is None:
                    starts = window_starts(window.span_frames, config.max_frames, config.overlap_frames)
                    blend = _Crossfade(window.span_frames, starts, config.max_frames)
                frames, motion = window.tensors(target)
                predicted = predictor(frames, motion, frames_per_pass=_FRAMES_PER_PASS)[0]
                blend.add(window.first_index, predicted.float().cpu().numpy())
    finally:
        predictor.train(was_training)
    lufs = denormalise_lufs(blend.result())
    return LoudnessCurve.uniform(lufs[:, 0], lufs[:, 1], LUFS_FPS, start_s=0.0)
