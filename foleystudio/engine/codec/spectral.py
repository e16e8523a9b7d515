"""Short-time Fourier framing shared by the codecs, and an energy-preserving mel filterbank.

Framing convention (both codecs): a wave of ``frames * hop`` samples has exactly ``frames`` STFT
frames; frame j is centred on sample ``j * hop`` (zero padding before the start and after the end).
torch's centred STFT yields one frame more (centred on the very last sample); it is dropped on
analysis and re-created on synthesis by repeating the last frame, so that a chunk of a signal cut
at a multiple of the hop has the same frames as the whole signal had there.

Everything runs in float32 (torch has no half-precision FFT on the CPU) and uses only ``torch.stft``
/ ``torch.istft``, which CUDA and MPS support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from foleystudio.errors import UserInputError


@dataclass(frozen=True)
class StftFraming:
    """A Hann-windowed STFT of ``n_fft`` points every ``hop`` samples, on [batch, channels, n] waves."""

    n_fft: int
    hop: int

    def __post_init__(self) -> None:
        if self.hop < 1 or self.n_fft < 2 * self.hop:
            # Below 50 % overlap a Hann window no longer sums to a nonzero envelope everywhere.
            raise UserInputError(f"STFT needs n_fft >= 2 x hop, got n_fft={self.n_fft}, hop={self.hop}")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1

    def window(self, device: torch.device) -> torch.Tensor:
        return torch.hann_window(self.n_fft, periodic=True, device=device, dtype=torch.float32)

    def power_scale(self, device: torch.device) -> float:
        """1 / sum(window²): turns |X|² into a power density independent of n_fft (white noise of
        variance s² reads s² in every bin)."""
        return 1.0 / float(self.window(device).square().sum())

    def analyse(self, wave: torch.Tensor) -> torch.Tensor:
        """Complex spectrogram [B, C, bins, n // hop] of a float wave [B, C, n] (n a multiple of hop)."""
        batch, channels, samples = wave.shape
        flat = wave.reshape(batch * channels, samples).float()
        spec = torch.stft(
            flat,
            self.n_fft,
            hop_length=self.hop,
            window=self.window(wave.device),
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        frames = samples // self.hop
        return spec[..., :frames].reshape(batch, channels, self.bins, frames)

    def synthesise(self, spec: torch.Tensor) -> torch.Tensor:
        """The wave [B, C, frames * hop] whose STFT is closest to the complex ``spec`` [B, C, bins, frames]."""
        batch, channels, bins, frames = spec.shape
        flat = spec.reshape(batch * channels, bins, frames)
        flat = torch.cat([flat, flat[..., -1:]], dim=-1)  # the frame centred on the last sample
        wave = torch.istft(
            flat,
            self.n_fft,
            hop_length=self.hop,
            window=self.window(spec.device),
            center=True,
            length=frames * self.hop,
        )
        return wave.reshape(batch, channels, frames * self.hop)


def hz_to_mel(hz):
    """HTK mel scale."""
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_to_hz(mel):
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def partition_mel_filterbank(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    """Triangular mel filters [bins, n_mels] that sum to exactly 1 at every FFT bin.

    Centres are mel-spaced from 0 Hz to Nyquist and every triangle reaches from its neighbours'
    centres, so the weights form a partition of unity. Band values taken as weighted *means* of the
    power density and spread back with the same triangles therefore keep the total energy (see
    ``analytic.py``), which is what keeps loudness right through the analytic codec.
    """
    bins = n_fft // 2 + 1
    freqs = torch.linspace(0.0, sample_rate / 2.0, bins, dtype=torch.float64)
    top = hz_to_mel(sample_rate / 2.0)
    centres = torch.tensor([mel_to_hz(top * i / (n_mels - 1)) for i in range(n_mels)], dtype=torch.float64)
    # Piecewise-linear interpolation weights between neighbouring centres: a partition of unity.
    weights = torch.zeros(bins, n_mels, dtype=torch.float64)
    upper = torch.searchsorted(centres, freqs, right=True).clamp(1, n_mels - 1)
    lower = upper - 1
    span = centres[upper] - centres[lower]
    to_upper = ((freqs - centres[lower]) / span).clamp(0.0, 1.0)
    rows = torch.arange(bins)
    weights[rows, lower] += 1.0 - to_upper
    weights[rows, upper] += to_upper
    empty = (weights.sum(dim=0) == 0).nonzero().flatten().tolist()
    if empty:
        raise UserInputError(
            f"{n_mels} mel bands are too many for n_fft={n_fft}: bands {empty[:5]} contain no FFT bin"
        )
    return weights.float()
