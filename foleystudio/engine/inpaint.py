"""Flow-matching inpainting and region regeneration.

Method (replacement inpainting for rectified flow, no RePaint resampling): the sampler starts from
noise z, and a known latent x_k is imposed on its frames by replacing the model's velocity there
with the velocity of the exact straight path, x_k - z. Because that path is a straight line and
every integrator step starts from z, the known frames of the state are (1 - t) z + t x_k at every
time the model is evaluated (Euler and Heun alike), which is the same as overwriting the known
region of x_t after every step, while the model keeps seeing a consistent x_t and conditions the
free frames on it. (Doing it through the velocity keeps the sampler a plain ODE integrator of any
fn(t, x).)

Region regeneration works on an excerpt around the region (region + context, at most the model
window), re-encodes it, regenerates the latent frames of the region (plus a margin of
``margin_frames``), decodes, and splices in the WAVEFORM domain: samples outside [start, end) are
copied from the original bit for bit; inside, a raised-cosine crossfade of ``crossfade_s`` at each
edge joins the original to the regenerated audio. Raised cosine (weights summing to 1) rather than
equal power, because next to the edges the regenerated audio continues the original (correlated
signals, where equal power would bulge by up to 3 dB) and because a convex mix can never exceed the
larger input, so a take kept under -1 dBTP stays under it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from foleystudio.engine.sampler import CancelSignal, SamplerConfig, Step, VelocityFn, make_noise, sample
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)


class LatentCodec(Protocol):
    """What region regeneration needs from a codec (engine contract)."""

    sample_rate: int
    hop_length: int

    def encode(self, wave: torch.Tensor) -> torch.Tensor: ...  # [B, 2, n] -> [B, C, ceil(n / hop)]

    def decode(self, latent: torch.Tensor) -> torch.Tensor: ...  # [B, C, T] -> [B, 2, T * hop]


def masked_velocity(
    velocity_fn: VelocityFn, known: torch.Tensor, keep: torch.Tensor, noise: torch.Tensor
) -> VelocityFn:
    """velocity_fn with ``known`` imposed on its exact path where ``keep`` is 1, free where it is 0.

    known and noise: [N, C, T] (noise is the tensor the sampler starts from); keep: broadcastable
    to them, e.g. [1, 1, T]. A fractional keep blends the two velocities, which imposes the known
    latent only softly (the model may pull such frames elsewhere): it is not a crossfade.
    """
    if known.shape != noise.shape:
        raise ValueError(f"known latent {tuple(known.shape)} and noise {tuple(noise.shape)} differ in shape")
    path_velocity = known - noise  # the exact straight path z -> x_k
    keep = keep.to(device=noise.device, dtype=noise.dtype)
    free = 1.0 - keep

    def velocity(t: float, x: torch.Tensor) -> torch.Tensor:
        return keep * path_velocity + free * velocity_fn(t, x)

    return velocity


def inpaint_latent(
    known: torch.Tensor,
    regen_start: int,
    regen_stop: int,
    velocity_fn: VelocityFn,
    config: SamplerConfig,
    seed: int,
    cancel: CancelSignal = None,
) -> Generator[Step, None, torch.Tensor]:
    """Regenerate latent frames [regen_start, regen_stop) of ``known`` [N, C, T]; the rest follows
    its exact path from the seed's noise. Yields Steps, returns the latent; cancels like sample()."""
    if not 0 <= regen_start < regen_stop <= known.shape[-1]:
        raise ValueError(f"frames {regen_start}-{regen_stop} are not inside a latent of {known.shape[-1]} frames")
    noise = make_noise(tuple(known.shape), seed, device=known.device)
    keep = torch.ones((1, 1, known.shape[-1]), device=known.device)
    keep[..., regen_start:regen_stop] = 0.0
    return (yield from sample(masked_velocity(velocity_fn, known, keep, noise), noise, config, cancel))


def raised_cosine(length: int) -> np.ndarray:
    """Weights rising strictly between 0 and 1 over ``length`` points: sin²(π/2 · (k + 1) / (length + 1))."""
    k = np.arange(1, length + 1, dtype=np.float64)
    return (np.sin(0.5 * np.pi * k / (length + 1)) ** 2).astype(np.float32)


@dataclass(frozen=True)
class RegionPlan:
    """Where a region regeneration reads, regenerates and splices, all in samples / latent frames.

    [start, stop): samples replaced (outside them the original is kept bit for bit).
    [excerpt_start, excerpt_stop): samples encoded; excerpt_start is a multiple of hop_length so
    the excerpt's latent frames are frames of the whole take, from excerpt_start // hop_length.
    [regen_start, regen_stop): latent frames of the excerpt that are regenerated.
    """

    total_samples: int
    sample_rate: int
    hop_length: int
    start: int
    stop: int
    excerpt_start: int
    excerpt_stop: int
    regen_start: int
    regen_stop: int
    crossfade_samples: int

    @property
    def excerpt_frames(self) -> int:
        return math.ceil((self.excerpt_stop - self.excerpt_start) / self.hop_length)

    @property
    def excerpt_first_frame(self) -> int:
        """Latent frame of the whole take where the excerpt's latent starts (for conditions)."""
        return self.excerpt_start // self.hop_length


def plan_region(
    total_samples: int,
    start_s: float,
    end_s: float,
    *,
    sample_rate: int,
    hop_length: int,
    crossfade_s: float = 0.02,
    margin_frames: int = 2,
    context_s: float = 5.0,
    max_frames: int | None = None,
) -> RegionPlan:
    """Check the range against the take and lay out the excerpt; bad ranges are UserInputError."""
    duration_s = total_samples / sample_rate
    _check_range(start_s, end_s, duration_s)
    if not (math.isfinite(crossfade_s) and crossfade_s >= 0):
        raise UserInputError(f"crossfade must be 0 s or more (got {crossfade_s} s)")
    start = round(start_s * sample_rate)
    stop = min(round(end_s * sample_rate), total_samples)
    if stop <= start:
        raise UserInputError(f"region {start_s:.6f}-{end_s:.6f} s is shorter than one sample")
    context = _context_samples(stop - start, context_s, sample_rate, hop_length, max_frames, margin_frames)
    excerpt_start = (max(0, start - context) // hop_length) * hop_length
    excerpt_stop = min(total_samples, stop + context)
    frames = math.ceil((excerpt_stop - excerpt_start) / hop_length)
    regen_start = max(0, (start - excerpt_start) // hop_length - margin_frames)
    regen_stop = min(frames, math.ceil((stop - excerpt_start) / hop_length) + margin_frames)
    crossfade = min(round(crossfade_s * sample_rate), (stop - start) // 2)
    plan = RegionPlan(
        total_samples,
        sample_rate,
        hop_length,
        start,
        stop,
        excerpt_start,
        excerpt_stop,
        regen_start,
        regen_stop,
        crossfade,
    )
    logger.debug("region plan: %s", plan)
    return plan


def _check_range(start_s: float, end_s: float, duration_s: float) -> None:
    if not (math.isfinite(start_s) and math.isfinite(end_s)):
        raise UserInputError(f"region start and end must be numbers (got {start_s} s and {end_s} s)")
    if start_s >= end_s:
        raise UserInputError(f"region start ({start_s:.3f} s) must be before its end ({end_s:.3f} s)")
    if start_s < 0 or end_s > duration_s + 1e-9:
        raise UserInputError(f"region {start_s:.3f}-{end_s:.3f} s lies outside the take (0-{duration_s:.3f} s)")


def _context_samples(
    region: int, context_s: float, sample_rate: int, hop: int, max_frames: int | None, margin: int
) -> int:
    """Context each side of the region, shrunk so the excerpt fits the model window."""
    if not (math.isfinite(context_s) and context_s >= 0):
        raise UserInputError(f"region context must be 0 s or more (got {context_s} s)")
    context = round(context_s * sample_rate)
    if max_frames is None:
        return context
    # The excerpt spans at most region + 2 context + (hop - 1) alignment samples.
    room = max_frames * hop - region - (hop - 1)
    if room < 2 * margin * hop:
        raise UserInputError(
            f"region of {region / sample_rate:.3f} s is too long to regenerate at once "
            f"(at most about {(max_frames - 2 * margin - 1) * hop / sample_rate:.3f} s)"
        )
    return min(context, room // 2)


def splice_region(original: np.ndarray, regenerated_excerpt: np.ndarray, plan: RegionPlan) -> np.ndarray:
    """A copy of ``original`` (2, n) with [start, stop) crossfaded to the regenerated excerpt."""
    spliced = original.copy()
    offset = plan.start - plan.excerpt_start
    length = plan.stop - plan.start
    new = regenerated_excerpt[:, offset : offset + length]
    if new.shape[1] != length:
        raise ValueError(
            f"regenerated excerpt has {regenerated_excerpt.shape[1]} samples, region needs {offset + length}"
        )
    weight = np.ones(length, dtype=np.float32)
    ramp = raised_cosine(plan.crossfade_samples)
    if ramp.size:
        weight[: ramp.size] = ramp
        weight[length - ramp.size :] = np.minimum(weight[length - ramp.size :], ramp[::-1])
    old = original[:, plan.start : plan.stop]
    spliced[:, plan.start : plan.stop] = (1.0 - weight) * old + weight * new
    return spliced


def regenerate_region(
    original_wave: np.ndarray,
    plan: RegionPlan,
    codec: LatentCodec,
    velocity_fn: VelocityFn,
    config: SamplerConfig,
    seed: int,
    cancel: CancelSignal = None,
    finish_excerpt: Callable[[np.ndarray], np.ndarray] | None = None,
    shape_region: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Generator[Step, None, np.ndarray]:
    """Regenerate ``plan``'s region of a take; yields Steps, returns the new (2, n) float32 wave.

    velocity_fn acts on the excerpt's latent [1, C, plan.excerpt_frames] (conditions for the
    excerpt start at take frame plan.excerpt_first_frame). ``finish_excerpt`` (e.g. loudness
    conformance) maps the decoded excerpt (2, m) to what is spliced in; it never touches samples
    outside the region. ``shape_region`` (e.g. the model's tone match) maps the regenerated frames'
    latent [1, C, regen frames] before decoding; the kept frames are not passed through it, having
    been shaped when the take was made. Raises GenerationCancelled like sample().
    """
    original_wave = _checked_wave(original_wave, plan)
    excerpt = torch.from_numpy(original_wave[:, plan.excerpt_start : plan.excerpt_stop].copy()).unsqueeze(0)
    with torch.no_grad():
        known = codec.encode(excerpt)
    if known.shape[-1] != plan.excerpt_frames:
        raise ValueError(f"codec gave {known.shape[-1]} latent frames for an excerpt of {plan.excerpt_frames}")
    latent = yield from inpaint_latent(known, plan.regen_start, plan.regen_stop, velocity_fn, config, seed, cancel)
    with torch.no_grad():
        if shape_region is not None:
            latent = latent.clone()
            latent[..., plan.regen_start : plan.regen_stop] = shape_region(latent[..., plan.regen_start : plan.regen_stop])
        decoded = codec.decode(latent)
    regenerated = decoded[0].detach().to(device="cpu", dtype=torch.float32).numpy()
    if finish_excerpt is not None:
        regenerated = finish_excerpt(regenerated)
    return splice_region(original_wave, regenerated, plan)


def _checked_wave(wave: np.ndarray, plan: RegionPlan) -> np.ndarray:
    wave = np.asarray(wave)
    if wave.ndim != 2 or wave.shape[0] != 2:
        raise UserInputError(f"region regeneration needs a stereo take shaped (2, samples), got {wave.shape}")
    if wave.shape[1] != plan.total_samples:
        raise ValueError(f"take has {wave.shape[1]} samples but the region was planned for {plan.total_samples}")
    return wave.astype(np.float32, copy=False)
