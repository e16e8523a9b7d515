"""Reconstruction measures of a codec, shared by the benchmark, the tests and codec training.

* ``mr_stft_distance`` — multi-resolution STFT distance (Yamamoto et al. 2020, as in auraloss): for
  each (n_fft, hop) in ``STFT_RESOLUTIONS``, spectral convergence ||S - Ŝ||_F / ||S||_F plus the mean
  absolute difference of natural-log magnitudes (magnitudes floored at 1e-4), averaged over the
  resolutions. Differentiable: the codec loss uses it. 0 for identical signals; ~1-3 for unrelated.
* ``log_mel_l1_db`` — mean absolute difference, in dB, of 80-band (Slaney) mel power spectra at
  n_fft 2048 / hop 512, each floored at ``MEL_FLOOR_DB`` dB re full-scale white noise (so silence
  decoded as faint noise below the floor costs nothing).
* ``loudness_curve_error_lu`` — mean absolute difference, in LU, between the per-channel loudness
  curves (DESIGN.md §2: 1/6 s K-weighted frames) of reference and estimate, over the frames where the
  reference is above -60 LUFS; NaN where no frame is.

* ``tonal_excess_db`` — how far the strongest narrow lines of a wave's long-term spectrum stand
  above their surroundings (mean of the ``LINE_COUNT`` largest excesses over a ``LINE_MEDIAN_BINS``
  running median, 200 Hz - 20 kHz): ~2 dB for white noise. ``spurious_tone_db`` compares a decode
  with its reference, and is positive when the decoder added whistles the reference did not have.

Waves are [..., n] torch tensors (the loudness error takes (2, n) arrays); an estimate longer than
the reference (a decode is padded to whole latent frames) is cut to the reference's length.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torchaudio.functional
from scipy.ndimage import median_filter

from foleystudio.audio.loudness import loudness_curve
from foleystudio.errors import UserInputError

STFT_RESOLUTIONS = ((2048, 512), (1024, 256), (512, 128), (256, 64), (128, 32))
MAGNITUDE_FLOOR = 1e-4
MEL_BANDS = 80
MEL_N_FFT = 2048
MEL_HOP = 512
MEL_FLOOR_DB = -80.0
ACTIVE_LUFS = -60.0


def _aligned(reference: torch.Tensor, estimate: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if estimate.shape[-1] < reference.shape[-1] or estimate.shape[:-1] != reference.shape[:-1]:
        raise UserInputError(
            f"estimate of shape {tuple(estimate.shape)} does not cover reference of shape {tuple(reference.shape)}"
        )
    return reference.float(), estimate[..., : reference.shape[-1]].float()


def _magnitude(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    flat = wave.reshape(-1, wave.shape[-1])
    window = torch.hann_window(n_fft, periodic=True, device=wave.device, dtype=torch.float32)
    spec = torch.stft(flat, n_fft, hop, window=window, center=True, pad_mode="constant", return_complex=True)
    return (spec.real.square() + spec.imag.square()).clamp_min(MAGNITUDE_FLOOR**2).sqrt()


def mr_stft_distance(reference: torch.Tensor, estimate: torch.Tensor, resolutions=STFT_RESOLUTIONS) -> torch.Tensor:
    """Multi-resolution STFT distance (scalar tensor, differentiable) between waves [..., n]."""
    reference, estimate = _aligned(reference, estimate)
    total = reference.new_zeros(())
    for n_fft, hop in resolutions:
        ref, est = _magnitude(reference, n_fft, hop), _magnitude(estimate, n_fft, hop)
        convergence = torch.linalg.vector_norm(ref - est) / torch.linalg.vector_norm(ref).clamp_min(1e-6)
        log_difference = (ref.log() - est.log()).abs().mean()
        total = total + convergence + log_difference
    return total / len(resolutions)


@functools.lru_cache(maxsize=4)
def _mel_filterbank(sample_rate: int) -> torch.Tensor:
    return torchaudio.functional.melscale_fbanks(
        MEL_N_FFT // 2 + 1, 0.0, sample_rate / 2.0, MEL_BANDS, sample_rate, norm="slaney", mel_scale="slaney"
    )


def log_mel_db(wave: torch.Tensor, sample_rate: int = 44100) -> torch.Tensor:
    """Mel power spectrum in dB [..., frames, MEL_BANDS], floored at MEL_FLOOR_DB."""
    window = torch.hann_window(MEL_N_FFT, periodic=True, device=wave.device, dtype=torch.float32)
    flat = wave.reshape(-1, wave.shape[-1]).float()
    spec = torch.stft(flat, MEL_N_FFT, MEL_HOP, window=window, center=True, pad_mode="constant", return_complex=True)
    # Power density: white noise of variance s² reads s² in every bin, whatever n_fft.
    power = (spec.real.square() + spec.imag.square()) / window.square().sum()
    filterbank = _mel_filterbank(sample_rate).to(wave.device)
    mel = power.transpose(-1, -2) @ (filterbank / filterbank.sum(dim=0).clamp_min(1e-12))
    decibels = 10.0 * torch.log10(mel.clamp_min(10.0 ** (MEL_FLOOR_DB / 10.0)))
    return decibels.reshape(*wave.shape[:-1], *decibels.shape[-2:])


def log_mel_l1_db(reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int = 44100) -> torch.Tensor:
    """Mean absolute log-mel difference in dB (scalar tensor) between waves [..., n]."""
    reference, estimate = _aligned(reference, estimate)
    return (log_mel_db(reference, sample_rate) - log_mel_db(estimate, sample_rate)).abs().mean()


def loudness_curve_error_lu(reference, estimate, sample_rate: int = 44100) -> float:
    """Mean |curve(estimate) - curve(reference)| in LU over the frames where the reference is above
    -60 LUFS (each channel by its own reference value); NaN if there is no such frame."""
    reference = np.asarray(reference, dtype=np.float32)
    estimate = np.asarray(estimate, dtype=np.float32)
    if reference.ndim != 2 or estimate.shape[0] != reference.shape[0] or estimate.shape[1] < reference.shape[1]:
        raise UserInputError(
            f"estimate of shape {estimate.shape} does not cover reference of shape {reference.shape}"
        )
    ref_curve = loudness_curve(reference, sample_rate)
    est_curve = loudness_curve(estimate[:, : reference.shape[1]], sample_rate)
    ref = np.stack([ref_curve.left, ref_curve.right])
    est = np.stack([est_curve.left, est_curve.right])
    active = ref > ACTIVE_LUFS
    return float(np.abs(est - ref)[active].mean()) if active.any() else float("nan")


@dataclass(frozen=True)
class ReconstructionScores:
    """The three measures for one reference/estimate pair (see the module docstring)."""

    mr_stft: float
    log_mel_l1_db: float
    loudness_error_lu: float  # NaN when the reference never rises above -60 LUFS


def reconstruction_scores(
    reference: torch.Tensor, estimate: torch.Tensor, sample_rate: int = 44100
) -> ReconstructionScores:
    """All three measures for a stereo reference [2, n] and its reconstruction [2, >= n]."""
    with torch.no_grad():
        return ReconstructionScores(
            mr_stft=float(mr_stft_distance(reference, estimate)),
            log_mel_l1_db=float(log_mel_l1_db(reference, estimate, sample_rate)),
            loudness_error_lu=loudness_curve_error_lu(reference.cpu().numpy(), estimate.cpu().numpy(), sample_rate),
        )


LINE_N_FFT = 8192  # 5.4 Hz bins: a steady tone stands out of noise by tens of dB
LINE_MEDIAN_BINS = 41  # the surroundings a line is measured against (about 220 Hz)
LINE_COUNT = 10
LINE_BAND_HZ = (200.0, 20000.0)


def tonal_excess_db(wave, sample_rate: int = 44100) -> float:
    """Mean of the ``LINE_COUNT`` largest dB excesses of the mono mix's long-term power spectrum
    (Hann, ``LINE_N_FFT`` points, half overlap) over its ``LINE_MEDIAN_BINS``-bin running median,
    within ``LINE_BAND_HZ``. NaN for a wave shorter than one window or silent."""
    samples = np.asarray(wave, dtype=np.float64)
    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    if mono.shape[-1] < LINE_N_FFT:
        return float("nan")
    frames = np.lib.stride_tricks.sliding_window_view(mono, LINE_N_FFT)[:: LINE_N_FFT // 2] * np.hanning(LINE_N_FFT)
    power = np.square(np.abs(np.fft.rfft(frames, axis=1))).mean(axis=0)
    if not power.any():
        return float("nan")
    level = 10.0 * np.log10(power + power.max() * 1e-12)
    surroundings = median_filter(level, LINE_MEDIAN_BINS, mode="nearest")
    frequencies = np.fft.rfftfreq(LINE_N_FFT, 1.0 / sample_rate)
    inside = (frequencies >= LINE_BAND_HZ[0]) & (frequencies <= LINE_BAND_HZ[1])
    excess = np.sort((level - surroundings)[inside])[::-1]
    return float(excess[:LINE_COUNT].mean())


def spurious_tone_db(reference, estimate, sample_rate: int = 44100) -> float:
    """How much more tonal the estimate's long-term spectrum is than the reference's, in dB (0 when
    it is not more tonal): whistles a decoder added (see ``tonal_excess_db``)."""
    difference = tonal_excess_db(estimate, sample_rate) - tonal_excess_db(reference, sample_rate)
    return max(0.0, difference) if math.isfinite(difference) else float("nan")
