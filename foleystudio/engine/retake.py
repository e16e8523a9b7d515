"""Region regeneration of a finished take: a new version of [start, end) s, the rest kept bit for bit.

The request that made the take supplies the conditions (prompts, video, curve, guidance), cut to the
excerpt around the region exactly as a long take's window is (`ConditionInputs.window`), so the new
stretch follows the same picture and loudness curve at the same times. Flow-matching inpainting
(`inpaint.regenerate_region`) keeps the excerpt outside the region on its exact path, so the model
continues the take's own sound into the region. The decoded excerpt is conformed to the request's
curve (the region only: conforming the whole take again would change samples outside it), then
spliced in with short raised-cosine crossfades. Samples outside the region are the original's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Generator

import numpy as np

from foleystudio.audio.conformance import ConformanceResult, conform_to_curve
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.loudness import loudness_curve
from foleystudio.engine.builder import Engine
from foleystudio.engine.inpaint import RegionPlan, plan_region, regenerate_region
from foleystudio.engine.pipeline import (
    SAMPLE_RATE,
    GeneratedTake,
    PromptReading,
    condition_inputs,
    read_prompt,
    target_curve,
    tone_match_for,
    velocity_for,
)
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import SamplerConfig, Step
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)


def regenerate(
    engine: Engine,
    request: GenerationRequest,
    audio: np.ndarray,
    start_s: float,
    end_s: float,
    seed: int | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Generator[Step, None, GeneratedTake]:
    """Regenerate [start_s, end_s) of ``audio`` (2, n) at 44.1 kHz, a take made from ``request``.

    ``seed`` picks the new version (default: the request's seed + 1, so it differs from the take's
    first variation). Yields a Step per sampling step; cancelling raises `GenerationCancelled`
    before decoding. Returns the whole take with the region replaced.
    """
    audio = _checked_take(audio, request)
    if request.reference_likeness > 0:
        # The region would be the generator's own sound inside a take that is its reference's.
        raise UserInputError(
            f"this take was made with reference likeness {request.reference_likeness:g}, and a stretch of "
            f"such a take cannot be regenerated yet: make a new take (another seed) instead")
    single = dataclasses.replace(request, variations=1, seed=request.seed + 1 if seed is None else seed)
    plan = plan_region(audio.shape[1], start_s, end_s, sample_rate=SAMPLE_RATE,
                       hop_length=engine.codec.hop_length, max_frames=_window_frames(engine))
    excerpt_s = (plan.excerpt_start / SAMPLE_RATE, (plan.excerpt_stop - plan.excerpt_start) / SAMPLE_RATE)
    reading = read_prompt(engine, single)
    inputs = condition_inputs(engine, single, reading).window(*excerpt_s)
    velocity = velocity_for(engine, single, inputs, plan.excerpt_frames)
    config = SamplerConfig(method=single.sampler, steps=single.steps, shift=engine.config.sampler.shift)
    curve = _excerpt_curve(target_curve(engine, request), *excerpt_s)
    conformed: list[ConformanceResult] = []

    def conform(excerpt: np.ndarray) -> np.ndarray:
        result = conform_to_curve(excerpt[:, : plan.excerpt_stop - plan.excerpt_start], SAMPLE_RATE, curve,
                                  single.adherence)
        conformed.append(result)
        return result.audio

    logger.info("regenerating %.3f-%.3f s of a %.1f s take (seed %d)", start_s, end_s,
                audio.shape[1] / SAMPLE_RATE, single.seed)
    wave = yield from regenerate_region(audio, plan, engine.codec, velocity, config, single.seed, cancel,
                                        finish_excerpt=conform, shape_region=tone_match_for(engine, inputs))
    return _take(engine, single, wave, plan, conformed[0], reading)


def _window_frames(engine: Engine) -> int:
    config = engine.config.long_take
    return engine.generator.latent_frames_for(config.window_s)


def _checked_take(audio, request: GenerationRequest) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise UserInputError(f"region regeneration needs a stereo take shaped (2, samples), got {audio.shape}")
    expected = int(round(request.duration_s * SAMPLE_RATE))
    if audio.shape[1] != expected:
        raise UserInputError(
            f"the take has {audio.shape[1] / SAMPLE_RATE:.3f} s of audio but its request asks for "
            f"{request.duration_s:.3f} s: regenerate with the request that made the take"
        )
    if not np.isfinite(audio).all():
        raise UserInputError("the take contains NaN or infinite samples")
    return audio.astype(np.float32, copy=False)


def _excerpt_curve(curve: LoudnessCurve, offset_s: float, duration_s: float) -> LoudnessCurve:
    """The take's curve over the excerpt, on 1/6 s frames from the excerpt's start."""
    frames = max(1, int(np.ceil(duration_s * 6.0 - 1e-9)))
    times = offset_s + np.arange(frames) / 6.0
    left, right = curve.values_at(times)
    return LoudnessCurve.uniform(left, right, rate_hz=6.0)


def _take(engine: Engine, request: GenerationRequest, wave: np.ndarray, plan: RegionPlan,
          conformance: ConformanceResult, reading: PromptReading) -> GeneratedTake:
    wave = np.ascontiguousarray(wave, dtype=np.float32)
    return GeneratedTake(
        audio=wave, sample_rate=SAMPLE_RATE, measured_curve=loudness_curve(wave, SAMPLE_RATE),
        target_curve=target_curve(engine, request), conformance=conformance, request=request, variation=0,
        seed=request.seed, model_id=engine.model_id,
        region_s=(plan.start / SAMPLE_RATE, plan.stop / SAMPLE_RATE), heard_as=reading.heard_as,
        bank_reference=reading.bank_caption,
    )
