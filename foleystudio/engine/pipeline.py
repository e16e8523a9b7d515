"""Request -> take: conditions encoded once, sampling steps, decoding, loudness conformance.

`generate` is a generator: it yields a `sampler.Step` after every sampling step (for progress bars)
and returns the finished takes. Cancelling (``cancel`` set) raises `GenerationCancelled` at the next
step, before anything more is decoded. Everything heavy runs without autograd; the generator never
holds a global mode switched on while it is suspended at a ``yield`` (the caller's thread stays as it was).

Takes longer than the model window (``EngineConfig.long_take``) are generated window by window
(`long_takes.long_take`: each window continues the previous one's tail and the latents crossfade),
with every window's conditions cut from the whole take's (`ConditionInputs.window`), and decoded as
the windows finish (`long_takes.StreamingDecoder`). Sampling memory is that of one window; the
finished audio (what the take is) grows with the take.
"""

from __future__ import annotations

import dataclasses
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
from foleystudio.engine.codec import AnalyticCodec
from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.guidance import anchored_branches, guidance_branches, guided_velocity
from foleystudio.engine.long_takes import (
    LatentPiece,
    LongTakePlan,
    StreamingDecoder,
    Window,
    long_take,
)
from foleystudio.engine.loudness_anchor import loudness_anchor
from foleystudio.engine.model import prompt_trained
from foleystudio.engine.reference_bank import Retrieval
from foleystudio.engine.reference_layout import lay_out, start_point
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import NoiseStream, SamplerConfig, Step, sample
from foleystudio.engine.tone_match import ToneMatch
from foleystudio.engine.video_features import iter_video_windows
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
# Video is read and encoded this many frames at a time (60 s at 8 fps), so a long take's video
# never sits in memory as pixels; only its per-frame features (a few kB a frame) are kept.
VIDEO_CHUNK_FRAMES = 480


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
    # Set when this take is an earlier take with [start, end) s regenerated (`retake.regenerate`);
    # ``conformance`` then describes the regenerated excerpt, ``measured_curve`` the whole take.
    region_s: tuple[float, float] | None = None
    # What the model's text category head read the prompt as (category, probability); None when
    # there was no text or the model has no head. Shown with the take, so a designer can see when a
    # prompt's words were not understood.
    heard_as: tuple[str, float] | None = None
    # The caption of the bank sound the prompt retrieved as its reference (`read_prompt`);
    # None when no bank sound was used. Shown with the take: it is part of what made it.
    bank_reference: str | None = None
    # How many recordings of the reference the take's layout drew its events from (reference
    # likeness above 0: the bank's entry and its variants, or the user's one sound); None without.
    reference_recordings: int | None = None

    def parameters(self) -> dict:
        """Every parameter that made this take, as JSON values (plus the target curve): what a
        project's `Take` records so the take can be made again."""
        request = self.request
        return {
            "duration_s": request.duration_s,
            "on_screen_prompt": request.on_screen_prompt,
            "off_screen_prompt": request.off_screen_prompt,
            "negative_prompt": request.negative_prompt,
            "reference_audio": None if request.reference_audio is None else str(request.reference_audio),
            "video": None if request.video is None else str(request.video.path),
            "video_start_s": None if request.video is None else request.video.start_s,
            "follow_video": request.follow_video,
            "curve": self.target_curve,
            "adherence": request.adherence,
            "reference_likeness": request.reference_likeness,
            "video_guidance": request.guidance.video,
            "text_guidance": request.guidance.text,
            "audio_guidance": request.guidance.audio,
            "steps": request.steps,
            "sampler": request.sampler,
            "seed": self.seed,
            "variation": self.variation,
            "model": self.model_id,
            "device": request.device,
            "region_s": None if self.region_s is None else list(self.region_s),
            "heard_as": None if self.heard_as is None else f"{self.heard_as[0]} ({self.heard_as[1]:.0%})",
            "bank_reference": self.bank_reference,
            "reference_recordings": self.reference_recordings,
        }


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
def _reference_conditions(engine: Engine, wave: torch.Tensor | None) -> dict:
    """The reference as this model reads it: the waveform, or its codec latent (``ref_reads_latent``)."""
    if wave is None:
        return {}
    if not engine.config.generator.conditioners.ref_reads_latent:
        return {"reference_audio": wave}
    latent = engine.codec.encode(wave[None].to(engine.device, torch.float32))[0]
    return {"reference_latent": latent.float().cpu()}


@dataclass(frozen=True)
class PromptReading:
    """What the model makes of a request's words, read once per request (not once per variation):
    the category its text head hears, and the bank sound retrieved as the reference."""

    heard_as: tuple[str, float] | None = None  # (category, probability); None without text or head
    retrieval: Retrieval | None = None  # the bank entry used as the reference sound, if any

    @property
    def bank_caption(self) -> str | None:
        return None if self.retrieval is None else self.retrieval.caption


def read_prompt(engine: Engine, request: GenerationRequest) -> PromptReading:
    """The request's `PromptReading`: one pass of the text head and at most one bank retrieval."""
    if not request.text_present:
        return PromptReading()
    heard = engine.generator.text_category(engine.generator.tokenize(request.caption))
    return PromptReading(heard_as=heard, retrieval=_retrieval(engine, request, heard))


def _retrieval(engine: Engine, request: GenerationRequest, heard: tuple[str, float] | None) -> Retrieval | None:
    bank = engine.reference_bank
    if bank is None or request.audio_present:
        return None
    if not prompt_trained(engine.generator.config.trained_prompts, "audio"):
        return None
    if not engine.config.generator.conditioners.ref_reads_latent or bank.channels != engine.generator.config.latent_channels:
        return None
    prompt = " ".join((request.on_screen_prompt, request.off_screen_prompt))
    return bank.retrieve(prompt, heard[0] if heard else None)


def retrieved_reference(engine: Engine, request: GenerationRequest) -> Retrieval | None:
    """The bank entry a text-only request takes as its reference sound, or None: the model has no
    bank or was not trained with references, the request gives its own reference sound, or has no
    text, or the text matches nothing."""
    return read_prompt(engine, request).retrieval


def _retrieved_reference(engine: Engine, found: Retrieval | None) -> dict:
    if found is None:
        return {}
    logger.info("reference sound from the model's bank: %r (matched by %s)", found.caption, found.how)
    return {"reference_latent": engine.reference_bank.latent(found.index)}


@torch.no_grad()
def _video_conditions(engine: Engine, request: GenerationRequest) -> dict:
    if not request.video_present:
        return {}
    size = engine.config.video_encoder.frame_size
    windows = iter_video_windows(request.video.path, request.video.start_s, request.duration_s,
                                 size=size, window_frames=VIDEO_CHUNK_FRAMES)
    features, motion, covered = [], [], 0
    for window in windows:
        fresh = slice(covered - window.first_index, None)  # windows may overlap: keep new frames only
        frames = torch.from_numpy(window.frames[fresh])[None].to(engine.device)
        features.append(engine.video_encoder(frames, frames_per_pass=64)[0].float().cpu())
        motion.append(torch.from_numpy(window.motion[fresh]))
        covered = window.first_index + len(window)
    # Raw motion: the video conditioner compresses it itself (as training feeds it).
    return {"video_features": torch.cat(features), "video_motion": torch.cat(motion)}


_PROMPT_NAMES = {"video": "a picture to follow", "text": "text prompts", "audio": "a reference sound"}
_PROMPT_FIXES = {"video": "turn off follow-video", "text": "clear the prompts", "audio": "clear the reference sound"}


def check_prompts_trained(engine: Engine, request: GenerationRequest) -> None:
    """Refuse a prompt the model was never trained with (`GeneratorConfig.trained_prompts`): its
    encoder still has random weights, so it would spoil the take rather than guide it."""
    trained = engine.generator.config.trained_prompts
    untrained = [name for name in _PROMPT_NAMES if name in request.modalities and not prompt_trained(trained, name)]
    if untrained:
        raise UserInputError(
            f"model {engine.model_id!r} was not trained with {_PROMPT_NAMES[untrained[0]]}: "
            f"{_PROMPT_FIXES[untrained[0]]}, or choose a model trained with one"
        )


def condition_inputs(engine: Engine, request: GenerationRequest,
                     reading: PromptReading | None = None) -> ConditionInputs:
    """The request's conditions in model terms (text ids, reference audio, video features, curve).
    ``reading``: the request's `read_prompt`, when the caller has it already."""
    check_prompts_trained(engine, request)
    if reading is None:
        reading = read_prompt(engine, request)
    generator = engine.generator
    return ConditionInputs(
        total_s=request.duration_s,
        text_ids=generator.tokenize(request.caption) if request.text_present else (),
        negative_text_ids=generator.tokenize(request.negative_prompt) if request.negative_prompt else (),
        **(_reference_conditions(engine, _reference_audio(engine, request)) or _retrieved_reference(engine, reading.retrieval)),
        lufs=target_curve(engine, request),
        **_video_conditions(engine, request),
    )


def velocity_for(engine: Engine, request: GenerationRequest, inputs: ConditionInputs, frames: int):
    """The guided velocity fn(t, x [variations, C, frames]) for these conditions: every guidance
    branch batched into one generator forward per evaluation."""
    branches, anchor = _guidance(engine, request, inputs)
    with torch.no_grad():
        rows = engine.generator.encode_conditions(inputs, branches, frames)
        rows = rows.to(engine.device, engine.dtype).repeat(request.variations)
    logger.info("sampling %d branches x %d variations, %d latent frames", len(branches), request.variations, frames)

    @torch.no_grad()
    def batched(t: float, x_all: torch.Tensor) -> torch.Tensor:
        time = torch.full((x_all.shape[0],), float(t), device=x_all.device)
        return engine.generator.velocity(x_all.to(engine.dtype), time, rows).float()

    return guided_velocity(batched, branches, request.variations, anchor)


def _guidance(engine: Engine, request: GenerationRequest, inputs: ConditionInputs):
    """The branches to run and, for a model whose guidance keeps loudness, the anchor that does it."""
    anchored = None
    if engine.config.guidance_keeps_loudness:
        anchored = anchored_branches(inputs.present, request.guidance, inputs.has_negative_text)
    if anchored is None:
        return guidance_branches(inputs.present, request.guidance, inputs.has_negative_text), None
    branches, reference_weights = anchored
    return branches, loudness_anchor(engine, reference_weights)


def take_plan(engine: Engine, duration_s: float) -> LongTakePlan:
    """The windows a take of ``duration_s`` is generated in (one when it fits the model window)."""
    frames = engine.generator.latent_frames_for(duration_s)
    return engine.config.long_take.plan(frames, engine.generator.latent_rate)


def generate(engine: Engine, request: GenerationRequest,
             cancel: Callable[[], bool] | None = None) -> Generator[Step, None, list[GeneratedTake]]:
    """Yield a Step per sampling step; return one `GeneratedTake` per variation."""
    reading = read_prompt(engine, request)
    inputs = condition_inputs(engine, request, reading)
    plan = take_plan(engine, request.duration_s)
    config = SamplerConfig(method=request.sampler, steps=request.steps, shift=engine.config.sampler.shift)
    noise = NoiseStream(request.seed, request.variations)
    channels = engine.config.generator.latent_channels
    toned = tone_match_for(engine, inputs)
    request = _likeness_used(engine, request, inputs, plan)
    recordings = None
    if len(plan.windows) == 1:
        velocity = velocity_for(engine, request, inputs, plan.total_frames)
        start = noise.draw((channels, plan.total_frames), engine.device)
        if request.reference_likeness > 0:
            references = _reference_latents(engine, inputs, reading)
            recordings = len(references)
            latent = yield from _likened(engine, request, references, velocity, noise, start, config, cancel)
        else:
            latent = yield from sample(velocity, start, config, cancel)
        with torch.no_grad():
            waves = engine.codec.decode(toned(latent.float())).cpu().numpy()
    else:
        logger.info("long take: %.1f s in %d windows", request.duration_s, len(plan.windows))
        rate = engine.generator.latent_rate

        def window_velocity(window: Window):
            window_inputs = inputs.window(window.start / rate, window.frames / rate)
            return velocity_for(engine, request, window_inputs, window.frames)

        pieces = long_take(plan, window_velocity, noise, channels, config, engine.device, cancel)
        waves = yield from _decoded_stream(engine, pieces, toned)
    samples = int(round(request.duration_s * SAMPLE_RATE))
    curve = target_curve(engine, request)
    return [_finish(engine, request, waves[index, :, :samples], curve, index, reading, recordings)
            for index in range(request.variations)]


def _likeness_used(engine: Engine, request: GenerationRequest, inputs: ConditionInputs,
                   plan: LongTakePlan) -> GenerationRequest:
    """The request as it will be made: with no reference sound to keep (none given, none found in
    the bank: another model, or words that match nothing) the likeness is 0, and the take says so."""
    if request.reference_likeness == 0:
        return request
    if not isinstance(engine.codec, AnalyticCodec):
        raise UserInputError(f"model {engine.model_id!r} cannot keep a reference's likeness (its codec is not the "
                             f"analytic one, whose latent is band levels): set the likeness to 0")
    if inputs.reference_latent is None and inputs.reference_audio is None:
        logger.warning("reference likeness %g ignored: no reference sound (none given, none found in the "
                       "model's bank)", request.reference_likeness)
        return dataclasses.replace(request, reference_likeness=0.0)
    if len(plan.windows) > 1:
        raise UserInputError(
            f"reference likeness works on takes up to {engine.config.window_s:g} s (this one is "
            f"{request.duration_s:g} s): generate it in shorter stretches, or set the likeness to 0")
    return request


def _likened(engine: Engine, request: GenerationRequest, references: list[torch.Tensor], velocity,
             noise: NoiseStream, start: torch.Tensor, config: SamplerConfig, cancel):
    """Two passes (`reference_layout`): the usual take, then a take that starts from the reference
    laid along it at flow time ``reference_likeness`` (none at 1). Steps are numbered over the
    passes; each variation's layout is shuffled by its own seed, so it remakes alone."""
    likeness = request.reference_likeness
    total = config.steps if likeness >= 1.0 else 2 * config.steps  # at 1 there is no second pass
    first = yield from _numbered(sample(velocity, start, config, cancel), 0, total)
    rate = engine.generator.latent_rate
    with torch.no_grad():
        layout = torch.stack([lay_out(engine.codec, references, take.float(), rate, seed=request.seed + index)
                              for index, take in enumerate(first)])
    if likeness >= 1.0:
        return layout
    fresh = noise.draw(tuple(first.shape[1:]), engine.device)
    second = sample(velocity, start_point(fresh, layout.to(fresh.dtype), likeness), config, cancel, start=likeness)
    return (yield from _numbered(second, config.steps, total))


@torch.no_grad()
def _reference_latents(engine: Engine, inputs: ConditionInputs, reading: PromptReading) -> list[torch.Tensor]:
    """The reference sound as the codec's latents [C, frames]: the bank's entry and its variants
    (other recordings of its caption), or the user's sound (encoded for a model that reads its
    waveform)."""
    if reading.retrieval is not None:
        sounds = engine.reference_bank.sounds(reading.retrieval.index)
        return [sound.to(engine.device, torch.float32) for sound in sounds]
    if inputs.reference_latent is not None:
        return [inputs.reference_latent.to(engine.device, torch.float32)]
    wave = inputs.reference_audio.to(engine.device, torch.float32)
    return [engine.codec.encode(wave.expand(2, -1)[None] if wave.shape[0] == 1 else wave[None])[0].float()]


def _numbered(steps: Generator[Step, None, torch.Tensor], offset: int, total: int):
    """Re-yield a pass's Steps numbered within a run of ``total`` steps; return the pass's latent."""
    while True:
        try:
            step = next(steps)
        except StopIteration as finished:
            return finished.value
        yield dataclasses.replace(step, i=step.i + offset, total=total)


def tone_match_for(engine: Engine, inputs: ConditionInputs) -> Callable[[torch.Tensor], torch.Tensor]:
    """What the final latent goes through before decoding: the model's tone match towards the
    request's reference sound (its own or the bank's, as the codec's latent), or nothing."""
    strength = engine.config.tone_match
    if strength <= 0 or inputs.reference_latent is None:
        return lambda latent: latent
    return ToneMatch(engine.codec, inputs.reference_latent.to(engine.device), strength)


def _decoded_stream(engine: Engine, pieces: Generator[Step | LatentPiece, None, None],
                    toned: Callable[[torch.Tensor], torch.Tensor]):
    """Re-yield the Steps of a long take and decode its latent pieces as they come: (N, 2, n) float32."""
    decoder = StreamingDecoder(engine.codec.decode, engine.codec.hop_length,
                               context_frames=engine.codec.chunking.decode_context)
    blocks = []
    for item in pieces:
        if isinstance(item, Step):
            yield item
            continue
        with torch.no_grad():
            blocks.append(decoder.push(toned(item.latent.float())).cpu().numpy())
    with torch.no_grad():
        blocks.append(decoder.finish().cpu().numpy())
    return np.concatenate(blocks, axis=-1)


def _finish(engine: Engine, request: GenerationRequest, wave: np.ndarray, curve: LoudnessCurve,
            variation: int, reading: PromptReading, recordings: int | None = None) -> GeneratedTake:
    """Conform one decoded variation to the curve and measure what came out; ``recordings``: how
    many recordings of the reference its layout drew from (reference likeness), else None."""
    wave = np.nan_to_num(np.ascontiguousarray(wave, dtype=np.float32))
    result = conform_to_curve(wave, SAMPLE_RATE, curve, request.adherence)
    return GeneratedTake(
        audio=result.audio, sample_rate=SAMPLE_RATE, measured_curve=loudness_curve(result.audio, SAMPLE_RATE),
        target_curve=curve, conformance=result, request=request, variation=variation,
        seed=request.seed + variation, model_id=engine.model_id, heard_as=reading.heard_as,
        bank_reference=reading.bank_caption, reference_recordings=recordings,
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
