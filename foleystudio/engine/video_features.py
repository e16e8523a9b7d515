"""What the engine sees of a video: per-frame features, motion energy, and their time alignment.

Two signals are taken from the frames of a video span, at a fixed rate (8 fps for the DiT's video
conditioner, 6 fps for the LUFS predictor):

* **Per-frame features** from :class:`FrameEncoder`, a small 2-D CNN trained from scratch (no
  pretrained image model is available offline). Frames are square crops (``frames.read_frames``
  with an int size); the encoder pools its last feature map onto a coarse grid (2 rows x 3 columns
  by default) before projecting, so the features keep *where* in the picture things are, which the
  stereo placement needs.
* **Motion energy** (``foleystudio.video.motion.motion_energy``, re-exported here),
  parameter-free and deterministic. For frame k it is
  the mean absolute luma difference between frame k and frame k - 1 (luma = BT.601 weights on RGB
  scaled to [0, 1]), taken over ``regions`` vertical strips of equal width (left to right) and over
  the whole picture, plus the signed change of the mean luma (a flash, a cut to a brighter shot).
  Channels, for the default 3 regions (``MOTION_CHANNELS`` = 5)::

      0 left third   1 centre third   2 right third   3 whole picture   4 mean-luma change (signed)

  Channels 0-3 lie in [0, 1], channel 4 in [-1, 1]. They are means over pixels, so a scene gives
  the same values at any decode resolution. They are per-frame differences, so values depend on
  the frame rate: a model uses the rate it was trained at. The first frame of a span has nothing to
  compare with and reads 0, unless the frame before it is given (``previous``): spans read from a
  file use the frame 1/fps before the span start when there is one, so a window of a long video
  gets the same motion values as the whole video would. The values are small (a small object
  moving across a plain background gives around 0.01), so models feed them through
  :func:`compress_motion`.

Times: frame k of a span starting at ``start_s`` is the picture on screen at ``start_s + k / fps``
and stands for the interval ``[k / fps, (k + 1) / fps)`` of the take, like a loudness-curve frame
or a latent frame; :func:`resample_to_frames` aligns the centres of those intervals.

Long spans are read in constant memory by :func:`iter_video_windows` (overlapping windows of a
fixed number of frames); :func:`video_inputs` reads a whole span at once.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.motion import MOTION_REGIONS, motion_energy

if TYPE_CHECKING:
    from foleystudio.video.probe import MediaInfo

logger = logging.getLogger(__name__)

VIDEO_FPS = 8.0  # the DiT's video conditioner reads frames at this rate
VIDEO_FRAME_SIZE = 64  # default square decode size (pixels)
# Past the end of the video a span may run this far (container durations are rounded, audio often
# outlasts the picture by a frame or two); the last picture is held there.
END_TOLERANCE_S = 0.5

# The usual ImageNet statistics: natural pictures centred near 0 with unit spread.
_IMAGE_MEAN = (0.485, 0.456, 0.406)
_IMAGE_STD = (0.229, 0.224, 0.225)




# ---- frame encoder ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameEncoderConfig:
    """A small CNN: a stride-2 stem, then one stride-2 stage per entry of ``channels``."""

    frame_size: int = VIDEO_FRAME_SIZE  # square decode size the encoder is trained at
    channels: tuple[int, ...] = (32, 64, 128, 256)
    blocks_per_stage: int = 1  # residual blocks after each downsampling
    feature_dim: int = 256  # D_v
    grid_rows: int = 2  # the last feature map is pooled onto this grid before the projection
    grid_cols: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if not self.channels or min(self.channels) < 1:
            raise UserInputError(f"frame encoder channels must be positive, got {self.channels}")
        for name in ("frame_size", "feature_dim", "grid_rows", "grid_cols"):
            if getattr(self, name) < 1:
                raise UserInputError(f"frame encoder {name} must be >= 1, got {getattr(self, name)}")
        if self.blocks_per_stage < 0:
            raise UserInputError(f"frame encoder blocks_per_stage must be >= 0, got {self.blocks_per_stage}")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FrameEncoderConfig:
        try:
            return cls(**{**data, "channels": tuple(data["channels"])})
        except (KeyError, TypeError) as error:
            raise UserInputError(f"bad frame encoder config: {error}") from None


TINY_FRAME_ENCODER = FrameEncoderConfig(frame_size=32, channels=(8, 16), feature_dim=16)
SMALL_FRAME_ENCODER = FrameEncoderConfig()
# Reads the 32 px rendered AV pairs; trained by the LUFS predictor and shared, frozen, with the DiT.
COMPACT_FRAME_ENCODER = FrameEncoderConfig(frame_size=32, channels=(16, 32), feature_dim=32)
BASE_FRAME_ENCODER = FrameEncoderConfig(
    frame_size=96, channels=(64, 128, 256, 512), blocks_per_stage=2, feature_dim=512
)


def _group_count(channels: int, most: int = 8) -> int:
    return max(g for g in range(1, most + 1) if channels % g == 0)


class _ResidualBlock(nn.Module):
    """Pre-activation 3x3 residual block; the last conv starts at zero so the block starts as identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.GroupNorm(_group_count(channels), channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.GroupNorm(_group_count(channels), channels),
            nn.SiLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _grid_pool(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, C * rows * cols]: adaptive average pooling written out with slices.

    Cells follow adaptive_avg_pool2d's rule (they may overlap when the map does not divide
    evenly); spelled out because MPS refuses adaptive pooling of sizes that do not divide.
    """
    height, width = x.shape[-2:]
    cells = []
    for i in range(rows):
        top, bottom = (i * height) // rows, -((-(i + 1) * height) // rows)
        for j in range(cols):
            left, right = (j * width) // cols, -((-(j + 1) * width) // cols)
            cells.append(x[:, :, top:bottom, left:right].mean(dim=(-2, -1)))
    return torch.stack(cells, dim=-1).flatten(1)


class FrameEncoder(nn.Module):
    """Frames [B, T, H, W, 3] (uint8 0-255, or float in [0, 1]) -> features [B, T, feature_dim].

    Each frame is encoded on its own (2-D convolutions only), so any T and any B work; H and W may
    differ from ``config.frame_size`` (the encoder is trained at that size). Features end with a
    LayerNorm, so they arrive well scaled at whatever consumes them.
    """

    def __init__(self, config: FrameEncoderConfig = SMALL_FRAME_ENCODER) -> None:
        super().__init__()
        self.config = config
        first = config.channels[0]
        layers: list[nn.Module] = [nn.Conv2d(3, first, 3, stride=2, padding=1)]
        previous = first
        for index, channels in enumerate(config.channels):
            if index > 0:
                layers.append(nn.Conv2d(previous, channels, 3, stride=2, padding=1))
            layers.extend(_ResidualBlock(channels) for _ in range(config.blocks_per_stage))
            previous = channels
        layers.extend([nn.GroupNorm(_group_count(previous), previous), nn.SiLU()])
        self.trunk = nn.Sequential(*layers)
        self.project = nn.Linear(previous * config.grid_rows * config.grid_cols, config.feature_dim)
        self.norm = nn.LayerNorm(config.feature_dim)
        # Not saved with the weights: they are constants of the input format, not learned.
        self.register_buffer("mean", torch.tensor(_IMAGE_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGE_STD).view(1, 3, 1, 1), persistent=False)

    @property
    def feature_dim(self) -> int:
        return self.config.feature_dim

    def forward(self, frames: torch.Tensor, frames_per_pass: int | None = None) -> torch.Tensor:
        """``frames_per_pass`` bounds how many frames go through the CNN at once (memory, inference)."""
        if frames.ndim != 5 or frames.shape[-1] != 3:
            raise ValueError(f"frames must be [B, T, H, W, 3], got shape {tuple(frames.shape)}")
        batch, count, height, width, _ = frames.shape
        flat = frames.reshape(batch * count, height, width, 3)
        step = flat.shape[0] if not frames_per_pass else max(1, int(frames_per_pass))
        parts = [self._encode(flat[i : i + step]) for i in range(0, flat.shape[0], step)]
        features = torch.cat(parts) if parts else flat.new_zeros((0, self.feature_dim), dtype=self.mean.dtype)
        return features.reshape(batch, count, self.feature_dim)

    def _encode(self, flat: torch.Tensor) -> torch.Tensor:
        dtype = self.project.weight.dtype
        pixels = flat.permute(0, 3, 1, 2).to(dtype)
        if flat.dtype == torch.uint8:
            pixels = pixels / 255.0
        pixels = (pixels - self.mean.to(dtype)) / self.std.to(dtype)
        pooled = _grid_pool(self.trunk(pixels.contiguous()), self.config.grid_rows, self.config.grid_cols)
        return self.norm(self.project(pooled))


# ---- motion energy ------------------------------------------------------------------------------


def compress_motion(motion: torch.Tensor) -> torch.Tensor:
    """Signed square root: spreads the small motion values over a range a linear layer can use."""
    return torch.sign(motion) * torch.sqrt(motion.abs())


# ---- reading a video span ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class VideoInputs:
    """Frames of a video span (or of one window of it) with their motion energy."""

    frames: np.ndarray  # uint8 (T, H, W, 3)
    motion: np.ndarray  # float32 (T, M), see motion_energy
    fps: float
    times: np.ndarray  # float64 (T,): seconds in the video of each frame
    first_index: int = 0  # index of frames[0] within the whole span
    span_frames: int = 0  # frames in the whole span (the windows of iter_video_windows cover them)
    span_start_s: float = 0.0  # where the whole span starts in the video (s)

    def __len__(self) -> int:
        return len(self.frames)

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """(frames uint8 [1, T, H, W, 3], motion float32 [1, T, M]) on ``device``, batch of one."""
        frames = torch.from_numpy(np.ascontiguousarray(self.frames)).unsqueeze(0).to(device)
        motion = torch.from_numpy(np.ascontiguousarray(self.motion)).unsqueeze(0).to(device)
        return frames, motion


@dataclass(frozen=True)
class _Span:
    info: MediaInfo
    start_s: float
    frame_count: int
    fps: float


def _checked_number(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UserInputError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def _resolve_span(path, start_s, duration_s, fps) -> _Span:
    """Check a span against the video; MediaError/UserInputError naming the file and the problem."""
    fps = _checked_number(fps, "frame rate")
    if fps <= 0:
        raise UserInputError(f"frame rate must be positive, got {fps}")
    from foleystudio.video.probe import probe_media  # PyAV only where a file is read (training needs none)

    start_s = _checked_number(start_s, "video start")
    info = probe_media(path)
    name = info.path.name
    if info.video is None:
        raise MediaError(f"{name} has no video stream")
    video_end = info.video.duration_s
    if start_s < 0:
        raise UserInputError(f"video start must be >= 0 s, got {start_s:g} s")
    if start_s >= video_end:
        raise UserInputError(f"{name}: start {start_s:.3f} s is not before the end of the video ({video_end:.3f} s)")
    if duration_s is None:
        duration_s = video_end - start_s
    duration_s = _checked_number(duration_s, "video span duration")
    if duration_s <= 0:
        raise UserInputError(f"video span duration must be positive, got {duration_s:g} s")
    if start_s + duration_s > video_end + END_TOLERANCE_S:
        raise UserInputError(
            f"{name}: the span {start_s:.3f}-{start_s + duration_s:.3f} s runs past the end of the video "
            f"({video_end:.3f} s)"
        )
    frame_count = max(1, math.ceil(duration_s * fps - 1e-9))
    return _Span(info, start_s, frame_count, fps)


def _span_frames(span: _Span, size: int, regions: int) -> Iterator[tuple[float, np.ndarray, np.ndarray]]:
    """(time_s, rgb, motion row) for each of the span's frames, one frame held at a time.

    Reads from one frame before the span when there is one, so the first motion row compares with
    the true previous picture; past the end of the video the last picture is held (motion 0).
    """
    from foleystudio.video.frames import iter_frames

    period = 1.0 / span.fps
    lead_in = span.start_s >= period
    read_from = span.start_s - period if lead_in else span.start_s
    read_to = min(span.start_s + span.frame_count * period, span.info.video.duration_s)
    decoded = iter_frames(span.info.path, span.fps, size, read_from, read_to, info=span.info)
    try:
        before = next(decoded, None) if lead_in else None
        previous = before[1].copy() if before is not None else None
        last = None
        for index in range(span.frame_count):
            item = next(decoded, None)
            rgb = item[1].copy() if item is not None else last
            if rgb is None:
                raise MediaError(f"{span.info.path.name}: no video frame could be decoded")
            motion = motion_energy(rgb[None], regions, previous=previous)[0]
            yield span.start_s + index * period, rgb, motion
            previous = last = rgb
    finally:
        decoded.close()  # closes the file now, not whenever the generator is collected


def window_starts(total: int, window: int, overlap: int) -> list[int]:
    """First frames of windows of ``window`` frames covering ``total`` frames, overlapping >= ``overlap``.

    One window when everything fits; otherwise the fewest windows, spread evenly, the first at 0 and
    the last ending at ``total``.
    """
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window, got window {window}, overlap {overlap}")
    if total <= window:
        return [0]
    count = math.ceil((total - overlap) / (window - overlap))
    return [round(k * (total - window) / (count - 1)) for k in range(count)]


def iter_video_windows(
    path: str | os.PathLike,
    start_s: float = 0.0,
    duration_s: float | None = None,
    fps: float = VIDEO_FPS,
    size: int = VIDEO_FRAME_SIZE,
    window_frames: int = 480,
    overlap_frames: int = 0,
    regions: int = MOTION_REGIONS,
) -> Iterator[VideoInputs]:
    """The span as :class:`VideoInputs` windows at :func:`window_starts`; constant memory.

    ``duration_s`` None reads to the end of the video. The span is checked before the first window
    is produced (MediaError/UserInputError), so bad input fails at the call, not while iterating.
    """
    span = _resolve_span(path, start_s, duration_s, fps)
    starts = window_starts(span.frame_count, window_frames, overlap_frames)
    logger.debug("%s: %d frames at %g fps in %d window(s)", span.info.path.name, span.frame_count, fps, len(starts))
    return _windows(span, size, regions, starts, min(window_frames, span.frame_count))


def _windows(span: _Span, size: int, regions: int, starts: list[int], window: int) -> Iterator[VideoInputs]:
    recent: deque = deque(maxlen=window)
    pending = deque(starts)
    for index, item in enumerate(_span_frames(span, size, regions)):
        recent.append(item)
        while pending and index == pending[0] + window - 1:
            yield _window_inputs(list(recent), pending.popleft(), span)


def _window_inputs(items: list, first_index: int, span: _Span) -> VideoInputs:
    times, frames, motion = zip(*items)
    return VideoInputs(
        frames=np.stack(frames),
        motion=np.stack(motion).astype(np.float32),
        fps=span.fps,
        times=np.array(times, dtype=np.float64),
        first_index=first_index,
        span_frames=span.frame_count,
        span_start_s=span.start_s,
    )


def video_inputs(
    path: str | os.PathLike,
    start_s: float = 0.0,
    duration_s: float | None = None,
    fps: float = VIDEO_FPS,
    size: int = VIDEO_FRAME_SIZE,
    regions: int = MOTION_REGIONS,
) -> VideoInputs:
    """The whole span in memory: frames uint8 (T, H, W, 3), motion (T, M), T = ceil(duration * fps).

    For spans longer than a model window use :func:`iter_video_windows`.
    """
    span = _resolve_span(path, start_s, duration_s, fps)
    windows = _windows(span, size, regions, [0], span.frame_count)
    try:
        return next(windows)
    finally:
        windows.close()  # releases the decoder now


# ---- time alignment -----------------------------------------------------------------------------


def resample_to_frames(features: torch.Tensor, src_fps: float, dst_frames: int, dst_rate: float) -> torch.Tensor:
    """Features [B, T, D] at ``src_fps`` -> [B, dst_frames, D] at ``dst_rate``, linear in time.

    Source frame k stands for [k / src_fps, (k + 1) / src_fps) and destination frame j for
    [j / dst_rate, (j + 1) / dst_rate); each destination frame takes the value at its centre,
    interpolated between the two nearest source centres (held beyond the first and last).
    """
    if features.ndim != 3 or features.shape[1] < 1:
        raise ValueError(f"features must be [B, T, D] with T >= 1, got shape {tuple(features.shape)}")
    if not (src_fps > 0 and dst_rate > 0) or dst_frames < 1:
        raise ValueError(f"need positive rates and dst_frames >= 1, got {src_fps}, {dst_rate}, {dst_frames}")
    count = features.shape[1]
    # Positions computed in float64 on the host: no float64 on the device (MPS has none).
    centres = (np.arange(dst_frames) + 0.5) / dst_rate
    position = np.clip(centres * src_fps - 0.5, 0.0, count - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, count - 1)
    weight = torch.from_numpy((position - lower).astype(np.float32)).to(features.device, features.dtype)
    lower_t = torch.from_numpy(lower).to(features.device)
    upper_t = torch.from_numpy(upper).to(features.device)
    weight = weight.view(1, dst_frames, 1)
    return features[:, lower_t] * (1 - weight) + features[:, upper_t] * weight
