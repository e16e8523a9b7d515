"""The learned codec: a stereo waveform VAE with an STFT front end and an iSTFT (Vocos) output head.

Architecture (trained by a later issue; untrained here — do not expect it to reconstruct):

    wave [B, 2, T*hop]
      -> STFT (n_fft 2048, hop 512), per-channel complex bins, magnitude compressed to |X|^0.3
      -> 1x1 conv to ``width`` -> ConvNeXt blocks at the STFT rate (86 frames/s)
      -> strided conv / 4 -> ConvNeXt blocks at the latent rate (21.5 frames/s)
      -> 1x1 conv -> posterior mean and scale [B, latent_channels, T]       (KL-regularised latent)
    latent -> 1x1 conv -> ConvNeXt blocks (21.5/s) -> transposed conv x 4 -> ConvNeXt blocks (86/s)
      -> LayerNorm -> linear head: per channel and bin, log-magnitude and phase
      -> inverse STFT -> wave [B, 2, T*hop]

Why this and not a time-domain upsampling decoder (Stable Audio's Oobleck VAE, which Tri-Ergon
uses) or a mel VAE + neural vocoder: both waveform designs code the same thing (stereo 44.1 kHz at
21.5 frames/s, trained end to end on the waveform), but a time-domain decoder spends its work on
convolutions at 1.4-44 kHz, while this one works at 86 frames/s and lets the inverse FFT produce the
samples (as the Vocos vocoder does). Measured on the shared 2-core CPU (noisy), 10 s of stereo:
* decode: this codec at the ``small`` size (31.7 M parameters, encoder included) 0.27 s (37x real
  time, ``bench/codec.py``); Oobleck-style decoders (strides 2-4-4-8-8, Snake residual units with
  dilations 1-3-9) with base widths 16 / 32 / 64 (3.9 / 15 / 61 M parameters) 1.3 / 5.6 / 29 s.
  The ``small`` path must generate 10 s in 10 s, decode included: width 16 (too narrow for
  44.1 kHz quality; Stable Audio uses 128) would already take 13 % of that, width 32 over half.
* 300 training steps on random synthetic audio (batch 4 x 0.37 s, AdamW, this loss): a 2.0 M-
  parameter version of this codec reached an MR-STFT distance of 1.98 on the benchmark's synthetic
  set in 62 s; a 7.7 M-parameter Oobleck VAE (width 16) reached 5.14 in 273 s at lr 3e-4 (at this
  codec's lr 1e-3 it diverged). Neither reproduces tones yet: that takes real training.
A mel VAE + vocoder needs two models and two training stages, codes each channel's magnitude only
(the vocoder must invent phase and the inter-channel relation), and its vocoder costs what this
decoder costs. The STFT front end (75 % overlap) is invertible: nothing is lost before the encoder.

The encoder returns the posterior *mean* (deterministic); training samples the posterior
(``reconstruct``) and adds the KL term (``loss.codec_loss``). The DiT sees latents normalised by a
fixed affine map ``(mean - latent_shift) / latent_scale`` whose values the training issue measures
on data and stores in the config (defaults: identity).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import nn

from foleystudio.engine.codec.base import AudioCodec, Chunking
from foleystudio.engine.codec.layers import Downsample, Upsample, stack
from foleystudio.engine.codec.spectral import StftFraming
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

# Largest magnitude the head may produce, as a natural log (Vocos clips at 1e2): bounds the
# output of an untrained or diverging model instead of returning inf.
MAX_LOG_MAGNITUDE = math.log(1e2)
# The head starts out producing quiet noise (-43 dB re full-scale white noise) rather than 0 dB:
# training then starts from "too quiet", which the loss corrects in far fewer steps than "too loud".
INITIAL_LOG_MAGNITUDE = -5.0


@dataclass(frozen=True)
class LearnedCodecConfig:
    """Waveform VAE settings; latent rate = 44100 / hop_length."""

    latent_channels: int = 64
    hop_length: int = 2048  # 21.53 latent frames/s
    stft_hop: int = 512  # hidden frame rate: hop_length // stft_hop frames per latent frame
    n_fft: int = 2048
    width: int = 512
    encoder_blocks: int = 4  # ConvNeXt blocks at the STFT rate
    encoder_latent_blocks: int = 2  # ... and at the latent rate
    decoder_latent_blocks: int = 2
    decoder_blocks: int = 8
    kernel_size: int = 7
    mlp_ratio: int = 3
    input_compression: float = 0.3  # encoder input |X| -> |X|^0.3: evens out the spectral dynamics
    latent_shift: float = 0.0  # fixed latent normalisation, measured on data by the trainer
    latent_scale: float = 1.0
    chunk_frames: int = 256  # latent frames per chunk in encode_long / decode_long (~12 s)

    def __post_init__(self) -> None:
        if self.stft_hop < 1 or self.hop_length % self.stft_hop:
            raise UserInputError(
                f"learned codec: hop_length {self.hop_length} is not a multiple of stft_hop {self.stft_hop}"
            )
        if self.kernel_size % 2 == 0:
            raise UserInputError(f"learned codec: kernel_size must be odd, got {self.kernel_size}")
        positive = ("latent_channels", "width", "mlp_ratio", "input_compression", "latent_scale")
        if any(getattr(self, name) <= 0 for name in positive):
            raise UserInputError(f"learned codec: {', '.join(positive)} must be positive: {self}")
        blocks = ("encoder_blocks", "encoder_latent_blocks", "decoder_latent_blocks", "decoder_blocks")
        if any(getattr(self, name) < 0 for name in blocks):
            raise UserInputError(f"learned codec: block counts cannot be negative: {self}")
        StftFraming(self.n_fft, self.stft_hop)  # validates the overlap

    @property
    def frames_per_latent(self) -> int:
        return self.hop_length // self.stft_hop

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def context_frames(self, stft_blocks: int, latent_blocks: int) -> int:
        """Latent frames each side that a chunk needs for the whole-signal result: the reach of the
        STFT window, of the kernels at both rates, and one frame for the resampling."""
        reach = self.kernel_size // 2
        stft_samples = self.n_fft // 2 + reach * stft_blocks * self.stft_hop
        return math.ceil(stft_samples / self.hop_length) + reach * (latent_blocks + 1) + 1


# Tests and the tiny pipeline: 0.29 M parameters, no use for sound.
TINY_LEARNED_CODEC = LearnedCodecConfig(
    latent_channels=8,
    width=32,
    encoder_blocks=1,
    encoder_latent_blocks=1,
    decoder_latent_blocks=1,
    decoder_blocks=1,
    mlp_ratio=2,
)
# To train and ship: 31.7 M parameters, 64 latent channels at 21.5 frames/s.
SMALL_LEARNED_CODEC = LearnedCodecConfig()
# For GPU training on large data: 103 M parameters (Tri-Ergon's VAE has 157 M).
BASE_LEARNED_CODEC = LearnedCodecConfig(
    width=768,
    encoder_blocks=6,
    encoder_latent_blocks=4,
    decoder_latent_blocks=4,
    decoder_blocks=12,
    chunk_frames=512,
)


@dataclass(frozen=True)
class Posterior:
    """Diagonal Gaussian over the (unnormalised) latent [B, C, T]."""

    mean: torch.Tensor
    std: torch.Tensor

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """mean + std x N(0, I), drawn with ``generator`` (on the latent's device)."""
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) per latent value, averaged (scalar)."""
        variance = self.std.square()
        return 0.5 * (self.mean.square() + variance - variance.log() - 1.0).mean()


class SpectralEncoder(nn.Module):
    def __init__(self, config: LearnedCodecConfig):
        super().__init__()
        self.config = config
        self.inputs = nn.Conv1d(2 * 2 * config.bins, config.width, 1)
        self.stft_blocks = stack(config.width, config.encoder_blocks, config.kernel_size, config.mlp_ratio)
        self.down = Downsample(config.width, config.frames_per_latent)
        self.latent_blocks = stack(config.width, config.encoder_latent_blocks, config.kernel_size, config.mlp_ratio)
        self.outputs = nn.Conv1d(config.width, 2 * config.latent_channels, 1)

    def forward(self, spec: torch.Tensor) -> Posterior:
        """Posterior over the latent of a normalised complex spectrogram [B, 2, bins, frames]."""
        batch, _, _, frames = spec.shape
        magnitude = spec.abs()
        compressed = spec * (magnitude + 1e-6).pow(self.config.input_compression - 1.0)
        features = torch.view_as_real(compressed).permute(0, 1, 4, 2, 3).reshape(batch, -1, frames)
        h = self.stft_blocks(self.inputs(features.to(self.inputs.weight.dtype)))
        h = self.outputs(self.latent_blocks(self.down(h))).float()
        mean, scale = h.chunk(2, dim=1)
        # softplus keeps the scale positive and smooth; the floor keeps log-variance finite.
        return Posterior(mean, nn.functional.softplus(scale) + 1e-4)


class SpectralDecoder(nn.Module):
    def __init__(self, config: LearnedCodecConfig):
        super().__init__()
        self.config = config
        self.inputs = nn.Conv1d(config.latent_channels, config.width, 1)
        self.latent_blocks = stack(config.width, config.decoder_latent_blocks, config.kernel_size, config.mlp_ratio)
        self.up = Upsample(config.width, config.frames_per_latent)
        self.stft_blocks = stack(config.width, config.decoder_blocks, config.kernel_size, config.mlp_ratio)
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, 2 * 2 * config.bins)
        with torch.no_grad():
            self.head.bias.view(2, 2, config.bins)[:, 0] = INITIAL_LOG_MAGNITUDE

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Normalised complex spectrogram [B, 2, bins, frames] of an (unnormalised) latent [B, C, T]."""
        h = self.stft_blocks(self.up(self.latent_blocks(self.inputs(latent.to(self.inputs.weight.dtype)))))
        out = self.head(self.norm(h.transpose(1, 2))).float()  # [B, frames, 2 * 2 * bins]
        batch, frames, _ = out.shape
        out = out.reshape(batch, frames, 2, 2, self.config.bins).permute(0, 2, 3, 4, 1)
        log_magnitude, phase = out[:, :, 0], out[:, :, 1]
        magnitude = log_magnitude.clamp(max=MAX_LOG_MAGNITUDE).exp()
        return torch.complex(magnitude * phase.cos(), magnitude * phase.sin())


class LearnedCodec(AudioCodec):
    """Stereo waveform VAE; latent [B, latent_channels, T] at 44100 / hop_length frames/s."""

    def __init__(self, config: LearnedCodecConfig = SMALL_LEARNED_CODEC):
        chunking = Chunking(
            chunk_frames=config.chunk_frames,
            encode_context=config.context_frames(config.encoder_blocks, config.encoder_latent_blocks),
            decode_context=config.context_frames(config.decoder_blocks, config.decoder_latent_blocks),
        )
        super().__init__(config.latent_channels, config.hop_length, chunking)
        self.config = config
        self.framing = StftFraming(config.n_fft, config.stft_hop)
        # Spectra are scaled so that full-scale white noise has magnitude ~1 in every bin.
        self._spectrum_scale = math.sqrt(self.framing.power_scale(torch.device("cpu")))
        self.encoder = SpectralEncoder(config)
        self.decoder = SpectralDecoder(config)

    def posterior(self, wave: torch.Tensor) -> Posterior:
        """The encoder's posterior for a wave [B, 2, T * hop] (training; ``encode`` pads and checks)."""
        return self.encoder(self.framing.analyse(wave) * self._spectrum_scale)

    def synthesise(self, latent: torch.Tensor) -> torch.Tensor:
        """Wave [B, 2, T * hop] of an *unnormalised* latent (training; ``decode`` checks and normalises)."""
        return self.framing.synthesise(self.decoder(latent) / self._spectrum_scale)

    def reconstruct(
        self, wave: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, Posterior]:
        """Training pass: a sampled latent decoded, and the posterior (for the KL term). ``wave`` is
        padded to whole latent frames; the reconstruction has the padded length."""
        posterior = self.posterior(self.padded(wave))
        return self.synthesise(posterior.sample(generator)), posterior

    def _encode(self, wave: torch.Tensor) -> torch.Tensor:
        mean = self.posterior(wave).mean
        return (mean - self.config.latent_shift) / self.config.latent_scale

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self.synthesise(latent * self.config.latent_scale + self.config.latent_shift)
