"""Request -> take: conditions encoded once, sampling steps, decoding, loudness conformance.

`generate` is a generator: it yields a `sampler.Step` after every sampling step (for progress bars)
and returns the finished takes. Cancelling (``cancel`` set) raises `GenerationCancelled` at the next
step, before anything is decoded. Everything heavy runs without autograd; the generator never holds
a global mode switched on while it is suspended at a ``yield`` (the caller's thread stays as it was).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import torch

from foleystudio.audio.conformance import ConformanceResult, conform_to_curve
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import loudness_curve
from foleystudio.engine.builder import Engine
from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.guidance import guidance_branches, guided_velocity
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import NoiseStream, SamplerConfig, Step, sample
from foleystudio.engine.video_features import compress_motion, video_inputs
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100


@dataclass(frozen=True, eq=False)
class GeneratedTake:
    """One variation of a request: conformed audio, its measured curve, and what made it."""

    audio: np.ndarray  # float32 (2, n) at SAMPLE_RATE
    sample_rate: int
    measured_curve: LoudnessCurve
    target_curve: LoudnessCurve
    conformance: ConformanceResult
    request: GenerationRequest
    variation: int
    seed: int  # the seed that reproduces this variation alone (request.seed + variation)
    model_id: str


def target_curve(engine: Engine, request: GenerationRequest) -> LoudnessCurve:
    """The curve the take is conditioned on and conformed to: the request's, or a flat default."""
    if request.curve is not None:
        return request.curve
    return LoudnessCurve.constant(request.duration_s, engine.config.default_curve_lufs)


def _reference_audio(engine: Engine, request: GenerationRequest) -> torch.Tensor | None:
    if not request.audio_present:
        return None
    # Only the first seconds shape the reference tokens; reading more would cost time for nothing.
    seconds = engine.config.generator.conditioners.ref_max_seconds
    audio, _ = read_audio(request.reference_audio, sample_rate=SAMPLE_RATE, channels=2, duration_s=None)
    return torch.from_numpy(np.ascontiguousarray(audio[:, : int(seconds * SAMPLE_RATE)]))


@torch.no_grad()
def _video_conditions(engine: Engine, request: GenerationRequest) -> dict:
    if not request.video_present:
        return {}
    size = engine.config.video_encoder.frame_size
    span = video_inputs(request.video.path, request.video.start_s, request.duration_s, size=size)
    frames = torch.from_numpy(span.frames)[None].to(engine.device)
    features = engine.video_encoder(frames, frames_per_pass=64)[0].float().cpu()
    return {"video_features": features, "video_motion": compress_motion(torch.from_numpy(span.motion))}


def condition_inputs(engine: Engine, request: GenerationRequest) -> ConditionInputs:
    """The request's conditions in model terms (text ids, reference audio, video features, curve)."""
    generator = engine.generator
    return ConditionInputs(
        total_s=request.duration_s,
        text_ids=generator.tokenize(request.caption) if request.text_present else (),
        negative_text_ids=generator.tokenize(request.negative_prompt) if request.negative_prompt else (),
        reference_audio=_reference_audio(engine, request),
        lufs=target_curve(engine, request),
        **_video_conditions(engine, request),
    )


def _velocity_fn(engine: Engine, request: GenerationRequest, inputs: ConditionInputs, frames: int):
    branches = guidance_branches(inputs.present, request.guidance, inputs.has_negative_text)
    with torch.no_grad():
        rows = engine.generator.encode_conditions(inputs, branches, frames)
        rows = rows.to(engine.device, engine.dtype).repeat(request.variations)
    logger.info("sampling %d branches x %d variations, %d latent frames", len(branches), request.variations, frames)

    @torch.no_grad()
    def batched(t: float, x_all: torch.Tensor) -> torch.Tensor:
        time = torch.full((x_all.shape[0],), float(t), device=x_all.device)
        return engine.generator.velocity(x_all.to(engine.dtype), time, rows).float()

    return guided_velocity(batched, branches, request.variations)


def generate(engine: Engine, request: GenerationRequest,
             cancel: Callable[[], bool] | None = None) -> Generator[Step, None, list[GeneratedTake]]:
    """Yield a Step per sampling step; return one `GeneratedTake` per variation."""
    if request.duration_s > engine.config.window_s:
        raise UserInputError(
            f"takes longer than the model window ({engine.config.window_s:g} s) are not supported yet; "
            f"asked for {request.duration_s:g} s"
        )
    inputs = condition_inputs(engine, request)
    frames = engine.generator.latent_frames_for(request.duration_s)
    velocity = _velocity_fn(engine, request, inputs, frames)
    noise = NoiseStream(request.seed, request.variations).draw(
        (engine.config.generator.latent_channels, frames), engine.device)
    config = SamplerConfig(method=request.sampler, steps=request.steps, shift=engine.config.sampler.shift)
    latent = yield from sample(velocity, noise, config, cancel)
    with torch.no_grad():
        waves = engine.codec.decode(latent.float()).cpu().numpy()
    samples = int(round(request.duration_s * SAMPLE_RATE))
    curve = target_curve(engine, request)
    return [_finish(engine, request, waves[index, :, :samples], curve, index) for index in range(request.variations)]


def _finish(engine: Engine, request: GenerationRequest, wave: np.ndarray, curve: LoudnessCurve,
            variation: int) -> GeneratedTake:
    """Conform one decoded variation to the curve and measure what came out."""
    wave = np.nan_to_num(np.ascontiguousarray(wave, dtype=np.float32))
    result = conform_to_curve(wave, SAMPLE_RATE, curve, request.adherence)
    return GeneratedTake(
        audio=result.audio, sample_rate=SAMPLE_RATE, measured_curve=loudness_curve(result.audio, SAMPLE_RATE),
        target_curve=curve, conformance=result, request=request, variation=variation,
        seed=request.seed + variation, model_id=engine.model_id,
    )


def run_to_end(steps: Generator[Step, None, list[GeneratedTake]],
               on_step: Callable[[Step], None] | None = None) -> list[GeneratedTake]:
    """Drive a `generate` generator to its end (for the CLI and tests); returns the takes."""
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            return finished.value
        if on_step is not None:
            on_step(step)
