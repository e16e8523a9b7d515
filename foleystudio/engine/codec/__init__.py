"""Audio codecs: stereo 44.1 kHz waves <-> latent sequences the DiT generates (see ``base``).

* ``AnalyticCodec`` — log-mel latent + Griffin-Lim; needs no training (tests, tiny pipeline, baseline),
  with an optional trained refiner of the shape within bands (``refiner``; foley-small has one)
  and an optional trained phase decoder in place of Griffin-Lim's iterations (``phase_decoder``).
* ``LearnedCodec`` — the waveform VAE the training issue trains; ``codec_loss`` is its objective.
* ``metrics`` — the reconstruction measures the benchmark, tests and training share.
"""

from foleystudio.engine.codec.analytic import (
    BASE_ANALYTIC_CODEC,
    SMALL_ANALYTIC_CODEC,
    TINY_ANALYTIC_CODEC,
    AnalyticCodec,
    AnalyticCodecConfig,
)
from foleystudio.engine.codec.base import AudioCodec, Chunking
from foleystudio.engine.codec.learned import (
    BASE_LEARNED_CODEC,
    SMALL_LEARNED_CODEC,
    TINY_LEARNED_CODEC,
    LearnedCodec,
    LearnedCodecConfig,
    Posterior,
)
from foleystudio.engine.codec.loss import CodecLoss, CodecLossWeights, codec_loss

__all__ = [
    "AudioCodec",
    "Chunking",
    "AnalyticCodec",
    "AnalyticCodecConfig",
    "TINY_ANALYTIC_CODEC",
    "SMALL_ANALYTIC_CODEC",
    "BASE_ANALYTIC_CODEC",
    "LearnedCodec",
    "LearnedCodecConfig",
    "Posterior",
    "TINY_LEARNED_CODEC",
    "SMALL_LEARNED_CODEC",
    "BASE_LEARNED_CODEC",
    "CodecLoss",
    "CodecLossWeights",
    "codec_loss",
]
