"""True peak (ITU-R BS.1770-4 Annex 2): the peak of the signal oversampled by polyphase interpolation.

The interpolator is a Kaiser-windowed sinc with its cut-off at the original Nyquist frequency, 16
taps per phase (BS.1770's example filter has 12). It is a Nyquist filter: the phase that falls on
the original samples reproduces them exactly, so the true peak is never below the sample peak, and
only the other phases are computed. Oversampling is 4x below 176.4 kHz; at 176.4 kHz and above it
is 2x, which still interpolates at more than 350 kHz, as fine a grid as 4x at 88.2 kHz.

The signal is taken as silent before its first and after its last sample, so an abrupt start or
end shows the overshoot a reconstruction filter really produces there.

Interpolation runs in float32 (errors near 1e-6 dB) on fixed chunks aligned to the start of the
stream, so the result does not depend on how the stream is cut into blocks. A chunk whose largest
sample, times the largest gain the interpolator can have, cannot beat the peak found so far is
skipped: that bound is exact, so skipping never changes the result.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from foleystudio.audio.loudness_input import as_channel_first, check_block, check_sample_rate

TAPS_PER_PHASE = 16
KAISER_BETA = 6.0
HIGH_RATE_HZ = 176_400
CHUNK_SAMPLES = 16384


def oversampling_factor(sample_rate: int) -> int:
    return 4 if check_sample_rate(sample_rate) < HIGH_RATE_HZ else 2


def interpolation_filter(factor: int, taps_per_phase: int = TAPS_PER_PHASE) -> np.ndarray:
    """Windowed-sinc prototype of length factor * taps_per_phase + 1, unity gain per phase."""
    length = factor * taps_per_phase + 1
    centre = length // 2
    offsets = (np.arange(length) - centre) / factor
    taps = np.sinc(offsets) * np.kaiser(length, KAISER_BETA)
    # Zero crossings exactly zero, centre exactly one: the on-sample phase is the identity.
    taps[(np.arange(length) - centre) % factor == 0] = 0.0
    taps[centre] = 1.0
    return taps


def polyphase_matrix(factor: int, taps_per_phase: int = TAPS_PER_PHASE) -> np.ndarray:
    """(taps_per_phase, factor - 1) matrix: a window of input samples (oldest first) @ matrix gives
    the interpolated values of the phases between samples."""
    taps = interpolation_filter(factor, taps_per_phase)
    matrix = np.empty((taps_per_phase, factor - 1))
    for phase in range(1, factor):
        phase_taps = taps[phase::factor][:taps_per_phase]
        matrix[:, phase - 1] = phase_taps[::-1]  # newest sample meets the first tap
    return matrix


class TruePeakMeter:
    """Per-channel sample peak and true peak of a stream of (channels, n) blocks."""

    def __init__(self, sample_rate: int, channels: int):
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self.factor = oversampling_factor(self.sample_rate)
        self._matrix = polyphase_matrix(self.factor).astype(np.float32)
        # Bounds on an interpolated value: largest tap sum x largest input, and largest tap
        # norm x input norm; both with a margin for float32 rounding.
        self._gain_bound = float(np.abs(self._matrix).sum(axis=0).max()) * (1.0 + 1e-5)
        self._norm_bound_squared = float((self._matrix.astype(np.float64) ** 2).sum(axis=0).max()) * (1.0 + 1e-5)
        self._history = TAPS_PER_PHASE - 1
        # Columns: the last `history` samples already interpolated, then samples still pending.
        self._buffer = np.zeros((self.channels, self._history), dtype=np.float32)
        self._sample_peak = np.zeros(self.channels)
        self._interpolated_peak = np.zeros(self.channels)
        # Largest sample of the windows interpolated so far: rows below it cannot matter.
        self._window_peak = np.zeros(self.channels)

    def process(self, block: np.ndarray) -> None:
        if block.shape[-1] == 0:
            return
        self._sample_peak = np.maximum(self._sample_peak, np.max(np.abs(block), axis=1))
        buffer = np.concatenate([self._buffer, block.astype(np.float32, copy=False)], axis=1)
        chunks = (buffer.shape[1] - self._history) // CHUNK_SAMPLES
        for index in range(chunks):
            start = index * CHUNK_SAMPLES
            window = buffer[:, start : start + CHUNK_SAMPLES + self._history]
            self._interpolate(window, self._interpolated_peak, self._window_peak)
        self._buffer = np.array(buffer[:, chunks * CHUNK_SAMPLES :])

    def _interpolate(self, window: np.ndarray, peaks: np.ndarray, window_peaks: np.ndarray) -> None:
        """Raise ``peaks`` (per channel, in place) to the interpolated peaks of ``window``.

        ``window`` holds the history samples, then the samples to interpolate around;
        ``window_peaks`` (in place too) the largest sample of the windows seen so far.
        """
        for channel in range(self.channels):
            samples = window[channel]
            window_peaks[channel] = max(window_peaks[channel], float(np.max(np.abs(samples))))
            threshold = max(peaks[channel], window_peaks[channel])
            rows = self._rows_that_may_exceed(samples, threshold)
            if len(rows) == 0:
                continue
            values = sliding_window_view(samples, self._history + 1)[rows] @ self._matrix
            peaks[channel] = max(peaks[channel], float(values.max()), -float(values.min()))

    def _rows_that_may_exceed(self, samples: np.ndarray, threshold: float) -> np.ndarray:
        """Output rows whose interpolated values could exceed ``threshold``.

        Row j is a dot product of a phase's taps with inputs j .. j + history, so by Cauchy-Schwarz
        it is at most (largest tap norm) x (norm of those inputs). Most rows of real audio, and
        of noise, are far below the loudest sample and are skipped; the bound is exact (with a
        margin for rounding), so skipping never changes the result.
        """
        if float(np.max(np.abs(samples))) * self._gain_bound <= threshold:
            return np.zeros(0, dtype=np.int64)
        samples = samples.astype(np.float64)
        energy = np.concatenate([[0.0], np.cumsum(samples * samples)])
        taps = self._history + 1
        window_energy = energy[taps:] - energy[:-taps] + 1e-12 * energy[-1]
        return np.flatnonzero(window_energy * self._norm_bound_squared > threshold * threshold)

    def peaks(self) -> tuple[np.ndarray, np.ndarray]:
        """(sample peaks, true peaks) per channel, linear; the stream counts as ended here.

        The pending samples are interpolated with silence after them, on a copy, so the meter can
        go on receiving blocks afterwards.
        """
        peaks = self._interpolated_peak.copy()
        if self._buffer.shape[1] > self._history:
            tail = np.zeros((self.channels, self._history), dtype=np.float32)
            self._interpolate(np.concatenate([self._buffer, tail], axis=1), peaks, self._window_peak.copy())
        return self._sample_peak.copy(), np.maximum(peaks, self._sample_peak)


def to_db(linear) -> np.ndarray:
    """20 log10; zero reads -inf without a warning."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(linear, dtype=np.float64))


def true_peak_dbtp(samples, sample_rate: int) -> float:
    """True peak in dBTP of a whole (channels, n) or (n,) signal, over all channels."""
    array = as_channel_first(samples)
    array = check_block(array, array.shape[0], check_sample_rate(sample_rate), 0)
    meter = TruePeakMeter(sample_rate, array.shape[0])
    meter.process(array)
    return float(to_db(np.max(meter.peaks()[1])))
