"""The analytic codec: per-channel log-mel frames as the latent, Griffin-Lim to decode. The encoder
needs no training; the decoder may have a trained refiner (``refiner``) for the shape within bands.

It exists so that the whole generation path runs (and is tested) before a learned codec is trained,
and as the baseline the learned codec must beat (``bench/codec.py``).

Choices (measured with ``bench/codec.py``; see the report of issue 3):
* **Latent frame = several STFT frames.** A 2048-sample latent hop (21.5 frames/s, the DiT's rate)
  with a 2048-sample STFT hop would need an ~8192-point window for Griffin-Lim and smear a footstep
  over 190 ms. Instead the STFT runs at a 512-sample hop with a 2048-point (46 ms) window, and the
  ``hop_length // stft_hop`` STFT frames of one latent frame are stacked as latent channels.
* **Energy-preserving mel bands.** Band values are weighted *means* of the power density under
  triangles that sum to one at every bin (``partition_mel_filterbank``); decoding spreads them back
  with the same triangles, so each frame's energy — hence loudness — survives the mel reduction
  exactly, and only the spectral detail within a band is lost.
* **Per channel, shared phase.** Left and right are coded separately (the loudness curve is per
  channel). Griffin-Lim starts both channels from the same phase, so a centred (mono) source
  decodes identically in both channels instead of with random interchannel phase.
* **Fixed affine normalisation.** latent = (10 log10(band power density) - offset_db) / scale_db,
  floored at ``floor_db`` (dB re full-scale white noise). With offset -50 dB and scale 30 dB the
  floor (-100 dB) maps to -1.67 and full-scale white noise to +1.67; the 107 real clips of the
  benchmark (Debian game sounds) give mean -0.03 and standard deviation 1.12.
* **64 bands, 16 iterations.** Measured on those clips (MR-STFT / log-mel L1 dB / loudness LU):
  32 bands 1.53 / 4.2 / 0.26, 64 bands 1.34 / 2.63 / 0.21, 128 bands 1.18 / 1.5 / 0.19 (1024
  latent channels: too wide for the DiT). With the original phase, 64 bands would reach an
  MR-STFT of 0.74: the rest is Griffin-Lim's. 8/16/32/64 iterations: loudness error 0.25 / 0.21 /
  0.19 / 0.17 LU at proportional cost; 16 halves the decode time of 32 for 0.02 LU.
* **Band envelopes, peaks bounded** (the small and compact presets; ``griffinlim``). The latent
  fixes only each band's mean power, so Griffin-Lim imposes just that and clips every iterate at 2 x
  its local RMS. Plain Griffin-Lim decoded dense sounds with a Gaussian's peaks, which cannot be as
  loud under a -1 dBTP ceiling as the limited recordings they came from. On 200 training clips of
  dense categories (40 at random / the 30 worst): MR-STFT 1.47 -> 1.38 / 1.61 -> 1.48, loudness
  error 0.63 -> 0.31 / 0.52 -> 0.21 LU, error after conformance 0.39 -> 0.07 / 1.68 -> 0.65 LU; 2
  x RMS keeps typical clips' 2 ms envelope peaks (random 40: 12.2 dB against the real 12.5; 1.5 x: 11.1).
* **Trained within-band shape** (``refiner_width`` > 0; foley-small). A small network predicts, from
  the band levels around each frame, how the bins of each band deviate from the even spread; the
  band means stay the latent's. On 40 training clips (MR-STFT / log-mel L1 dB / loudness LU): band
  envelopes 1.35 / 2.96 / 0.56, the refiner 1.23 / 2.53 / 0.38; the real magnitude with
  Griffin-Lim's phase would score 0.63 / 0.36 / 0.17, so the shape was most of what was missing.
  Its correction can be averaged along frequency over part of each band (``refiner_smoothing``):
  foley-small's refiner put lines 17-22 dB high at seven fixed bins into every decode, whistles
  that 0.125 band widths remove (80 training clips: ``bench/codec.py``'s spurious tone 7.9 -> 0.1
  dB, MR-STFT 1.244 -> 1.257, log-mel 2.11 -> 2.05 dB, loudness 0.133 -> 0.137 LU).
* **Loudness kept** (``griffin_lim_keep_loudness``; foley-small). Griffin-Lim's last synthesis
  loses a sound-dependent part of the imposed energy, so each STFT frame's K-weighted energy is
  brought back to the imposed magnitude's by a smooth gain (``griffinlim.restore_frame_energy``).
  On 80 training clips, loudness-curve error: refiner 0.370 LU, with this finish 0.252, with a
  refiner also trained on loudness (``RefinerTask`` ``loudness_weight``) 0.116; the spectral
  measures move by under 0.01 / 0.03 dB.
* **Trained phase** (``phase_decoder_width`` > 0; tried on foley-small, not shipped). A network
  reads the imposed magnitude and predicts every bin's phase (``phase_decoder``), used as it is:
  no Griffin-Lim iterations after it (they pulled a probe's phase back to Griffin-Lim's own
  score), the loudness finish kept. With the clip's own phase and no iterations the magnitude
  would score 0.76 MR-STFT on 60 held-out clips against Griffin-Lim's 1.26
  (``bench/decoder_phase.py``). Trained on MR-STFT + log-mel, it beat Griffin-Lim on all 259
  held-out clips (1.064 against 1.187 MR-STFT, log-mel and loudness too, 4.6 x faster) but
  rendered noise smooth instead of speckled and peaked higher, which the codec measures do not
  see (foley-small's card, "A trained phase decoder").
* **Deterministic phase.** Griffin-Lim starts from a fixed pseudo-random phase table indexed by
  *absolute* STFT frame (period ``PHASE_PERIOD`` frames), drawn once from ``phase_seed`` with a
  local generator. A chunk therefore starts from the same phase as the whole-signal decode, and
  since each iteration only reaches a window's length further, 6 latent frames of context make the
  chunked decode equal to the whole one within ~1e-6 relative RMS (1e-4 asserted in the tests).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from foleystudio.audio.kweighting import kweighting_power_gain
from foleystudio.engine.codec.base import AudioCodec, Chunking
from foleystudio.engine.codec.griffinlim import BandEnvelopes, BinMagnitudes, griffin_lim
from foleystudio.engine.codec.phase_decoder import PhaseDecoder
from foleystudio.engine.codec.refiner import MagnitudeRefiner, correction_smoothing, shaped_bin_power
from foleystudio.engine.codec.spectral import StftFraming, partition_mel_filterbank
from foleystudio.engine.config_io import READ_DEFAULT_IF_ABSENT
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

# STFT frames after which the starting phase table repeats (about 12 s at a 512-sample hop).
PHASE_PERIOD = 1024
BS1770_OFFSET_LU = -0.691  # loudness = -0.691 + 10 log10(K-weighted mean square)
LOUDNESS_EPSILON = 1e-12  # keeps the log finite for an all-floor latent (about -120 LUFS)
PROJECTIONS = ("bins", "bands")  # Griffin-Lim's magnitude projection: see AnalyticCodecConfig
DEFAULT_GRIFFIN_LIM_ITERATIONS = 16


@dataclass(frozen=True)
class AnalyticCodecConfig:
    """Log-mel + Griffin-Lim codec settings. latent_channels = 2 x n_mels x (hop_length // stft_hop)."""

    hop_length: int = 2048  # samples per latent frame: 21.53 frames/s
    stft_hop: int = 512  # samples per STFT frame; hop_length // stft_hop frames are stacked
    n_fft: int = 2048
    n_mels: int = 64
    griffin_lim_iterations: int = DEFAULT_GRIFFIN_LIM_ITERATIONS
    griffin_lim_alpha: float = 0.99  # fast Griffin-Lim momentum
    # "bins": every bin gets the triangles' smooth spread of its bands (plain Griffin-Lim);
    # "bands": only each band's mean power is imposed (``griffinlim.BandEnvelopes``).
    # Model folders written before these two existed decode as they were evaluated: bins, no clip.
    griffin_lim_projection: str = field(default="bins", metadata={READ_DEFAULT_IF_ABSENT: True})
    griffin_lim_peak_clip: float = field(default=0.0, metadata={READ_DEFAULT_IF_ABSENT: True})  # x local RMS; 0: off
    # "bins" only: after Griffin-Lim, each STFT frame's K-weighted energy is brought back to the
    # imposed magnitude's (``griffinlim.restore_frame_energy``), so the decode is as loud as its latent.
    griffin_lim_keep_loudness: bool = field(default=False, metadata={READ_DEFAULT_IF_ABSENT: True})
    # Width of the trained within-band shape (``refiner.MagnitudeRefiner``); 0: none, the triangles'
    # even spread (no parameters, as before it existed).
    refiner_width: int = field(default=0, metadata={READ_DEFAULT_IF_ABSENT: True})
    # The refiner's per-bin correction is averaged along frequency over a triangle window this many
    # local band widths wide (``refiner.correction_smoothing``); 0: as the refiner predicts it.
    refiner_smoothing: float = field(default=0.0, metadata={READ_DEFAULT_IF_ABSENT: True})
    # Width of the trained phase predictor (``phase_decoder.PhaseDecoder``); 0: none, Griffin-Lim
    # starts from the fixed phase table. With one, Griffin-Lim starts from its phase instead
    # (``training.tasks.with_phase_decoder`` sets no iterations: they undo most of what it gains).
    phase_decoder_width: int = field(default=0, metadata={READ_DEFAULT_IF_ABSENT: True})
    floor_db: float = -100.0  # band power densities below this (dB re full-scale white noise) read as it
    offset_db: float = -50.0  # normalisation: latent = (dB - offset_db) / scale_db
    scale_db: float = 30.0
    phase_seed: int = 0
    chunk_frames: int = 512  # latent frames per chunk in encode_long / decode_long (~24 s)
    decode_context: int = 6  # latent frames of context each side of a chunk (Griffin-Lim's reach)
    decode_crossfade: int = 2  # latent frames crossfaded at each join

    def __post_init__(self) -> None:
        if self.stft_hop < 1 or self.hop_length % self.stft_hop:
            raise UserInputError(
                f"analytic codec: hop_length {self.hop_length} is not a multiple of stft_hop {self.stft_hop}"
            )
        if self.n_mels < 2 or self.griffin_lim_iterations < 0 or self.scale_db <= 0:
            raise UserInputError(f"analytic codec: invalid settings {self}")
        if self.griffin_lim_projection not in PROJECTIONS:
            raise UserInputError(
                f"analytic codec: griffin_lim_projection must be one of {sorted(PROJECTIONS)}, "
                f"got {self.griffin_lim_projection!r}"
            )
        if not (self.griffin_lim_peak_clip == 0.0 or self.griffin_lim_peak_clip >= 1.0):
            raise UserInputError(
                f"analytic codec: griffin_lim_peak_clip must be 0 (off) or at least 1 (x local RMS), "
                f"got {self.griffin_lim_peak_clip}"
            )
        if not isinstance(self.griffin_lim_keep_loudness, bool):
            raise UserInputError(f"analytic codec: griffin_lim_keep_loudness must be true or false, "
                                 f"got {self.griffin_lim_keep_loudness!r}")
        if self.griffin_lim_keep_loudness and self.griffin_lim_projection != "bins":
            # Band envelopes already restore each frame's energy (``BandEnvelopes.finish``).
            raise UserInputError("analytic codec: griffin_lim_keep_loudness needs griffin_lim_projection 'bins'")
        if isinstance(self.refiner_width, bool) or not isinstance(self.refiner_width, int) or self.refiner_width < 0:
            raise UserInputError(
                f"analytic codec: refiner_width must be a whole number >= 0, got {self.refiner_width!r}")
        if self.refiner_width and self.griffin_lim_projection != "bins":
            # Band envelopes impose only band means, which would undo the refiner's shape each iteration.
            raise UserInputError("analytic codec: a refiner (refiner_width > 0) needs griffin_lim_projection 'bins'")
        smoothing = self.refiner_smoothing
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) or not 0.0 <= smoothing <= 4.0:
            raise UserInputError(f"analytic codec: refiner_smoothing must be a number from 0 to 4 (band widths), "
                                 f"got {smoothing!r}")
        if smoothing and not self.refiner_width:
            raise UserInputError("analytic codec: refiner_smoothing smooths a refiner's correction; "
                                 "this codec has no refiner (refiner_width 0)")
        if (isinstance(self.phase_decoder_width, bool) or not isinstance(self.phase_decoder_width, int)
                or self.phase_decoder_width < 0):
            raise UserInputError(f"analytic codec: phase_decoder_width must be a whole number >= 0, "
                                 f"got {self.phase_decoder_width!r}")
        if self.phase_decoder_width and self.griffin_lim_projection != "bins":
            # The predicted phase belongs to the imposed magnitude; band envelopes would rescale its bins.
            raise UserInputError("analytic codec: a phase decoder (phase_decoder_width > 0) needs "
                                 "griffin_lim_projection 'bins'")
        StftFraming(self.n_fft, self.stft_hop)  # validates the overlap

    def with_griffin_lim_phase(self) -> AnalyticCodecConfig:
        """This config decoding with Griffin-Lim's phase: itself if it has no phase decoder, else
        without one at the default iterations (how such a codec decoded before it had one)."""
        if not self.phase_decoder_width:
            return self
        return dataclasses.replace(self, phase_decoder_width=0, griffin_lim_iterations=DEFAULT_GRIFFIN_LIM_ITERATIONS)

    def without_refiner(self) -> AnalyticCodecConfig:
        """This config decoding with the triangles' even spread: no refiner, so nothing to smooth."""
        return dataclasses.replace(self, refiner_width=0, refiner_smoothing=0.0)

    @property
    def frames_per_latent(self) -> int:
        return self.hop_length // self.stft_hop

    @property
    def latent_channels(self) -> int:
        return 2 * self.n_mels * self.frames_per_latent


def latent_band_levels_db(latent: torch.Tensor, config: AnalyticCodecConfig) -> torch.Tensor:
    """A latent [B, 2 * stack * n_mels, T] as its band levels [B, 2, T * stack, n_mels] in dB (the
    latent's channel-major, then STFT frame, then band order unstacked; not clamped)."""
    batch, _, frames = latent.shape
    stack, mels = config.frames_per_latent, config.n_mels
    stacked = latent.float().reshape(batch, 2, stack * mels, frames).permute(0, 1, 3, 2)
    return stacked.reshape(batch, 2, frames * stack, mels) * config.scale_db + config.offset_db


# Tests and the tiny pipeline: coarse and fast (decodes about 100x faster than real time).
TINY_ANALYTIC_CODEC = AnalyticCodecConfig(
    hop_length=2048,
    stft_hop=1024,
    n_fft=2048,
    n_mels=16,
    griffin_lim_iterations=4,
    decode_context=4,
    decode_crossfade=2,
)
# The baseline to ship and to beat: band envelopes and a 2 x RMS peak bound (see the notes above).
SMALL_ANALYTIC_CODEC = AnalyticCodecConfig(griffin_lim_projection="bands", griffin_lim_peak_clip=2.0)
# 32 bands: half the latent width of the small one (256 channels) for a CPU-trained DiT.
COMPACT_ANALYTIC_CODEC = dataclasses.replace(SMALL_ANALYTIC_CODEC, n_mels=32)
# No larger analytic preset: 128 bands would double the latent width for 0.16 MR-STFT (see above).
BASE_ANALYTIC_CODEC = SMALL_ANALYTIC_CODEC


class AnalyticCodec(AudioCodec):
    """Log-mel latent [B, 2 * n_mels * frames_per_latent, T]; Griffin-Lim decoding, or a trained
    phase decoder. Its only parameters are the refiner's and the phase decoder's, if the config
    asks for them."""

    reads_loudness = True

    def __init__(self, config: AnalyticCodecConfig = SMALL_ANALYTIC_CODEC):
        framing = StftFraming(config.n_fft, config.stft_hop)
        # The refiner sees its neighbours' band levels: a chunk needs that much more context.
        refiner_context = (math.ceil(MagnitudeRefiner.reach_frames() / config.frames_per_latent)
                           if config.refiner_width else 0)
        # The phase decoder reads the refined magnitude's neighbours in turn: the two reaches add.
        phase_context = (math.ceil(PhaseDecoder.reach_frames() / config.frames_per_latent)
                         if config.phase_decoder_width else 0)
        chunking = Chunking(
            chunk_frames=config.chunk_frames,
            # An STFT frame reaches n_fft / 2 samples beyond its centre.
            encode_context=math.ceil(config.n_fft / 2 / config.hop_length),
            decode_context=config.decode_context + refiner_context + phase_context,
            decode_crossfade=config.decode_crossfade,
        )
        super().__init__(config.latent_channels, config.hop_length, chunking)
        self.config = config
        self.framing = framing
        self.refiner = (MagnitudeRefiner(config.n_mels, framing.bins, config.refiner_width)
                        if config.refiner_width else None)
        self.phase_decoder = (PhaseDecoder(framing.bins, config.phase_decoder_width)
                              if config.phase_decoder_width else None)
        filterbank = partition_mel_filterbank(config.n_fft, config.n_mels, self.sample_rate)
        self.register_buffer("filterbank", filterbank, persistent=False)
        self.register_buffer("band_widths", filterbank.sum(dim=0), persistent=False)
        self.register_buffer("correction_smoothing", correction_smoothing(filterbank, config.refiner_smoothing)
                             if config.refiner_smoothing else None, persistent=False)
        generator = torch.Generator().manual_seed(config.phase_seed)
        angles = torch.rand(self.framing.bins, PHASE_PERIOD, generator=generator) * (2 * math.pi)
        self.register_buffer("phase_table", torch.polar(torch.ones_like(angles), angles), persistent=False)
        self._power_scale = self.framing.power_scale(torch.device("cpu"))
        self.register_buffer("loudness_weights", _loudness_weights(filterbank, self.sample_rate), persistent=False)
        self.register_buffer("bin_kweighting", _bin_kweighting(self.framing.bins, self.sample_rate).float(),
                             persistent=False)

    # ---- latent <-> band power ------------------------------------------------------------
    def band_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Mean power density per mel band [B, 2, stft frames, n_mels] of a wave [B, 2, n] (n a
        multiple of the STFT hop): what the latent records."""
        return self.band_means(self.spectrum_power(wave))

    def spectrum_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Power density per bin [B, 2, stft frames, bins] of a wave [B, 2, n] (n a multiple of the hop)."""
        spec = self.framing.analyse(wave)
        return (spec.real.square() + spec.imag.square()).transpose(-1, -2) * self._power_scale

    def band_means(self, bin_power: torch.Tensor) -> torch.Tensor:
        """Each mel band's mean of bin power densities [..., bins] (the triangles' weighted mean)."""
        return bin_power @ self.filterbank.float() / self.band_widths.float()

    def _to_latent(self, band_power: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        decibels = 10.0 * torch.log10(band_power.clamp_min(10.0 ** (cfg.floor_db / 10.0)))
        normalised = (decibels - cfg.offset_db) / cfg.scale_db
        batch, channels, stft_frames, mels = normalised.shape
        frames, stack = stft_frames // cfg.frames_per_latent, cfg.frames_per_latent
        stacked = normalised.reshape(batch, channels, frames, stack * mels)
        # [B, 2, T, stack * mels] -> [B, 2 * stack * mels, T]: channel-major, then STFT frame, then band.
        return stacked.permute(0, 1, 3, 2).reshape(batch, self.latent_channels, -1)

    def decoded_magnitude(self, latent: torch.Tensor) -> torch.Tensor:
        """The STFT magnitude [B, 2, bins, stft frames] the decoder imposes for ``latent``."""
        cfg = self.config
        # Clamped so that a generated latent far outside the data range cannot overflow float32.
        decibels = latent_band_levels_db(latent, cfg).clamp(cfg.floor_db, 60.0)
        bin_power = self.bin_power(10.0 ** (decibels / 10.0))
        return (bin_power / self._power_scale).sqrt().transpose(-1, -2)

    def bin_power(self, band_power: torch.Tensor) -> torch.Tensor:
        """Bin power densities [B, 2, frames, bins] the decoder imposes for band powers [B, 2,
        frames, n_mels]: the triangles' spread of each band, shaped by the refiner if there is one
        (band means kept, see ``refiner.shaped_bin_power``)."""
        if self.refiner is None:
            return band_power @ self.filterbank.float().T  # the same triangles spread each band back
        cfg = self.config
        batch, channels, frames, mels = band_power.shape
        decibels = 10.0 * torch.log10(band_power.clamp_min(10.0 ** (cfg.floor_db / 10.0)))
        levels = ((decibels - cfg.offset_db) / cfg.scale_db).reshape(batch * channels, frames, mels).transpose(1, 2)
        correction = self.refiner(levels)  # [batch * channels, bins, frames]
        if self.correction_smoothing is not None:
            correction = self.correction_smoothing @ correction
        correction = correction.transpose(1, 2).reshape(batch, channels, frames, -1)
        return shaped_bin_power(band_power, correction, self.filterbank, self.band_widths)

    def latent_loudness_lufs(self, latent: torch.Tensor) -> torch.Tensor:
        """Loudness [B, 2, T] (LUFS per channel and latent frame) of a latent, differentiably.

        The band densities are spread back to bins by the decoding triangles and K-weighted at each
        bin's frequency (``_loudness_weights``); their mean over the bins is the mean square of the
        K-weighted signal (a density of 1 is full-scale white noise), averaged over the latent
        frame's STFT frames, and -0.691 + 10 log10 of it is BS.1770 loudness. It leaves out phase
        and window overlap, so it is a proxy, used to train loudness (``flow.FlowConfig``).
        """
        cfg = self.config
        batch, _, frames = latent.shape
        stacked = latent.float().reshape(batch, 2, cfg.frames_per_latent, cfg.n_mels, frames)
        density = 10.0 ** ((stacked * cfg.scale_db + cfg.offset_db).clamp(max=60.0) / 10.0)
        mean_square = torch.einsum("bcsmt,m->bct", density, self.loudness_weights.float()) / cfg.frames_per_latent
        return BS1770_OFFSET_LU + 10.0 * torch.log10(mean_square + LOUDNESS_EPSILON)

    def window_loudness_lufs(self, bin_power: torch.Tensor, window_frames: int) -> torch.Tensor:
        """BS.1770 loudness [..., windows] of bin power densities [..., frames, bins]: each frame's
        K-weighted mean square (its bins weighted by the K filter's gain at their frequency),
        averaged over sliding windows of ``window_frames`` STFT frames (stride 1). Phase and window
        overlap are left out, as in ``latent_loudness_lufs``; differentiable."""
        mean_square = bin_power @ self.bin_kweighting.float() / bin_power.shape[-1]
        flat = mean_square.reshape(-1, 1, mean_square.shape[-1])
        windowed = torch.nn.functional.avg_pool1d(flat, min(window_frames, flat.shape[-1]), stride=1)
        return (BS1770_OFFSET_LU + 10.0 * torch.log10(windowed + LOUDNESS_EPSILON)).reshape(
            *mean_square.shape[:-1], -1)

    def shift_loudness(self, latent: torch.Tensor, lu: torch.Tensor) -> torch.Tensor:
        """Every band of a channel's frame raised by the same ``lu`` dB: its power, hence its
        loudness, rises by exactly that (`latent_loudness_lufs` moves by ``lu``, up to its 60 dB clamp)."""
        batch, channels, frames = latent.shape
        per_channel = latent.reshape(batch, 2, channels // 2, frames)
        raised = per_channel + (lu / self.config.scale_db)[:, :, None, :].to(latent.dtype)
        return raised.reshape(batch, channels, frames)

    # ---- codec ---------------------------------------------------------------------------
    def _encode(self, wave: torch.Tensor) -> torch.Tensor:
        return self._to_latent(self.band_power(wave))

    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        return self._decode_window(latent, 0)

    def _decode_window(self, latent: torch.Tensor, first_frame: int) -> torch.Tensor:
        magnitude = self.decoded_magnitude(latent)
        if self.phase_decoder is not None:
            phase = self.predicted_phase(magnitude)
        else:
            phase = self.starting_phase(first_frame * self.config.frames_per_latent, magnitude.shape[-1])
        return self.retrieve_phase(magnitude, phase)

    def predicted_phase(self, magnitude: torch.Tensor) -> torch.Tensor:
        """The phase decoder's unit phases [B, 2, bins, frames] for ``magnitude`` (each channel on its own)."""
        batch, channels, bins, frames = magnitude.shape
        return self.phase_decoder(magnitude.reshape(batch * channels, bins, frames)).reshape(magnitude.shape)

    def retrieve_phase(self, magnitude: torch.Tensor, phase: torch.Tensor, iterations: int | None = None,
                       ) -> torch.Tensor:
        """The wave [B, 2, frames * stft_hop] this decoder makes of ``magnitude`` [B, 2, bins, frames]
        from the unit ``phase`` it starts at: Griffin-Lim with this codec's projection, peak bound,
        loudness finish and iterations (or ``iterations``). ``decode`` starts from the fixed phase
        table; ``bench/decoder_phase.py`` starts elsewhere to measure what the phase costs."""
        cfg = self.config
        iterations = cfg.griffin_lim_iterations if iterations is None else iterations
        if cfg.griffin_lim_projection == "bands":
            projection = BandEnvelopes(magnitude, self.filterbank, self.band_widths)
        else:
            projection = BinMagnitudes(magnitude, self.bin_kweighting if cfg.griffin_lim_keep_loudness else None)
        return griffin_lim(magnitude, phase, self.framing, iterations, cfg.griffin_lim_alpha,
                           projection=projection, peak_clip=cfg.griffin_lim_peak_clip)

    def starting_phase(self, first_stft_frame: int, count: int) -> torch.Tensor:
        """Unit phases [1, 1, bins, count] for STFT frames first..first + count (absolute indices)."""
        columns = (torch.arange(count, device=self.phase_table.device) + first_stft_frame) % PHASE_PERIOD
        return self.phase_table[:, columns][None, None]


def _bin_kweighting(bins: int, sample_rate: int) -> torch.Tensor:
    """The K filter's power gain at each STFT bin's frequency [bins] (float64)."""
    return torch.from_numpy(kweighting_power_gain(sample_rate, np.linspace(0.0, sample_rate / 2, bins)))


def _loudness_weights(filterbank: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Per band: the K-weighted power its triangle spreads over the bins, divided by the bin count,
    so that density @ weights is the K-weighted mean square of the frame."""
    bins = filterbank.shape[0]
    return (filterbank.double() * _bin_kweighting(bins, sample_rate)[:, None]).sum(dim=0).float() / bins
