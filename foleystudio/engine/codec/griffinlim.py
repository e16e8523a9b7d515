"""Phase reconstruction from an STFT magnitude: the fast Griffin-Lim algorithm, optionally
constrained to band envelopes and to a peak bound.

Fast Griffin-Lim (Perraudin, Balazs, Søndergaard 2013) alternates two projections — onto spectra
with the given magnitude, and onto consistent spectra (STFT of an inverse STFT) — with a momentum
term ``alpha`` that converges in far fewer iterations than plain Griffin-Lim (alpha = 0).

Three options serve the analytic codec, whose latent fixes only the mean power of each mel band:

* **Band envelopes** (``BandEnvelopes``): the magnitude projection keeps each bin's fine structure
  and rescales the bins so that every band's mean power is the target's, instead of imposing the
  triangles' smooth spread on every bin. The set of spectra the latent allows is larger, so the
  iteration finds more consistent ones.
* **Peak bound** (``peak_clip``): before each consistency projection the wave is clipped at
  ``peak_clip`` times its local RMS. Random-phase Griffin-Lim decodes dense sounds with the peak
  statistics of Gaussian noise, spikier than the recordings they describe (engines and crowds in
  game libraries are limited hard); a spikier take cannot be as loud under a true-peak ceiling, so
  conformance fell short on them. Clipping and re-imposing the band powers (clipping and filtering,
  as in multicarrier peak-to-average reduction) lowers the peaks and moves the clipping's products
  into the phase and fine structure that the latent leaves free; the band powers are the latent's.
* **Loudness kept** (``BinMagnitudes`` with ``kweighting``): after the last synthesis each
  STFT frame's K-weighted energy is brought back to the target's by a smooth gain.

Written here rather than taken from torchaudio so that the starting phase comes from the caller:
shared by both channels, and indexed by absolute frame so that a chunk of a long signal starts from
the same phase as the whole (see ``AnalyticCodec``), with no global random state involved.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from foleystudio.engine.codec.spectral import StftFraming

# The local RMS that bounds the peaks is taken over this many STFT hops (centred).
PEAK_WINDOW_HOPS = 3


def unit_phase(spec: torch.Tensor) -> torch.Tensor:
    """spec / |spec|; 0 where spec is exactly 0 (that bin is silent for one iteration, and the
    next consistent projection gives it a phase from its neighbours)."""
    return spec / spec.abs().clamp_min(1e-30)


class MagnitudeProjection:
    """What Griffin-Lim imposes on each iterate's spectrum; subclasses say how (``project``)."""

    def __init__(self, magnitude: torch.Tensor):
        self.magnitude = magnitude

    def start(self, phase: torch.Tensor) -> torch.Tensor:
        return self.magnitude * phase

    def project(self, spec: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def finish(self, wave: torch.Tensor, framing: StftFraming) -> torch.Tensor:
        """The decoded wave, corrected if the projection needs it (as it is, here)."""
        return wave


class BinMagnitudes(MagnitudeProjection):
    """Projection onto spectra with exactly the given magnitude in every bin (plain Griffin-Lim).

    With ``kweighting`` [bins] (the K filter's power gain at each bin), ``finish`` brings each
    STFT frame's K-weighted energy, hence its loudness, to the target magnitude's
    (``restore_frame_energy``): the synthesis of an inconsistent spectrum loses energy, and how much
    depends on the sound (its transients, and how peaky the imposed shape is), so a decode was up
    to a few tenths of a LU too quiet or too loud, differently for each clip.
    """

    def __init__(self, magnitude: torch.Tensor, kweighting: torch.Tensor | None = None):
        super().__init__(magnitude)
        self.kweighting = kweighting

    def project(self, spec: torch.Tensor) -> torch.Tensor:
        return self.magnitude * unit_phase(spec)

    def finish(self, wave: torch.Tensor, framing: StftFraming) -> torch.Tensor:
        if self.kweighting is None:
            return wave
        return restore_frame_energy(wave, framing, self.magnitude.square(), self.kweighting)


class BandEnvelopes(MagnitudeProjection):
    """Projection onto spectra whose band powers are the target's, fine structure left free.

    ``magnitude`` [B, C, bins, frames] is a band envelope spread back to the bins by ``filterbank``
    [bins, bands] (the triangles of ``spectral.partition_mel_filterbank``): the projection measures a
    spectrum's band means the same way, spreads them back the same way, and scales each bin by the
    square root of target over measured. A spectrum whose band means already match is unchanged.
    """

    def __init__(self, magnitude: torch.Tensor, filterbank: torch.Tensor, band_widths: torch.Tensor):
        super().__init__(magnitude)
        self.target_power = magnitude.square()
        self.filterbank = filterbank.float()
        self.band_widths = band_widths.float()

    def project(self, spec: torch.Tensor) -> torch.Tensor:
        power = (spec.real.square() + spec.imag.square()).transpose(-1, -2)
        spread = ((power @ self.filterbank) / self.band_widths) @ self.filterbank.T
        return spec * (self.target_power / spread.transpose(-1, -2).clamp_min(1e-30)).sqrt()

    def finish(self, wave: torch.Tensor, framing: StftFraming) -> torch.Tensor:
        """``wave`` with each STFT frame's energy brought to the target's (``restore_frame_energy``).

        The synthesis drops the part of the last spectrum that no wave has; with band envelopes
        that part is not uniform in level (a steady tone came out 0.2-0.4 dB loud), so the codec
        restores each frame's energy, hence its loudness, as its latent says.
        """
        return restore_frame_energy(wave, framing, self.target_power)


def restore_frame_energy(wave: torch.Tensor, framing: StftFraming, target_power: torch.Tensor,
                         bin_weights: torch.Tensor | None = None) -> torch.Tensor:
    """``wave`` [B, C, n] times a smooth gain that brings each STFT frame's energy (bins weighted by
    ``bin_weights`` [bins] if given) to that of ``target_power`` [B, C, bins, frames]: one more
    analysis measures each frame, and the gain is interpolated linearly between frame centres."""
    measured = framing.analyse(wave)
    power = measured.real.square() + measured.imag.square()
    if bin_weights is not None:
        weights = bin_weights.to(power.dtype)[:, None]
        power, target_power = power * weights, target_power * weights
    energy, wanted = power.sum(dim=-2), target_power.sum(dim=-2)
    gain = torch.where(energy > 0, (wanted / energy.clamp_min(1e-30)).sqrt(), torch.ones_like(energy))
    frames, samples = gain.shape[-1], wave.shape[-1]
    # Frame j is centred on sample j * hop: linear between centres, held after the last.
    position = torch.arange(samples, device=wave.device, dtype=torch.float32) / framing.hop
    before = position.floor().long().clamp(max=frames - 1)
    after = (before + 1).clamp(max=frames - 1)
    weight = (position - before).clamp(max=1.0)
    per_sample = gain[..., before] * (1.0 - weight) + gain[..., after] * weight
    return wave * per_sample


def griffin_lim(
    magnitude: torch.Tensor,
    phase: torch.Tensor,
    framing: StftFraming,
    iterations: int,
    alpha: float = 0.99,
    *,
    projection: MagnitudeProjection | None = None,
    peak_clip: float = 0.0,
) -> torch.Tensor:
    """The wave [B, C, frames * hop] whose STFT magnitude approaches ``magnitude`` [B, C, bins, frames],
    starting from ``phase`` (unit complex, broadcastable to the magnitude's shape).

    ``projection`` defaults to ``BinMagnitudes(magnitude)``; ``peak_clip`` > 0 clips every iterate
    at that many times its local RMS (see the module notes); the output is the last projection's
    synthesis, not clipped itself.
    """
    projection = projection or BinMagnitudes(magnitude)
    target = projection.start(phase)
    previous = None
    for _ in range(iterations):
        wave = framing.synthesise(target)
        if peak_clip > 0:
            wave = clip_to_local_rms(wave, peak_clip, framing.hop)
        consistent = framing.analyse(wave)
        accelerated = consistent if previous is None else consistent + alpha * (consistent - previous)
        previous = consistent
        target = projection.project(accelerated)
    return projection.finish(framing.synthesise(target), framing)


def clip_to_local_rms(wave: torch.Tensor, ratio: float, hop: int) -> torch.Tensor:
    """``wave`` [B, C, n] (n a multiple of ``hop``) clipped at ``ratio`` x its RMS over the
    PEAK_WINDOW_HOPS hops around each sample (hop energies, averaged, interpolated per sample:
    no long running sums, so float32 stays exact on hours of audio)."""
    batch, channels, samples = wave.shape
    energy = wave.square().reshape(batch * channels, 1, samples // hop, hop).mean(dim=-1)
    smoothed = F.avg_pool1d(energy, PEAK_WINDOW_HOPS, stride=1, padding=PEAK_WINDOW_HOPS // 2,
                            count_include_pad=False)
    per_sample = F.interpolate(smoothed, size=samples, mode="linear", align_corners=False)
    bound = ratio * per_sample.reshape(batch, channels, samples).sqrt()
    return torch.maximum(torch.minimum(wave, bound), -bound)
