"""Training objective of the learned codec: stereo multi-resolution STFT + waveform L1 + KL.

    total = spectral x mr_stft([L, R, M, S]) + waveform x mean|x̂ - x| + kl x KL(q(z|x) || N(0, I))

* Spectral: ``metrics.mr_stft_distance`` over left, right, mid (L+R)/2 and side (L-R)/2 together
  — Tri-Ergon and Stable Audio train on sum-and-difference STFT losses so that the stereo image,
  not only each channel's spectrum, is reconstructed. One joint norm over all four keeps a near-
  silent side channel (mono sources) from dividing by almost nothing. A-weighting is not applied.
* Waveform L1 with a small weight (as EnCodec): anchors phase and absolute level.
* KL per latent value, small weight (Stable Audio uses 1e-4), so the latent stays close to a
  standard normal that the DiT can model.
* Adversarial and feature-matching terms (Tri-Ergon: 0.1 and 5.0 with a multi-scale STFT
  discriminator) are omitted here: they need a discriminator and a second optimiser, which belong
  to the trainer of the training issue; its total is this loss plus those terms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from foleystudio.engine.codec.base import check_wave
from foleystudio.engine.codec.learned import LearnedCodec
from foleystudio.engine.codec.metrics import mr_stft_distance


@dataclass(frozen=True)
class CodecLossWeights:
    spectral: float = 1.0
    waveform: float = 0.1
    kl: float = 1e-4


@dataclass(frozen=True)
class CodecLoss:
    """The weighted total (to call ``backward`` on) and its unweighted parts (to log)."""

    total: torch.Tensor
    spectral: torch.Tensor
    waveform: torch.Tensor
    kl: torch.Tensor


def mid_side_stack(wave: torch.Tensor) -> torch.Tensor:
    """[B, 4, n]: left, right, mid, side of a stereo wave [B, 2, n]."""
    left, right = wave[:, 0], wave[:, 1]
    return torch.stack([left, right, 0.5 * (left + right), 0.5 * (left - right)], dim=1)


def codec_loss(
    codec: LearnedCodec,
    wave: torch.Tensor,
    generator: torch.Generator | None = None,
    weights: CodecLossWeights = CodecLossWeights(),
) -> CodecLoss:
    """The training loss of ``codec`` on a batch of waves [B, 2, n]; ``generator`` draws the latent sample."""
    wave = check_wave(wave, codec.channels).float()
    reconstruction, posterior = codec.reconstruct(wave, generator)
    reconstruction = reconstruction[..., : wave.shape[-1]]
    spectral = mr_stft_distance(mid_side_stack(wave), mid_side_stack(reconstruction))
    waveform = (reconstruction - wave).abs().mean()
    kl = posterior.kl()
    total = weights.spectral * spectral + weights.waveform * waveform + weights.kl * kl
    return CodecLoss(total=total, spectral=spectral, waveform=waveform, kl=kl)
