"""The engine's one configuration: every component's frozen config, and the named presets.

A model folder stores an `EngineConfig` as JSON (`config_io`, strict); `builder.build_engine` reads
it in one place. Presets:

* ``tiny``: the whole path on CPU in well under a second for 2 s of audio; tests use it.
* ``compact``: what a 2-core CPU trains in about an hour; the shipped ``foley-small`` has this shape.
* ``small``: the size to train on a GPU (benchmarked by ``bench/generate.py``).
* ``base``: Tri-Ergon-S scale (20 blocks, width 1536, 24 heads) for GPU training on large data.

Components must agree: the generator's latent size and rate are the codec's, and its video
features are the frame encoder's. `EngineConfig` checks this, so no model is built from parts that
do not fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from foleystudio.engine.codec.analytic import (
    COMPACT_ANALYTIC_CODEC,
    SMALL_ANALYTIC_CODEC,
    TINY_ANALYTIC_CODEC,
    AnalyticCodecConfig,
)
from foleystudio.engine.codec.learned import BASE_LEARNED_CODEC, SMALL_LEARNED_CODEC, LearnedCodecConfig
from foleystudio.engine.config_io import READ_DEFAULT_IF_ABSENT
from foleystudio.engine.long_takes import BASE_LONG_TAKE, COMPACT_LONG_TAKE, SMALL_LONG_TAKE, TINY_LONG_TAKE, LongTakeConfig
from foleystudio.engine.lufs_predictor import (
    BASE_LUFS_PREDICTOR,
    COMPACT_LUFS_PREDICTOR,
    SMALL_LUFS_PREDICTOR,
    TINY_LUFS_PREDICTOR,
    LufsPredictorConfig,
)
from foleystudio.engine.model import BASE_GENERATOR, COMPACT_GENERATOR, SMALL_GENERATOR, TINY_GENERATOR, GeneratorConfig
from foleystudio.engine.sampler import BASE_SAMPLER, COMPACT_SAMPLER, SMALL_SAMPLER, TINY_SAMPLER, SamplerConfig
from foleystudio.engine.video_features import (
    BASE_FRAME_ENCODER,
    COMPACT_FRAME_ENCODER,
    SMALL_FRAME_ENCODER,
    TINY_FRAME_ENCODER,
    FrameEncoderConfig,
)
from foleystudio.errors import UserInputError

CodecConfig = AnalyticCodecConfig | LearnedCodecConfig


def codec_latent(codec: CodecConfig) -> tuple[int, float]:
    """(latent channels, latent frames per second) of a codec configuration."""
    return codec.latent_channels, 44100 / codec.hop_length


@dataclass(frozen=True)
class EngineConfig:
    """Everything that shapes a model; per-request choices live in `GenerationRequest`."""

    name: str
    codec: CodecConfig
    generator: GeneratorConfig
    video_encoder: FrameEncoderConfig
    lufs_predictor: LufsPredictorConfig
    sampler: SamplerConfig
    long_take: LongTakeConfig
    description: str = ""
    # Where the default curve sits when a request brings none: EBU R128's programme target.
    default_curve_lufs: float = field(default=-23.0)
    # Text and reference-audio guidance keep the loudness of scale 1 (`loudness_anchor`). Folders
    # written before it existed read False: they sample as they were evaluated.
    guidance_keeps_loudness: bool = field(default=False, metadata={READ_DEFAULT_IF_ABSENT: True})
    # How far a take's spectral shape moves onto its reference sound's (`tone_match`), 0 to 1.
    # Folders written before it existed read 0.
    tone_match: float = field(default=0.0, metadata={READ_DEFAULT_IF_ABSENT: True})

    def __post_init__(self) -> None:
        channels, rate = codec_latent(self.codec)
        if (self.generator.latent_channels, round(self.generator.latent_rate, 6)) != (channels, round(rate, 6)):
            raise UserInputError(
                f"model config {self.name!r}: the generator expects {self.generator.latent_channels}-channel latents at "
                f"{self.generator.latent_rate:.2f}/s but the codec makes {channels} at {rate:.2f}/s"
            )
        if self.video_encoder.feature_dim != self.generator.conditioners.video_feature_dim:
            raise UserInputError(
                f"model config {self.name!r}: the frame encoder gives {self.video_encoder.feature_dim} features per frame "
                f"but the video conditioner expects {self.generator.conditioners.video_feature_dim}"
            )
        if not isinstance(self.guidance_keeps_loudness, bool):
            raise UserInputError(f"model config {self.name!r}: guidance_keeps_loudness must be true or false")
        if self.guidance_keeps_loudness and not isinstance(self.codec, AnalyticCodecConfig):
            raise UserInputError(
                f"model config {self.name!r}: guidance that keeps loudness needs the analytic codec, which reads and "
                f"shifts loudness in its latent; the learned codec cannot"
            )
        self._check_tone_match()
        if self.long_take.window_s > self.generator.max_seconds:
            raise UserInputError(
                f"model config {self.name!r}: long-take window {self.long_take.window_s} s exceeds the model's "
                f"{self.generator.max_seconds} s"
            )

    def _check_tone_match(self) -> None:
        value = self.tone_match
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise UserInputError(f"model config {self.name!r}: tone_match must be a number from 0 to 1 (got {value!r})")
        if value > 0 and not isinstance(self.codec, AnalyticCodecConfig):
            raise UserInputError(f"model config {self.name!r}: tone matching needs the analytic codec, whose latent is "
                                 f"band levels; the learned codec's is not")

    @property
    def window_s(self) -> float:
        """Longest take generated in one pass; longer takes are made in overlapping windows."""
        return self.long_take.window_s


def _assemble(name: str, codec: CodecConfig, generator: GeneratorConfig, **parts) -> EngineConfig:
    channels, rate = codec_latent(codec)
    return EngineConfig(name=name, codec=codec, generator=generator.for_codec(channels, rate), **parts)


TINY = _assemble(
    "tiny", TINY_ANALYTIC_CODEC, TINY_GENERATOR, video_encoder=TINY_FRAME_ENCODER,
    lufs_predictor=TINY_LUFS_PREDICTOR, sampler=TINY_SAMPLER, long_take=TINY_LONG_TAKE,
    description="tiny untrained preset for tests: builds in code, generates noise-like audio",
)
SMALL = _assemble(
    "small", SMALL_LEARNED_CODEC, SMALL_GENERATOR, video_encoder=SMALL_FRAME_ENCODER,
    lufs_predictor=SMALL_LUFS_PREDICTOR, sampler=SMALL_SAMPLER, long_take=SMALL_LONG_TAKE,
    description="the size FoleyStudio trains and ships",
)
# The small shape with the analytic codec: runs end to end before any codec is trained.
# Its 512-channel analytic latent is wider than the 384-wide backbone: data prediction (see GeneratorConfig).
SMALL_ANALYTIC = replace(
    _assemble("small-analytic", SMALL_ANALYTIC_CODEC, replace(SMALL_GENERATOR, prediction="data"),
              video_encoder=SMALL_FRAME_ENCODER, lufs_predictor=SMALL_LUFS_PREDICTOR, sampler=SMALL_SAMPLER,
              long_take=SMALL_LONG_TAKE, guidance_keeps_loudness=True),
    description="small generator on the analytic (untrained) codec",
)
# What a 2-core CPU trains in about an hour on the open corpus: the shipped foley-small is this shape.
COMPACT = _assemble(
    "compact", COMPACT_ANALYTIC_CODEC, COMPACT_GENERATOR, video_encoder=COMPACT_FRAME_ENCODER,
    lufs_predictor=COMPACT_LUFS_PREDICTOR, sampler=COMPACT_SAMPLER, long_take=COMPACT_LONG_TAKE,
    description="CPU-trainable size: 32-band analytic codec, 4-block DiT of width 192", guidance_keeps_loudness=True,
)
BASE = _assemble(
    "base", BASE_LEARNED_CODEC, BASE_GENERATOR, video_encoder=BASE_FRAME_ENCODER,
    lufs_predictor=BASE_LUFS_PREDICTOR, sampler=BASE_SAMPLER, long_take=BASE_LONG_TAKE,
    description="Tri-Ergon-S scale, for GPU training on large data",
)

PRESETS = {config.name: config for config in (TINY, COMPACT, SMALL, SMALL_ANALYTIC, BASE)}


def preset(name: str) -> EngineConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserInputError(f"unknown model preset {name!r}: presets are {', '.join(PRESETS)}") from None
