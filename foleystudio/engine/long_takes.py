"""Takes longer than the model window: overlapping windows, each continuing the previous one's tail.

Plan (latent frames): windows of ``window`` frames, consecutive ones overlapping by ``overlap``
frames; the last one is shorter when the take does not divide evenly. The overlap of window k > 0
has two parts: its first ``known`` frames, and then ``crossfade`` frames (known + crossfade =
overlap).

Continuation: the ``known`` frames are the previous window's final latent there, imposed by
flow-matching inpainting (``inpaint.masked_velocity``: replacement along the exact path from this
window's own starting noise z), so the model generates the rest of the window as a continuation of
them. The take keeps the previous window's values for those frames exactly.

Join: a LATENT crossfade over the ``crossfade`` frames, which both windows generated freely: the
previous window's values fade out along a raised cosine (weights strictly between 1 and 0) while
this window's fade in. The first of them continue the known frames (previous window), the last
ones lead into this window's own frames, so the join is continuous even where the model ignores its
context. Raised cosine with weights summing to 1, not equal power: both sides describe the same
moment of the same take (correlated), and a latent is not an energy signal.

Constant memory: ``long_take`` is a generator that works on one window at a time and yields each
finished stretch of latent as a ``LatentPiece`` (frames in order, each frame once) between the
``Step``s; between windows it keeps only the next overlap. ``StreamingDecoder`` turns that stream
of pieces into a stream of audio with a bounded buffer: every chunk is decoded with
``context_frames`` of latent on both sides, and chunk joins get a short raised-cosine crossfade
between the two decodes, which are the same for a local decoder and close for one with a wider reach.

Progress: Steps count over the whole take (i = 1 .. windows × steps); ``Step.offset`` is the first
latent frame of the window being previewed.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass

import torch

from foleystudio.engine.inpaint import masked_velocity, raised_cosine
from foleystudio.engine.sampler import CancelSignal, NoiseStream, SamplerConfig, Step, VelocityFn, sample
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LongTakeConfig:
    """Window layout in seconds. overlap_s: how much consecutive windows share; crossfade_s: the end
    part of the overlap where the latent crossfades (the rest of the overlap is known context)."""

    window_s: float = 60.0
    overlap_s: float = 5.0
    crossfade_s: float = 2.0

    def __post_init__(self) -> None:
        for name in ("window_s", "overlap_s", "crossfade_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise UserInputError(f"long-take {name} must be a finite number (got {value!r})")
        if not 0 < self.overlap_s < self.window_s:
            raise UserInputError(
                f"long-take overlap ({self.overlap_s} s) must be above 0 and below the window ({self.window_s} s)"
            )
        if not 0 <= self.crossfade_s < self.overlap_s:
            raise UserInputError(
                f"long-take crossfade ({self.crossfade_s} s) must be 0 or more and below the overlap "
                f"({self.overlap_s} s)"
            )

    def plan(self, total_frames: int, latent_rate: float) -> LongTakePlan:
        # ceil, as the generator counts frames: a take exactly one window long is one window.
        window = math.ceil(self.window_s * latent_rate - 1e-9)
        overlap = min(window - 1, max(1, round(self.overlap_s * latent_rate)))
        crossfade = min(overlap - 1, round(self.crossfade_s * latent_rate))
        return plan_long_take(total_frames, window, overlap, crossfade)


TINY_LONG_TAKE = LongTakeConfig(window_s=2.0, overlap_s=0.5, crossfade_s=0.25)
SMALL_LONG_TAKE = LongTakeConfig(window_s=60.0, overlap_s=5.0, crossfade_s=2.0)
# Trained on crops of at most 10 s, so it generates in 10 s windows.
COMPACT_LONG_TAKE = LongTakeConfig(window_s=10.0, overlap_s=2.0, crossfade_s=1.0)
BASE_LONG_TAKE = SMALL_LONG_TAKE


@dataclass(frozen=True)
class Window:
    """Latent frames [start, stop) of the take. The first ``known`` frames continue the previous
    window; the ``crossfade`` frames after them are crossfaded with it (both 0 for the first window)."""

    index: int
    start: int
    stop: int
    known: int
    crossfade: int

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def overlap(self) -> int:
        return self.known + self.crossfade


@dataclass(frozen=True)
class LongTakePlan:
    total_frames: int
    windows: tuple[Window, ...]


@dataclass(frozen=True, eq=False)
class LatentPiece:
    """Final latent for take frames [start, start + latent.shape[-1]), shape [N, C, frames]."""

    start: int
    latent: torch.Tensor

    @property
    def stop(self) -> int:
        return self.start + self.latent.shape[-1]


def plan_long_take(
    total_frames: int, window_frames: int, overlap_frames: int, crossfade_frames: int = 0
) -> LongTakePlan:
    """Windows covering [0, total_frames); a single window when the take fits the model window."""
    if total_frames < 1:
        raise UserInputError(f"a take needs at least one latent frame (got {total_frames})")
    if window_frames < 2:
        raise UserInputError(f"the model window must hold at least 2 latent frames (got {window_frames})")
    if not 1 <= overlap_frames < window_frames:
        raise UserInputError(f"window overlap must be 1 to {window_frames - 1} latent frames (got {overlap_frames})")
    if not 0 <= crossfade_frames < overlap_frames:
        raise UserInputError(
            f"window crossfade must be 0 to {overlap_frames - 1} latent frames (got {crossfade_frames})"
        )
    known = overlap_frames - crossfade_frames
    windows = [Window(0, 0, min(window_frames, total_frames), 0, 0)]
    while windows[-1].stop < total_frames:
        start = windows[-1].stop - overlap_frames
        stop = min(start + window_frames, total_frames)
        windows.append(Window(len(windows), start, stop, known, crossfade_frames))
    logger.debug("long take: %d frames in %d window(s)", total_frames, len(windows))
    return LongTakePlan(total_frames, tuple(windows))


def long_take(
    plan: LongTakePlan,
    window_velocity: Callable[[Window], VelocityFn],
    noise: NoiseStream,
    latent_channels: int,
    config: SamplerConfig,
    device: torch.device | str = "cpu",
    cancel: CancelSignal = None,
) -> Generator[Step | LatentPiece, None, None]:
    """Generate the take window by window; yields Steps and, after each window, its LatentPiece.

    window_velocity(window) is called once per window, before its first step, and returns the
    velocity_fn for latents [N, C, window.frames] (the pipeline encodes that window's conditions
    there). Noise is drawn per window from ``noise`` (variation i's stream is seeded seed + i), so
    a take that fits one window equals ``sample`` from ``make_noise`` with the same seed.
    Raises GenerationCancelled like sample().
    """
    total_steps = len(plan.windows) * config.steps
    overlap: torch.Tensor | None = None  # previous window's final latent over this window's overlap
    for window in plan.windows:
        start_noise = noise.draw((latent_channels, window.frames), device=device)
        velocity = window_velocity(window)
        if window.known:
            velocity = _continuing(velocity, overlap, window, start_noise)
        steps = sample(velocity, start_noise, config, cancel)
        latent = yield from _relabelled(steps, window.index * config.steps, total_steps, window.start)
        if window.overlap:
            latent = _joined(overlap, latent, window)
        following = plan.windows[window.index + 1].overlap if window.index + 1 < len(plan.windows) else 0
        # Clone so the window's latent is freed once the consumer drops the piece.
        overlap = latent[..., window.frames - following :].clone()
        piece = LatentPiece(window.start, latent[..., : window.frames - following])
        del latent, velocity, start_noise, steps  # hold nothing of this window but the overlap
        yield piece
        del piece


def _continuing(
    velocity: VelocityFn, overlap: torch.Tensor | None, window: Window, start_noise: torch.Tensor
) -> VelocityFn:
    if overlap is None or overlap.shape[-1] != window.overlap:
        raise RuntimeError(f"window {window.index} expects {window.overlap} overlap frames")
    known = torch.zeros_like(start_noise)
    known[..., : window.known] = overlap[..., : window.known]
    keep = torch.zeros((1, 1, window.frames), dtype=start_noise.dtype)
    keep[..., : window.known] = 1.0
    return masked_velocity(velocity, known, keep, start_noise)


def _joined(overlap: torch.Tensor | None, latent: torch.Tensor, window: Window) -> torch.Tensor:
    """The window's latent with the previous window's known frames and the latent crossfade applied."""
    if overlap is None:
        raise RuntimeError(f"window {window.index} has no previous window to join")
    joined = latent.clone()
    known, end = window.known, window.overlap
    joined[..., :known] = overlap[..., :known]  # exactly the take's frames, not their path's rounding
    fading_out = torch.from_numpy(raised_cosine(window.crossfade)[::-1].copy()).to(latent.device, latent.dtype)
    joined[..., known:end] = fading_out * overlap[..., known:end] + (1.0 - fading_out) * latent[..., known:end]
    return joined


def _relabelled(
    steps: Generator[Step, None, torch.Tensor], before: int, total: int, offset: int
) -> Generator[Step, None, torch.Tensor]:
    """Re-yield a window's Steps numbered over the whole take; return the window's latent."""
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            return finished.value
        yield dataclasses.replace(step, i=before + step.i, total=total, offset=offset)


class StreamingDecoder:
    """Decodes a stream of latent pieces into contiguous audio chunks with a bounded buffer.

    push(latent [N, C, n]) returns the audio [N, 2, m] that is final so far (m may be 0); finish()
    returns the rest. Each chunk is decoded with ``context_frames`` latent frames either side, and
    consecutive decodes are joined by a raised-cosine crossfade of ``crossfade_samples``.
    """

    def __init__(
        self,
        decode: Callable[[torch.Tensor], torch.Tensor],
        hop_length: int,
        context_frames: int = 8,
        crossfade_samples: int | None = None,
    ) -> None:
        if context_frames < 0:
            raise ValueError(f"context_frames must be 0 or more (got {context_frames})")
        self._decode = decode
        self._hop = hop_length
        self._context = context_frames
        limit = context_frames * hop_length
        self._crossfade = limit // 2 if crossfade_samples is None else min(crossfade_samples, limit)
        self._buffer: torch.Tensor | None = None
        self._done = 0  # frames at the front of the buffer already output (left context)
        self._tail: torch.Tensor | None = None  # the last decode's audio just past what it output

    def push(self, latent: torch.Tensor) -> torch.Tensor:
        buffer = latent if self._buffer is None else torch.cat([self._buffer, latent], dim=-1)
        ready = buffer.shape[-1] - self._context  # frames that now have their full right context
        if ready <= self._done:
            self._buffer = buffer
            return latent.new_zeros((latent.shape[0], 2, 0))
        audio = self._emit(self._decoded(buffer), self._done, ready)
        keep_from = max(0, ready - self._context)
        self._buffer = buffer[..., keep_from:].clone()
        self._done = ready - keep_from
        return audio

    def finish(self) -> torch.Tensor:
        buffer, done = self._buffer, self._done
        self._buffer, self._done = None, 0
        if buffer is None or done >= buffer.shape[-1]:
            return torch.zeros((0 if buffer is None else buffer.shape[0], 2, 0))
        audio = self._emit(self._decoded(buffer), done, buffer.shape[-1])
        self._tail = None
        return audio

    def _decoded(self, latent: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            wave = self._decode(latent)
        if wave.shape[-1] != latent.shape[-1] * self._hop:
            raise ValueError(f"decode gave {wave.shape[-1]} samples for {latent.shape[-1]} frames")
        return wave

    def _emit(self, wave: torch.Tensor, first_frame: int, stop_frame: int) -> torch.Tensor:
        start, stop = first_frame * self._hop, stop_frame * self._hop
        audio = wave[..., start:stop].clone()
        if self._tail is not None:
            length = min(self._tail.shape[-1], audio.shape[-1])
            rising = torch.from_numpy(raised_cosine(length)).to(device=audio.device, dtype=audio.dtype)
            audio[..., :length] = rising * audio[..., :length] + (1.0 - rising) * self._tail[..., :length]
        self._tail = wave[..., stop : stop + self._crossfade].clone() if self._crossfade else None
        return audio
