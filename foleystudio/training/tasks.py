"""The training tasks on the engine, for `foleystudio.training.trainer.train`.

* `CodecTask`: the learned codec (`codec.loss.codec_loss`: stereo MR-STFT + waveform L1 + KL) on
  random crops of cached waveform excerpts. A preset whose codec is the analytic one is given a
  learned codec of the matching size (`with_learned_codec`); the generator is refitted to its latent.
* `RefinerTask`: the analytic codec's refiner (`codec.refiner`), the within-band spectral shape its
  decoder imposes, on random crops of cached waveform excerpts; the latent does not change.
* `PhaseTask`: the analytic codec's phase decoder (`codec.phase_decoder`), which replaces
  Griffin-Lim's phase, on random crops of cached waveform excerpts; the latent and the magnitude
  it phases do not change.
* `DiTTask`: the generator (`flow.flow_matching_loss`, rectified flow with Tri-Ergon's condition
  dropout) on cached latents + 6 Hz curves + caption tokens, random crops of ``crop_seconds``.
  Items without latents (or with another codec's) are encoded once with the engine's codec. With
  ``video_probability`` > 0 that share of crops also gets a picture: the clip's rendered AV pair
  (`av_pairs.render_frames`, drawn again from the cached curve and onsets), read at 8 fps through
  the frozen frame encoder plus raw motion energy, exactly as the pipeline reads a video file.
  With ``reference_probability`` > 0 that share gets a reference sound too (`DiTTask.reference_for`),
  given as the cached latent of another clip with the same caption; the generator must read
  references as latents (`with_latent_references`). With ``category_balance`` > 0 the items of rare
  sound categories come round more often in an epoch (`balance.balanced_schedule`). With
  ``tone_weight`` > 0 the loss also scores the band shape of the clean estimate against the crop's
  (`FlowConfig.tone_weight`; analytic codecs only).
* `LufsTask`: the LUFS predictor (`lufs_predictor.lufs_loss`) on (frames [T, H, W, 3] uint8 at 6 fps,
  curve [T, 2] LUFS) pairs from any source (rendered AV pairs, tests' synthetic frames).

Every task holds a whole `Engine` (built from a preset or loaded from a model folder for fine-tuning)
and trains one component of it; `export` writes the whole engine with `builder.save_engine`, so the
folder loads strictly with `builder.load_engine`. The model card records the data, the steps and the
final metrics. Adversarial codec terms (Tri-Ergon's discriminator) are not trained here yet.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from foleystudio.audio.loudness_programme import MOMENTARY_SEGMENTS, SEGMENT_S
from foleystudio.engine.codec.learned import LearnedCodec, LearnedCodecConfig
from foleystudio.engine.codec.metrics import ACTIVE_LUFS
from foleystudio.engine.config import EngineConfig, codec_latent
from foleystudio.engine.request import compose_caption
from foleystudio.errors import UserInputError
from foleystudio.training.balance import balanced_schedule

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
# Training references (`DiTTask.reference_for`): how much of the partner clip, and how far its level moves.
REFERENCE_SECONDS = 3.0
REFERENCE_GAIN_DB = 6.0
# A learned codec for the tiny preset: the whole codec path trains on CPU in seconds.
TINY_LEARNED_CODEC = LearnedCodecConfig(
    latent_channels=16, width=32, encoder_blocks=1, encoder_latent_blocks=1, decoder_latent_blocks=1,
    decoder_blocks=1, mlp_ratio=2,
)


def with_learned_codec(config: EngineConfig, codec: LearnedCodecConfig | None = None) -> EngineConfig:
    """``config`` with a learned codec (tiny -> TINY_LEARNED_CODEC, else the small one) and the
    generator fitted to its latent."""
    from foleystudio.engine.codec.learned import SMALL_LEARNED_CODEC

    if isinstance(config.codec, LearnedCodecConfig) and codec is None:
        return config
    codec = codec or (TINY_LEARNED_CODEC if config.name.startswith("tiny") else SMALL_LEARNED_CODEC)
    channels, rate = codec_latent(codec)
    return dataclasses.replace(config, name=f"{config.name}-learned" if "learned" not in config.name else config.name,
                               codec=codec, generator=config.generator.for_codec(channels, rate))


@dataclass(frozen=True)
class DataInfo:
    """What the model card says about the training data."""

    source: str = "synthetic"
    clips: int = 0
    hours: float = 0.0


def _eval_prefix(held_out: bool) -> str:
    # Without held-out data the periodic evaluation runs on four training items: say so in the name.
    return "val" if held_out else "train4"


class _Task:
    """Shared plumbing: device, data order helper, export with a model card."""

    name = "task"
    component = ""

    def __init__(self, engine, data: DataInfo) -> None:
        self.engine = engine
        self.data = data
        self.device = torch.device("cpu")

    def modules(self) -> dict[str, nn.Module]:
        return {self.component: getattr(self.engine, self.component)}

    def to(self, device) -> None:
        self.device = torch.device(device)
        for module in self.engine.components().values():
            # No dtype: the codec's complex DSP buffers must keep theirs (engines build in float32).
            module.to(device=self.device)
        self.engine.device = self.device

    def item_count(self) -> int:
        raise NotImplementedError

    def make_batch(self, indices: Sequence[int], generator: torch.Generator):
        raise NotImplementedError

    def batches(self, rng: torch.Generator, batch_size: int = 4) -> Iterator:
        """Endless shuffled batches (a convenience; the trainer uses `make_batch` with its resumable order)."""
        while True:
            order = torch.randperm(self.item_count(), generator=rng).tolist()
            for start in range(0, len(order) - batch_size + 1, batch_size):
                yield self.make_batch(order[start : start + batch_size], rng)
            if len(order) < batch_size:
                yield self.make_batch([order[i % len(order)] for i in range(batch_size)], rng)

    def model_card(self, steps: int, metrics: dict[str, float], extra: str = "") -> str:
        from foleystudio.engine.model import parameter_count

        lines = [
            f"# FoleyStudio model ({self.engine.config.name}, {self.name} trained)", "",
            f"Trained with `foleystudio train {self.name}`: the `{self.component}` component "
            f"({parameter_count(self.modules()[self.component]) / 1e6:.2f} M parameters); "
            "the other components are as they were in the starting engine.", "",
            "## Data", "",
            f"- source: {self.data.source}", f"- clips: {self.data.clips}", f"- hours of audio: {self.data.hours:.3f}",
            "", "## Training", "", f"- optimiser steps: {steps}", *([extra] if extra else []),
            "", "## Metrics (final, EMA weights)", "",
            *[f"- {name}: {value:.5g}" for name, value in sorted(metrics.items())], "",
        ]
        return "\n".join(lines)

    def export(self, folder, *, steps: int, metrics: dict[str, float], extra: str = "", overwrite: bool = False) -> Path:
        """Write the engine (with this task's current weights) as a model folder."""
        from foleystudio.engine.builder import save_engine

        for module in self.engine.components().values():
            module.eval()
        return save_engine(self.engine, folder, self.model_card(steps, metrics, extra), overwrite=overwrite)

    def evaluate(self, generator: torch.Generator) -> dict[str, float]:
        return {}


# ---- codec -----------------------------------------------------------------------------------


class _WaveCropTask(_Task):
    """A codec-side task on random crops of cached waveform excerpts (whole latent frames long);
    held-out excerpts (or four training ones) for the periodic evaluation, at most ``val_limit``."""

    val_limit: int | None = None

    def __init__(self, engine, waves: Sequence[torch.Tensor], val_waves: Sequence[torch.Tensor],
                 segment_seconds: float, data: DataInfo) -> None:
        super().__init__(engine, data)
        if not waves:
            raise ValueError(f"{self.name} training needs waveform excerpts: build the feature cache with "
                             f"wave_seconds > 0")
        hop = engine.codec.hop_length
        self.segment = max(hop, int(round(segment_seconds * SAMPLE_RATE / hop)) * hop)
        self.waves = [_stereo(w) for w in waves]
        self.val_waves = [_stereo(w) for w in (val_waves or waves[:4])][: self.val_limit]
        self.eval_prefix = _eval_prefix(bool(val_waves))

    def item_count(self) -> int:
        return len(self.waves)

    def make_batch(self, indices, generator) -> torch.Tensor:
        return _random_crops([self.waves[index] for index in indices], self.segment, generator)

    def _val_batch(self) -> torch.Tensor:
        return torch.stack([_crop(w, 0, self.segment) for w in self.val_waves]).to(self.device)


class CodecTask(_WaveCropTask):
    name = "codec"
    component = "codec"

    def __init__(self, engine, waves: Sequence[torch.Tensor], val_waves: Sequence[torch.Tensor] = (),
                 segment_seconds: float = 0.75, data: DataInfo = DataInfo()) -> None:
        if not isinstance(engine.codec, LearnedCodec):
            raise ValueError("codec training needs an engine with a learned codec (see with_learned_codec)")
        super().__init__(engine, waves, val_waves, segment_seconds, data)

    def loss(self, batch, generator):
        from foleystudio.engine.codec.loss import codec_loss

        parts = codec_loss(self.engine.codec, batch.to(self.device), generator)
        return parts.total, {name: float(getattr(parts, name).detach()) for name in ("spectral", "waveform", "kl")}

    def evaluate(self, generator):
        from foleystudio.engine.codec.metrics import mr_stft_distance

        wave = self._val_batch()
        decoded = self.engine.codec.decode(self.engine.codec.encode(wave))[..., : wave.shape[-1]]
        return {f"{self.eval_prefix}_mr_stft": float(mr_stft_distance(wave, decoded))}


def _stereo(wave: torch.Tensor) -> torch.Tensor:
    wave = torch.as_tensor(wave, dtype=torch.float32)
    return wave.expand(2, -1).contiguous() if wave.shape[0] == 1 else wave


def _crop(wave: torch.Tensor, start: int, segment: int) -> torch.Tensor:
    """``segment`` samples of ``wave`` [2, n] from ``start``, zero-padded past its end."""
    piece = wave[:, start : start + segment]
    return nn.functional.pad(piece, (0, segment - piece.shape[1]))


def _random_crops(waves: Sequence[torch.Tensor], segment: int, generator: torch.Generator) -> torch.Tensor:
    """One crop of ``segment`` samples at a random start from each wave, stacked [B, 2, segment]."""
    crops = []
    for wave in waves:
        room = max(0, wave.shape[1] - segment)
        start = int(torch.randint(0, room + 1, (1,), generator=generator)) if room else 0
        crops.append(_crop(wave, start, segment))
    return torch.stack(crops)


# ---- the analytic codec's refiner ------------------------------------------------------------

DEFAULT_REFINER_WIDTH = 256  # foley-small's (1.9 M parameters over 32 bands and 1025 bins)
DECODER_EVAL_EXCERPTS = 32  # held-out excerpts a decoder task's periodic evaluation decodes
# BS.1770's momentary window (400 ms): steadier than the curve's 1/6 s, which the bench's
# loudness-curve error reads, while still following a take's level from moment to moment.
LOUDNESS_WINDOW_S = MOMENTARY_SEGMENTS * SEGMENT_S


def with_refiner(engine, width: int = DEFAULT_REFINER_WIDTH):
    """``engine`` with an untrained refiner (``codec.refiner``) in its analytic codec, projection
    "bins" (the refiner's shape is what Griffin-Lim imposes); every other weight kept. An engine
    whose codec already has a refiner is returned as it is."""
    from foleystudio.engine.codec.analytic import AnalyticCodecConfig

    codec = engine.config.codec
    if not isinstance(codec, AnalyticCodecConfig):
        raise UserInputError("the refiner belongs to the analytic codec; this model has a learned codec")
    if codec.refiner_width:
        return engine
    refined = dataclasses.replace(codec, refiner_width=width, griffin_lim_projection="bins")
    return _with_codec(engine, refined)


def _with_codec(engine, codec_config):
    """An engine with a freshly built codec of ``codec_config`` (same latent); the other components
    keep ``engine``'s weights."""
    return _rebuilt(engine, "codec", dataclasses.replace(engine.config, codec=codec_config), engine.tokenizer,
                    engine.model_id)


def _rebuilt(engine, new_component: str, config, tokenizer, model_id: str | None):
    """An engine built from ``config`` whose ``new_component`` is fresh; every other component
    keeps ``engine``'s weights (loaded strictly)."""
    from foleystudio.engine.builder import build_engine

    rebuilt = build_engine(config, "cpu", tokenizer, model_id=model_id)
    for name, module in engine.components().items():
        if name != new_component:
            getattr(rebuilt, name).load_state_dict(module.state_dict(), strict=True)
    rebuilt.reference_bank = engine.reference_bank  # the latent is kept, so the bank still fits
    return rebuilt


REFINER_SHAPE_LOSSES = ("db_l1", "itakura_saito")
# The Itakura-Saito divergence's log power ratio is clipped here (about 43 dB): a bin the shape
# mutes under a loud real one would otherwise give an exponentially large gradient.
IS_LOG_RATIO_LIMIT = 10.0


def itakura_saito(log_ratio: torch.Tensor) -> torch.Tensor:
    """Mean Itakura-Saito divergence d(P, Q) = P/Q - ln(P/Q) - 1 from ``log_ratio`` = ln(P/Q), the
    real over the modelled power: 0 where they agree; for a given Q, its expectation over random P
    is smallest when Q is P's mean."""
    x = log_ratio.clamp(-IS_LOG_RATIO_LIMIT, IS_LOG_RATIO_LIMIT)
    return (torch.exp(x) - x - 1.0).mean()


class RefinerTask(_WaveCropTask):
    """The analytic codec's refiner: per-bin dB (floored as the codec floors bands) of the decoder's
    shaped spectrum against the real one, L1 (the median shape within each band), on random crops
    of cached waveform excerpts. The encoder and the band levels are fixed; only the shape learns.

    ``shape_loss="itakura_saito"`` replaces the dB L1 by the Itakura-Saito divergence of the shaped
    from the real bin power. Why: the shape is rescaled so that each band's *mean* power is the
    latent's, but dB L1 is minimised by each bin's *median* level, and a noise bin's median power is
    1.6 dB under its mean (exponentially distributed). Holding most bins at the median leaves a
    third of the band's power over, which the shape loss makes cheapest to put in a few bins: the
    L1-trained refiner of foley-small rings at seven fixed bins (6.9-20 kHz, 17-22 dB over their
    neighbours) whatever it decodes. The Itakura-Saito divergence (the likelihood of a Gaussian
    signal's power) is minimised by the expected power, which the band means agree with.
    Tried on foley-small (1,500 steps from its refiner): the high lines went, but the decoded power
    grew peaks at 0.4-2.7 kHz instead (8-12 dB; white noise decoded still 16 dB tonal against 19):
    the mean follows the tones that some recordings share, as the median followed the noise. The
    codec's ``refiner_smoothing`` is what removed the lines; this loss was not shipped.

    With ``loudness_weight`` > 0 it adds that weight times the L1 distance in LU between the shaped
    and the real spectrum's loudness over 400 ms windows (``AnalyticCodec.window_loudness_lufs``,
    windows where the real one is above -60 LUFS): the band means fix each band's level, but where
    the shape puts the power within its triangles still moves the loudness a little, and the dB
    shape loss is blind to that."""

    name = "refiner"
    component = "codec"
    val_limit = DECODER_EVAL_EXCERPTS  # a periodic evaluation decodes through Griffin-Lim

    def __init__(self, engine, waves: Sequence[torch.Tensor], val_waves: Sequence[torch.Tensor] = (),
                 segment_seconds: float = 1.5, data: DataInfo = DataInfo(), loudness_weight: float = 0.0,
                 shape_loss: str = "db_l1") -> None:
        if getattr(engine.codec, "refiner", None) is None:
            raise ValueError("refiner training needs an analytic codec with a refiner (see with_refiner)")
        if not (math.isfinite(loudness_weight) and loudness_weight >= 0.0):
            raise ValueError(f"loudness_weight must be >= 0, got {loudness_weight}")
        if shape_loss not in REFINER_SHAPE_LOSSES:
            raise ValueError(f"shape_loss must be one of {REFINER_SHAPE_LOSSES}, got {shape_loss!r}")
        super().__init__(engine, waves, val_waves, segment_seconds, data)
        self.loudness_weight = loudness_weight
        self.shape_loss = shape_loss
        self.window_frames = round(LOUDNESS_WINDOW_S * SAMPLE_RATE / engine.codec.framing.hop)

    def _errors(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(shape L1 in dB, shape Itakura-Saito divergence, windowed loudness L1 in LU) of the
        decoder's shaped spectrum of ``wave``."""
        codec = self.engine.codec
        floor = 10.0 ** (codec.config.floor_db / 10.0)
        with torch.no_grad():
            real = codec.spectrum_power(wave)
            band_power = codec.band_means(real).clamp_min(floor)
            real_loudness = codec.window_loudness_lufs(real, self.window_frames)
        decoded = codec.bin_power(band_power)
        log_ratio = torch.log(real.clamp_min(floor)) - torch.log(decoded.clamp_min(floor))
        shape_db = (10.0 / math.log(10.0)) * log_ratio.abs().mean()
        active = real_loudness > ACTIVE_LUFS
        difference = (codec.window_loudness_lufs(decoded, self.window_frames) - real_loudness).abs()
        loudness = difference[active].mean() if bool(active.any()) else difference.sum() * 0.0
        return shape_db, itakura_saito(log_ratio), loudness

    def loss(self, batch, generator):
        shape_db, shape_is, loudness = self._errors(batch.to(self.device))
        shape = shape_is if self.shape_loss == "itakura_saito" else shape_db
        total = shape + self.loudness_weight * loudness if self.loudness_weight > 0 else shape
        return total, {"shape_l1_db": float(shape_db.detach()), "shape_is": float(shape_is.detach()),
                       "loudness_l1_lu": float(loudness.detach())}

    @torch.no_grad()
    def evaluate(self, generator):
        from foleystudio.engine.codec.metrics import mr_stft_distance

        wave = self._val_batch()
        codec = self.engine.codec
        decoded = codec.decode(codec.encode(wave))[..., : wave.shape[-1]]
        shape_db, shape_is, loudness = self._errors(wave)
        return {f"{self.eval_prefix}_mr_stft": float(mr_stft_distance(wave, decoded)),
                f"{self.eval_prefix}_shape_l1_db": float(shape_db),
                f"{self.eval_prefix}_shape_is": float(shape_is),
                f"{self.eval_prefix}_loudness_l1_lu": float(loudness)}


DEFAULT_PHASE_DECODER_WIDTH = 192  # the width tried on foley-small (2.7 M parameters over 1025 bins)
PHASE_LOG_MEL_WEIGHT = 0.2  # MR-STFT alone traded 0.2 dB of log-mel error for its gain (see PhaseTask)


def with_phase_decoder(engine, width: int = DEFAULT_PHASE_DECODER_WIDTH):
    """``engine`` with an untrained phase decoder (``codec.phase_decoder``) in its analytic codec,
    projection "bins", no Griffin-Lim iterations after it and each frame's loudness kept; every
    other weight kept. An engine whose codec already has one is returned as it is."""
    from foleystudio.engine.codec.analytic import AnalyticCodecConfig

    codec = engine.config.codec
    if not isinstance(codec, AnalyticCodecConfig):
        raise UserInputError("the phase decoder belongs to the analytic codec; this model has a learned codec")
    if codec.phase_decoder_width:
        return engine
    predicted = dataclasses.replace(codec, phase_decoder_width=width, griffin_lim_projection="bins",
                                    griffin_lim_iterations=0, griffin_lim_keep_loudness=True)
    rebuilt = _with_codec(engine, predicted)
    # The codec's own weights (its refiner's) carry over: only the phase decoder is new.
    keys = rebuilt.codec.load_state_dict(engine.codec.state_dict(), strict=False)
    if keys.unexpected_keys or any(not key.startswith("phase_decoder.") for key in keys.missing_keys):
        raise ValueError(f"codec weights do not carry over to the phase-decoded codec: {keys}")
    return rebuilt


class PhaseTask(_WaveCropTask):
    """The analytic codec's phase decoder: the decoded wave of a crop against the crop itself, by
    MR-STFT distance plus ``log_mel_weight`` x the log-mel L1 distance in dB. The magnitude it
    phases (encoder, refiner) is frozen; only the phase decoder learns.

    Why both terms: in a probe on 24 held-out clips, MR-STFT alone beat Griffin-Lim's MR-STFT (1.23
    against 1.30) but lost 0.2 dB of log-mel error (2.70 against 2.52); with 0.2 x log-mel the
    MR-STFT gain held (1.21) and the log-mel error tied (2.52). Neither term asks for noise to stay
    noise: trained on foley-small, the decoder won both measures on held-out clips and rendered noise
    as a smooth wash (the model card's "A trained phase decoder"); an adversarial term is missing."""

    name = "phase"
    component = "codec"
    val_limit = DECODER_EVAL_EXCERPTS

    def __init__(self, engine, waves: Sequence[torch.Tensor], val_waves: Sequence[torch.Tensor] = (),
                 segment_seconds: float = 1.5, data: DataInfo = DataInfo(),
                 log_mel_weight: float = PHASE_LOG_MEL_WEIGHT) -> None:
        if getattr(engine.codec, "phase_decoder", None) is None:
            raise ValueError("phase training needs an analytic codec with a phase decoder (see with_phase_decoder)")
        if not (math.isfinite(log_mel_weight) and log_mel_weight >= 0.0):
            raise ValueError(f"log_mel_weight must be >= 0, got {log_mel_weight}")
        super().__init__(engine, waves, val_waves, segment_seconds, data)
        self.log_mel_weight = log_mel_weight
        for name, parameter in engine.codec.named_parameters():
            # The refiner shapes the magnitude the generator was evaluated with: it stays as it is.
            parameter.requires_grad_(name.startswith("phase_decoder."))

    def _distances(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from foleystudio.engine.codec.metrics import log_mel_l1_db, mr_stft_distance

        codec = self.engine.codec
        decoded = codec.decode(codec.encode(wave))[..., : wave.shape[-1]]
        return mr_stft_distance(wave, decoded), log_mel_l1_db(wave, decoded)

    def loss(self, batch, generator):
        spectral, log_mel = self._distances(batch.to(self.device))
        total = spectral + self.log_mel_weight * log_mel if self.log_mel_weight > 0 else spectral
        return total, {"mr_stft": float(spectral.detach()), "log_mel_l1_db": float(log_mel.detach())}

    @torch.no_grad()
    def evaluate(self, generator):
        spectral, log_mel = self._distances(self._val_batch())
        return {f"{self.eval_prefix}_mr_stft": float(spectral), f"{self.eval_prefix}_log_mel_l1_db": float(log_mel)}


# ---- generator (DiT) ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _DitItem:
    latent: torch.Tensor  # [C, T]
    curve: torch.Tensor  # [2, T6] LUFS
    on_screen_ids: tuple[int, ...]  # "on screen: <caption>": the crop is shown (it gets its picture)
    off_screen_ids: tuple[int, ...]  # "off screen: <caption>": heard, not seen (no picture)
    onsets_s: tuple[float, ...] | None = None  # None: no picture can be drawn for this item
    look_seed: int = 0  # the rendered picture's appearance (stable per clip)
    category: str = ""  # the clip's labelled sound category ("" = none), for the text category head
    caption: str = ""  # the bare caption: clips that share it give each other reference sounds


@dataclass(frozen=True, eq=False)
class DitBatch:
    latents: torch.Tensor  # [B, C, T] padded
    lengths: list[int]
    inputs: list  # ConditionInputs
    categories: list[str]  # each item's labelled category ("" = none)


def dit_tokenizer(config: EngineConfig, captions: Sequence[str]):
    """A word tokenizer trained on the captions as the generator sees them (with their "on screen:"
    / "off screen:" prefixes), sized for the generator's text encoder."""
    from foleystudio.engine.conditioners.tokenizer import WordTokenizer

    conditioners = config.generator.conditioners
    composed = [compose_caption(caption, "") for caption in captions] + [compose_caption("", "x")]
    return WordTokenizer.train(composed, conditioners.text_vocab_size, conditioners.text_hash_buckets)


class DiTTask(_Task):
    name = "dit"
    component = "generator"

    def __init__(self, engine, items: Sequence, val_items: Sequence = (), crop_seconds: float = 10.0,
                 data: DataInfo = DataInfo(), video_probability: float = 0.0, loudness_weight: float = 0.0,
                 category_weight: float = 0.0, reference_probability: float = 0.0,
                 category_balance: float = 0.0, tone_weight: float = 0.0) -> None:
        super().__init__(engine, data)
        if not items:
            raise ValueError("DiT training needs at least one cached item")
        for name, value in (("video", video_probability), ("reference", reference_probability)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} probability must be in [0, 1], got {value}")
        if reference_probability > 0 and not engine.config.generator.conditioners.ref_reads_latent:
            raise UserInputError("reference sounds train from cached latents: the generator must read references "
                                 "as latents (`with_latent_references`)")
        self.reference_probability = reference_probability
        self.flow_config = _flow_config(engine, loudness_weight, tone_weight)
        self.category_weight = _category_weight(engine, category_weight)
        self.crop_frames = max(1, math.ceil(crop_seconds * engine.generator.latent_rate))
        self.video_probability = video_probability
        # The frame encoder is frozen here (Tri-Ergon's video encoder is a frozen pretrained model;
        # ours is the LUFS predictor's, see `share_frame_encoder`): the DiT learns to read its features.
        engine.video_encoder.eval().requires_grad_(False)
        self._pictures: dict[_DitItem, tuple[torch.Tensor, torch.Tensor]] = {}  # see `_clip_picture`
        self.items = [self._prepare(item) for item in items]
        # The epoch's item indices, rare categories repeated (`balance.balanced_schedule`).
        self.schedule = balanced_schedule([item.category for item in self.items], category_balance)
        self._partners = _caption_partners(self.items)
        self.val_items = [self._prepare(item) for item in val_items] or self.items[:4]
        self.eval_prefix = _eval_prefix(bool(val_items))
        record_trained_prompts(engine, self.prompts_taught())

    def prompts_taught(self) -> set[str]:
        """The prompt modalities this data trains. Reference sounds only with a reference
        probability (`reference_for`: another clip with the same caption, as cached latents)."""
        taught = {"audio"} if self.reference_probability > 0 else set()
        if any(item.on_screen_ids or item.off_screen_ids for item in self.items):
            taught.add("text")
        if self.video_probability > 0 and any(item.onsets_s is not None for item in self.items):
            taught.add("video")
        return taught

    def _prepare(self, item) -> _DitItem:
        generator = self.engine.generator
        latent = item.latent
        if latent is None or latent.shape[0] != generator.config.latent_channels:
            if item.wave is None:
                raise ValueError(f"item {item.clip_id}: no latent of this codec and no waveform to encode")
            with torch.inference_mode():
                latent = self.engine.codec.encode(item.wave[None].float())[0].clone()
        # The captions the pipeline will give: compose_caption of the request's prompts. A crop with
        # its picture is the on-screen sound; one without is heard off screen (the cache's own
        # token ids are of the bare caption, so they are not used).
        on_ids = tuple(generator.tokenize(compose_caption(item.caption, "")))
        off_ids = tuple(generator.tokenize(compose_caption("", item.caption)))
        onsets = getattr(item, "onsets_s", None)
        return _DitItem(latent.float(), item.curve.float(), on_ids, off_ids, None if onsets is None else tuple(onsets),
                        zlib.crc32(str(getattr(item, "clip_id", "")).encode("utf-8")), getattr(item, "category", "") or "",
                        item.caption)

    def item_count(self) -> int:
        return len(self.schedule)

    def to(self, device) -> None:
        super().to(device)
        self._pictures = {item: (features.to(self.device), motion)
                          for item, (features, motion) in self._pictures.items()}

    def reference_for(self, index: int, generator: torch.Generator) -> torch.Tensor:
        """A reference latent for training item ``index``: up to REFERENCE_SECONDS of another clip
        with the same caption (the clip itself when none shares it), at a random level.

        Another clip, not the crop itself, so the generator learns what kind of sound a reference is
        rather than to copy its events; a clip that is its own reference is played backwards for the
        same reason. The level is moved by up to REFERENCE_GAIN_DB: the curve, not the reference,
        says how loud the take is.
        """
        partners = self._partners[index]
        pick = int(torch.randint(0, len(partners), (1,), generator=generator)) if partners else 0
        source = self.items[partners[pick]] if partners else self.items[index]
        frames = max(1, math.ceil(REFERENCE_SECONDS * self.engine.generator.latent_rate))
        room = max(0, source.latent.shape[1] - frames)
        start = int(torch.randint(0, room + 1, (1,), generator=generator)) if room else 0
        latent = source.latent[:, start : start + frames]
        if not partners:
            latent = latent.flip(-1)
        gain_db = (float(torch.rand((), generator=generator)) * 2 - 1) * REFERENCE_GAIN_DB
        return latent + gain_db / self.engine.config.codec.scale_db

    def _crop(self, item: _DitItem, start: int, with_video: bool = False):
        from foleystudio.engine.conditions import LUFS_RATE_HZ, ConditionInputs

        rate = self.engine.generator.latent_rate
        latent = item.latent[:, start : start + self.crop_frames]
        start_s = start / rate
        total_s = item.latent.shape[1] / rate
        first = min(int(math.floor(start_s * LUFS_RATE_HZ)), item.curve.shape[1] - 1)
        last = min(item.curve.shape[1], int(math.ceil((start + latent.shape[1]) / rate * LUFS_RATE_HZ)) + 1)
        shown = with_video and item.onsets_s is not None
        video = self._video(item, start_s, latent.shape[1] / rate) if shown else {}
        inputs = ConditionInputs(total_s=total_s, start_s=start_s,
                                 text_ids=item.on_screen_ids if shown else item.off_screen_ids,
                                 lufs=item.curve[:, first:last], lufs_start_s=first / LUFS_RATE_HZ - start_s, **video)
        return latent, inputs

    def _video(self, item: _DitItem, start_s: float, seconds: float) -> dict:
        """The rendered picture of the item's AV pair over this crop, as the pipeline would read it from
        a video file: frames at 8 fps from the one at or before ``start_s``, features from the frozen
        frame encoder, raw motion energy against the frame before."""
        from foleystudio.engine.video_features import VIDEO_FPS

        first = int(math.floor(start_s * VIDEO_FPS + 1e-9))
        count = max(1, int(math.ceil((start_s + seconds) * VIDEO_FPS - 1e-9)) - first)
        features, motion = self._clip_picture(item, first + count)
        return {"video_features": features[first : first + count], "video_motion": motion[first : first + count],
                "video_start_s": first / VIDEO_FPS - start_s}

    @torch.no_grad()
    def _clip_picture(self, item: _DitItem, frames_needed: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and motion of the clip's whole picture, drawn and encoded once per clip.

        Any stretch of the picture is byte-identical to the same frames of the whole (see
        `render_frames`), the encoder reads each frame on its own and is frozen, and frame 0's motion
        is against itself (frame -1 repeats frame 0), so slicing these equals drawing the crop. Drawing
        was most of a batch's time; kept per clip it is paid once per run.
        """
        from foleystudio.audio.curve import LoudnessCurve
        from foleystudio.engine.conditions import LUFS_RATE_HZ
        from foleystudio.engine.video_features import VIDEO_FPS
        from foleystudio.training.av_pairs import render_frames
        from foleystudio.video.motion import motion_energy

        kept = self._pictures.get(item)
        if kept is not None and kept[0].shape[0] >= frames_needed:
            return kept
        total = max(frames_needed, int(math.ceil(item.latent.shape[1] / self.engine.generator.latent_rate * VIDEO_FPS)))
        curve = LoudnessCurve.uniform(item.curve[0].numpy(), item.curve[1].numpy(), LUFS_RATE_HZ)
        size = self.engine.config.video_encoder.frame_size
        frames = render_frames(curve, item.onsets_s, seed=item.look_seed, fps=VIDEO_FPS, size=(size, size),
                               first=0, count=total)
        # Full precision even when called under the trainer's autocast (evaluation): kept features
        # must not depend on which call drew them first.
        with torch.autocast(self.device.type, enabled=False):
            features = self.engine.video_encoder(torch.from_numpy(frames)[None].to(self.device))[0].float()
        kept = (features, torch.from_numpy(motion_energy(frames, previous=frames[0])))
        self._pictures[item] = kept
        return kept

    def _batch(self, pieces, items: Sequence[_DitItem]) -> DitBatch:
        lengths = [latent.shape[1] for latent, _ in pieces]
        longest = max(lengths)
        latents = torch.stack([nn.functional.pad(latent, (0, longest - latent.shape[1])) for latent, _ in pieces])
        return DitBatch(latents, lengths, [inputs for _, inputs in pieces], [item.category for item in items])

    def make_batch(self, positions, generator) -> DitBatch:
        """A batch of the items at ``positions`` of the epoch's schedule."""
        pieces = []
        indices = [self.schedule[position] for position in positions]
        for index in indices:
            item = self.items[index]
            room = max(0, item.latent.shape[1] - self.crop_frames)
            start = int(torch.randint(0, room + 1, (1,), generator=generator)) if room else 0
            with_video = bool(torch.rand((), generator=generator) < self.video_probability)
            latent, inputs = self._crop(item, start, with_video)
            if self.reference_probability > 0 and bool(torch.rand((), generator=generator) < self.reference_probability):
                inputs = dataclasses.replace(inputs, reference_latent=self.reference_for(index, generator))
            pieces.append((latent, inputs))
        return self._batch(pieces, [self.items[index] for index in indices])

    def loss(self, batch: DitBatch, generator):
        from foleystudio.engine.flow import flow_matching_loss

        loss, stats = flow_matching_loss(self.engine.generator, batch.latents.to(self.device), batch.inputs,
                                         generator, self.flow_config, lengths=batch.lengths,
                                         latent_loudness=self.engine.codec.latent_loudness_lufs,
                                         band_shape=self._band_shape)
        logged = {"mean_t": stats.mean_t}
        if stats.loudness_lu is not None:
            logged["loudness_lu"] = stats.loudness_lu
        if stats.tone_db is not None:
            logged["tone_db"] = stats.tone_db
        if self.category_weight > 0:
            category = self._category_loss(batch)
            if category is not None:
                loss = loss + self.category_weight * category
                logged["category_ce"] = float(category.detach())
        return loss, logged

    def _band_shape(self, latent: torch.Tensor) -> torch.Tensor:
        from foleystudio.engine.tone_match import band_shape_db

        return band_shape_db(latent, self.engine.codec.config)

    def _category_loss(self, batch: DitBatch) -> torch.Tensor | None:
        """Cross-entropy of the text category head on the batch's captions (as each crop was given:
        before condition dropout, which decides what the DiT sees, not what the caption says)."""
        from foleystudio.engine.conditioners.text_category import category_loss

        ids, names = self._labelled_captions(batch)
        if not ids:
            return None
        conditioners = self.engine.generator.conditioners
        return category_loss(conditioners.text_category_logits(ids), conditioners.text_category.categories, names)

    def _labelled_captions(self, batch: DitBatch) -> tuple[list[tuple[int, ...]], list[str]]:
        """Token ids and category of each crop whose caption is labelled with one the head knows."""
        known = self.engine.generator.conditioners.text_category.categories
        pairs = [(inputs.text_ids, category) for inputs, category in zip(batch.inputs, batch.categories)
                 if category in known and inputs.text_ids]
        return [ids for ids, _ in pairs], [category for _, category in pairs]

    def evaluate(self, generator):
        from foleystudio.engine.flow import FlowConfig, flow_matching_loss

        batch = self._batch([self._crop(item, 0, self.video_probability > 0) for item in self.val_items],
                            self.val_items)
        # No dropout at evaluation: the loss of the fully conditioned model, at uniform times.
        config = FlowConfig(modality_drop=0.0, all_drop=0.0, lufs_drop=0.0, time_sampling="uniform")
        loss, _ = flow_matching_loss(self.engine.generator, batch.latents.to(self.device), batch.inputs,
                                     generator, config, lengths=batch.lengths)
        metrics = {f"{self.eval_prefix}_flow_loss": float(loss)}
        if self.category_weight > 0:
            metrics.update(self._category_accuracy(batch))
        return metrics

    def _category_accuracy(self, batch: DitBatch) -> dict[str, float]:
        """Share of the evaluation captions whose category the text head names (labelled ones only)."""
        from foleystudio.training.text_category_fit import naming_accuracy

        ids, names = self._labelled_captions(batch)
        if not ids:
            return {}
        return {f"{self.eval_prefix}_text_category_accuracy":
                naming_accuracy(self.engine.generator.conditioners, ids, names)}


def _caption_partners(items: Sequence[_DitItem]) -> list[list[int]]:
    """For each item, the indices of the other items with the same (non-empty) caption."""
    groups: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.caption:
            groups.setdefault(item.caption, []).append(index)
    return [[other for other in groups.get(item.caption, ()) if other != index] for index, item in enumerate(items)]


def _flow_config(engine, loudness_weight: float, tone_weight: float = 0.0):
    """The objective for this generator, with the loudness- and tone-consistency terms at these weights."""
    from foleystudio.engine.codec.analytic import AnalyticCodecConfig
    from foleystudio.engine.flow import flow_config_for

    config = dataclasses.replace(flow_config_for(engine.generator.config.prediction), loudness_weight=loudness_weight,
                                 tone_weight=tone_weight)
    if loudness_weight > 0 and not engine.codec.reads_loudness:
        raise UserInputError(f"a loudness weight needs a codec that reads loudness off its latent; "
                             f"{type(engine.codec).__name__} does not (use the analytic codec, or weight 0)")
    if tone_weight > 0 and not isinstance(engine.config.codec, AnalyticCodecConfig):
        raise UserInputError("a tone weight needs the analytic codec, whose latent is band levels "
                             "(use it, or weight 0)")
    return config


def _category_weight(engine, weight: float) -> float:
    if not (math.isfinite(weight) and weight >= 0):
        raise UserInputError(f"the category weight must be >= 0, got {weight}")
    if weight > 0 and engine.generator.conditioners.text_category is None:
        raise UserInputError("a category weight needs a generator with a text category head "
                             "(see `with_text_category_head`)")
    return float(weight)


def text_categories_of(labels: Sequence[str]) -> tuple[str, ...]:
    """The sorted distinct categories among ``labels`` ("" is no label)."""
    return tuple(sorted(set(labels) - {""}))


def with_text_category_head(engine, categories: Sequence[str]):
    """``engine`` with a generator that has a text category head over ``categories``.

    Every existing weight is kept; the head is new, and its projection into the DiT's conditioning
    starts at zero, so the engine's output is unchanged until the head is trained. An engine that
    already has a head over the same categories is returned as it is; another set is refused.
    """
    config = engine.config.generator
    categories = tuple(categories)
    if config.conditioners.text_categories:
        if config.conditioners.text_categories != categories:
            raise UserInputError(f"the model's text category head knows {list(config.conditioners.text_categories)}, "
                                 f"not this data's {list(categories)}")
        return engine
    generator = dataclasses.replace(config, conditioners=config.conditioners.with_text_categories(categories))
    grown = with_new_generator(engine, generator, engine.tokenizer, model_id=engine.model_id)
    result = grown.generator.load_state_dict(engine.generator.state_dict(), strict=False)
    new = [key for key in result.missing_keys if not key.startswith("conditioners.text_category.")]
    if new or result.unexpected_keys:
        raise RuntimeError(f"adding the text category head changed other weights: {new + result.unexpected_keys}")
    return grown


def with_latent_references(engine):
    """``engine`` whose generator reads reference sounds as the codec's latent (``ref_reads_latent``)
    and has the reference-shape routes (zero at first), every other weight kept: what training
    references from cached latents needs. Only an analytic codec
    whose bands are the reference encoder's qualifies; an engine that already reads latents is
    returned as it is."""
    from foleystudio.engine.codec.analytic import AnalyticCodecConfig

    config = engine.config.generator
    if config.conditioners.ref_reads_latent:
        return engine
    codec = engine.config.codec
    if not isinstance(codec, AnalyticCodecConfig) or codec.n_mels != config.conditioners.ref_n_mels:
        raise UserInputError("reference sounds train from cached latents only with an analytic codec whose mel bands "
                             "are the reference encoder's")
    conditioners = dataclasses.replace(config.conditioners, ref_reads_latent=True)
    rebuilt = with_new_generator(engine, dataclasses.replace(config, conditioners=conditioners), engine.tokenizer,
                                 model_id=engine.model_id)
    # Every weight is kept; the reference-shape routes are new and start at zero (no output changes).
    result = rebuilt.generator.load_state_dict(engine.generator.state_dict(), strict=False)
    new = [key for key in result.missing_keys if not key.startswith("conditioners.reference_shape.")]
    if new or result.unexpected_keys:
        raise RuntimeError(f"reading references as latents changed other weights: {new + result.unexpected_keys}")
    return rebuilt


def with_new_generator(engine, generator_config, tokenizer, model_id: str | None = None):
    """An engine with a freshly built generator of ``generator_config`` (and ``tokenizer``); every
    other component keeps ``engine``'s weights (loaded strictly)."""
    return _rebuilt(engine, "generator", dataclasses.replace(engine.config, generator=generator_config), tokenizer,
                    model_id)


def record_trained_prompts(engine, taught: set[str]) -> None:
    """Add ``taught`` to the prompts the engine's generator config says it was trained with (saved
    with the model folder; the pipeline refuses the others, `pipeline.check_prompts_trained`)."""
    config = engine.generator.config
    config = config.with_trained_prompts(set(config.trained_prompts or ()) | taught)
    engine.generator.config = config
    engine.config = dataclasses.replace(engine.config, generator=config)


def share_frame_encoder(engine) -> None:
    """Give the DiT's video branch the LUFS predictor's trained frame encoder.

    Trained on rendered AV pairs to read where the source is and how loud it looks, that encoder is
    the best frozen picture reader we have (nothing pretrained can be downloaded). Train the LUFS
    predictor first, then the DiT with this.
    """
    if engine.config.video_encoder != engine.config.lufs_predictor.encoder:
        raise ValueError("the LUFS predictor's frame encoder has another configuration than the video encoder's; "
                         "they cannot share weights")
    engine.video_encoder.load_state_dict(engine.lufs_predictor.encoder.state_dict(), strict=True)


# ---- LUFS predictor ----------------------------------------------------------------------------


class LufsTask(_Task):
    name = "lufs"
    component = "lufs_predictor"

    def __init__(self, engine, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 val_pairs: Sequence[tuple[torch.Tensor, torch.Tensor]] = (), data: DataInfo = DataInfo()) -> None:
        super().__init__(engine, data)
        if not pairs:
            raise ValueError("LUFS training needs (frames, curve) pairs")
        self.window = engine.lufs_predictor.config.max_frames
        self.pairs = [self._check(frames, curve) for frames, curve in pairs]
        self.val_pairs = [self._check(frames, curve) for frames, curve in val_pairs] or self.pairs[:4]
        self.eval_prefix = _eval_prefix(bool(val_pairs))

    @staticmethod
    def _check(frames, curve) -> tuple[torch.Tensor, torch.Tensor]:
        frames, curve = torch.as_tensor(frames), torch.as_tensor(curve, dtype=torch.float32)
        if frames.ndim != 4 or frames.shape[-1] != 3 or curve.shape != (frames.shape[0], 2):
            raise ValueError(f"a pair needs frames [T, H, W, 3] and curve [T, 2], got {tuple(frames.shape)}, "
                             f"{tuple(curve.shape)}")
        return frames, curve

    def item_count(self) -> int:
        return len(self.pairs)

    def _batch(self, crops):
        longest = max(frames.shape[0] for frames, _ in crops)
        frames = torch.stack([nn.functional.pad(f, (0, 0, 0, 0, 0, 0, 0, longest - f.shape[0])) for f, _ in crops])
        curves = torch.stack([nn.functional.pad(c, (0, 0, 0, longest - c.shape[0]), value=-70.0) for _, c in crops])
        mask = torch.stack([torch.arange(longest) < f.shape[0] for f, _ in crops])
        return frames, curves, mask

    def make_batch(self, indices, generator):
        crops = []
        for index in indices:
            frames, curve = self.pairs[index]
            room = max(0, frames.shape[0] - self.window)
            start = int(torch.randint(0, room + 1, (1,), generator=generator)) if room else 0
            crops.append((frames[start : start + self.window], curve[start : start + self.window]))
        return self._batch(crops)

    def loss(self, batch, generator):
        from foleystudio.engine.lufs_predictor import lufs_loss

        frames, curves, mask = (tensor.to(self.device) for tensor in batch)
        loss = lufs_loss(self.engine.lufs_predictor, frames, curves, mask)
        return loss, {"error_lu": float(loss.detach()) * 70.0}

    def evaluate(self, generator):
        from foleystudio.engine.lufs_predictor import lufs_loss

        batch = self._batch([(f[: self.window], c[: self.window]) for f, c in self.val_pairs])
        frames, curves, mask = (tensor.to(self.device) for tensor in batch)
        return {f"{self.eval_prefix}_error_lu": float(lufs_loss(self.engine.lufs_predictor, frames, curves, mask)) * 70.0}


def load_lufs_pairs(folder) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(frames, curve) pairs from ``*.safetensors`` files holding ``frames`` (uint8 [T, H, W, 3], 6 fps)
    and ``curve`` (float [T, 2] LUFS) — the format proposed for rendered AV pairs."""
    from safetensors.torch import load_file

    pairs = []
    for path in sorted(Path(folder).glob("*.safetensors")):
        tensors = load_file(str(path))
        if "frames" in tensors and "curve" in tensors:
            pairs.append((tensors["frames"], tensors["curve"]))
    return pairs
