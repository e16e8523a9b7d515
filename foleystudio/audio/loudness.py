"""Loudness measurement (ITU-R BS.1770-4, EBU R128): the per-channel curve and the programme meter.

Two definitions, one K-weighting (DESIGN.md §2):

* the **curve**: per-channel K-weighted loudness over a 1/6 s window every 1/6 s, floored at -70
  LUFS (see ``loudness_frames`` for windows, sides and the end-of-audio rule);
* the **programme measures** of EBU R128 over the BS.1770 channel-weighted sum: momentary (400 ms)
  and short-term (3 s) every 100 ms, integrated (gated), loudness range (EBU Tech 3342), their
  maxima, true peak (4x oversampled, see ``truepeak``) and sample peak.

Streaming: ``LoudnessMeter.process`` takes (channels, n) blocks of any size and keeps no audio, only
the partial window it is in the middle of and the small per-frame series (curve values, 10 Hz
momentary and short-term values), so memory stays flat over hours. Results are bit-identical however
the audio is cut into blocks. ``measure`` and ``loudness_curve`` do the same for a whole array.

Silence reads as -inf (integrated, maxima, peaks), loudness range 0, curve -70 LUFS; no warning.
Momentary and short-term values start when their first window is complete, so a programme shorter
than 400 ms has no momentary value and an integrated loudness of -inf.
"""

from __future__ import annotations

import logging

import numpy as np

from foleystudio.audio.channels import ChannelLayout, layout_for
from foleystudio.audio.curve import CURVE_RATE_HZ, LoudnessCurve
from foleystudio.audio.kweighting import KWeightingFilter
from foleystudio.audio.loudness_frames import CurveFrames
from foleystudio.audio.loudness_input import as_channel_first, check_block, check_duration, check_sample_rate
from foleystudio.audio.loudness_programme import (
    MOMENTARY_SEGMENTS,
    SEGMENT_S,
    SHORT_TERM_SEGMENTS,
    ProgrammeLoudness,
    integrated_loudness,
    loudness_range,
    lufs_from_power,
)
from foleystudio.audio.loudness_report import LoudnessReport, LoudnessSeries
from foleystudio.audio.truepeak import TruePeakMeter, to_db
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

CURVE_WINDOW_S = 1.0 / CURVE_RATE_HZ
CURVE_HOP_S = 1.0 / CURVE_RATE_HZ
# Large blocks are measured in pieces of this many samples (about 6 s at 44.1 kHz): the float64
# intermediates stay a few MB, and few large allocations cost fewer page faults than many small
# ones. Results do not depend on the piece size.
PIECE_SAMPLES = 1 << 18


class _Stream:
    """What every meter shares: validation, piecewise K-weighting, the sample count."""

    def __init__(self, sample_rate, channels: int | ChannelLayout):
        self.sample_rate = check_sample_rate(sample_rate)
        self.layout = layout_for(channels)
        self.channels = self.layout.channels
        self._filter = KWeightingFilter(self.sample_rate, self.channels)
        self._samples = 0

    @property
    def duration_s(self) -> float:
        return self._samples / self.sample_rate

    def process(self, block) -> None:
        """Measure the next (channels, n) block of audio (float32 or float64, any n)."""
        block = check_block(block, self.channels, self.sample_rate, self._samples)
        for start in range(0, block.shape[1], PIECE_SAMPLES):
            piece = block[:, start : start + PIECE_SAMPLES]
            self._measure_piece(piece, self._filter.process(piece))
            self._samples += piece.shape[1]

    def _measure_piece(self, piece: np.ndarray, weighted: np.ndarray) -> None:
        raise NotImplementedError

    def _require_audio(self) -> None:
        if self._samples == 0:
            raise UserInputError("no audio to measure: the input is empty")


class LoudnessCurveMeter(_Stream):
    """Only the per-channel curve; cheaper than ``LoudnessMeter`` when that is all you need."""

    def __init__(self, sample_rate, channels, window_s: float = CURVE_WINDOW_S, hop_s: float = CURVE_HOP_S):
        super().__init__(sample_rate, channels)
        window_s = check_duration(window_s, "curve window", self.sample_rate)
        hop_s = check_duration(hop_s, "curve hop", self.sample_rate)
        self._frames = CurveFrames(self.sample_rate, self.layout, window_s, hop_s)

    def _measure_piece(self, piece, weighted) -> None:
        self._frames.push(weighted)  # squares ``weighted`` in place

    def curve(self) -> LoudnessCurve:
        self._require_audio()
        return self._frames.curve()


class LoudnessMeter(_Stream):
    """The curve and every EBU R128 programme measure of a stream; ``result()`` at any time."""

    def __init__(
        self,
        sample_rate,
        channels: int | ChannelLayout,
        curve_window_s: float = CURVE_WINDOW_S,
        curve_hop_s: float = CURVE_HOP_S,
    ):
        super().__init__(sample_rate, channels)
        self.curve_window_s = check_duration(curve_window_s, "curve window", self.sample_rate)
        self.curve_hop_s = check_duration(curve_hop_s, "curve hop", self.sample_rate)
        self._frames = CurveFrames(self.sample_rate, self.layout, self.curve_window_s, self.curve_hop_s)
        self._programme = ProgrammeLoudness(self.sample_rate, self.layout.weights)
        self._peaks = TruePeakMeter(self.sample_rate, self.channels)

    def _measure_piece(self, piece, weighted) -> None:
        # Squaring in place saves a large allocation per piece (page faults cost more than the
        # arithmetic); a surround curve needs the unsquared signals for its downmix first.
        if not self._frames.sides_are_channels:
            self._frames.push(weighted)
        squares = np.multiply(weighted, weighted, out=weighted)
        if self._frames.sides_are_channels:
            self._frames.push_squares(squares)
        self._programme.push(squares)
        self._peaks.process(piece)

    def result(self) -> LoudnessReport:
        """The report of everything processed so far (the meter can go on afterwards)."""
        self._require_audio()
        momentary = _series(self._programme.momentary_power, MOMENTARY_SEGMENTS)
        short_term = _series(self._programme.short_term_power, SHORT_TERM_SEGMENTS)
        sample_peaks, true_peaks = self._peaks.peaks()
        logger.debug("measured %.1f s of %s audio at %d Hz", self.duration_s, self.layout.name, self.sample_rate)
        return LoudnessReport(
            sample_rate=self.sample_rate,
            channels=self.channels,
            layout=self.layout.name,
            duration_s=self.duration_s,
            curve=self._frames.curve(),
            curve_window_s=self.curve_window_s,
            curve_hop_s=self.curve_hop_s,
            momentary=momentary,
            short_term=short_term,
            integrated_lufs=integrated_loudness(self._programme.momentary_power),
            loudness_range_lu=loudness_range(self._programme.short_term_power),
            max_momentary_lufs=momentary.maximum,
            max_short_term_lufs=short_term.maximum,
            true_peak_dbtp=float(to_db(true_peaks.max())),
            sample_peak_dbfs=float(to_db(sample_peaks.max())),
            channel_true_peaks_dbtp=tuple(float(v) for v in to_db(true_peaks)),
            channel_sample_peaks_dbfs=tuple(float(v) for v in to_db(sample_peaks)),
            true_peak_oversampling=self._peaks.factor,
        )


def _series(power: np.ndarray, segments: int) -> LoudnessSeries:
    """10 Hz series whose k-th window ends (segments + k) x 100 ms into the programme."""
    end_times = (segments + np.arange(len(power))) * SEGMENT_S
    return LoudnessSeries(segments * SEGMENT_S, SEGMENT_S, end_times, lufs_from_power(power))


def loudness_curve(
    samples, sample_rate, window_s: float = CURVE_WINDOW_S, hop_s: float = CURVE_HOP_S
) -> LoudnessCurve:
    """The per-channel loudness curve of (channels, n) or mono (n,) float audio."""
    array = as_channel_first(samples)
    meter = LoudnessCurveMeter(sample_rate, array.shape[0], window_s, hop_s)
    meter.process(array)
    return meter.curve()


def measure(
    samples, sample_rate, curve_window_s: float = CURVE_WINDOW_S, curve_hop_s: float = CURVE_HOP_S
) -> LoudnessReport:
    """Every measure of (channels, n) or mono (n,) float audio: curve, R128 measures, peaks."""
    array = as_channel_first(samples)
    meter = LoudnessMeter(sample_rate, array.shape[0], curve_window_s, curve_hop_s)
    meter.process(array)
    return meter.result()
