"""A look-ahead true-peak limiter whose output never exceeds its ceiling on foleystudio's own meter.

How the gain is found (all channels share one gain, so the stereo image holds):

1. **Overs.** Every sample and every 4x-interpolated point between samples (the interpolator of
   ``truepeak``, silence around the signal) above the threshold asks for a reduction of
   20 log10(|value| / threshold) dB at its sample. Rows that cannot exceed the threshold are
   skipped with the meter's exact Cauchy-Schwarz bound, so quiet audio costs almost nothing.
2. **Hold.** Each request is held from about ``lookahead + HOLD_MARGIN`` samples before its sample
   to ``HOLD_MARGIN`` samples after it. The margin (16 samples) covers the interpolator's span, so the
   gain is already down on every sample that feeds an interpolated peak.
3. **Release.** The held reduction decays exponentially (time constant ``release_ms``); below
   ``RELEASE_END_DB`` it stops, so the gain returns to exactly 1.
4. **Attack smoothing.** Two causal moving averages whose spans add up to the look-ahead turn the
   steps into smooth ramps. The hold starts early enough that the smoothed reduction has reached the
   requested value ``HOLD_MARGIN`` samples before the peak.

The gain still varies a little across the interpolator's span, and the output is rounded to
float32, so the result is checked with ``true_peak_dbtp`` and, if it is over, the limiting is redone
from the input with a lower threshold. Audio whose true peak is already at or below the ceiling is
returned untouched (bit-exact), and samples far from any over keep a gain of exactly 1.

The gain is computed only in the regions around overs (float64 there); elsewhere it is exactly 1
and costs nothing beyond the peak search.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import maximum_filter1d

from foleystudio.audio.loudness_input import check_sample_rate
from foleystudio.audio.truepeak import TAPS_PER_PHASE, oversampling_factor, polyphase_matrix, true_peak_dbtp
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

DEFAULT_CEILING_DBTP = -1.0
DEFAULT_LOOKAHEAD_MS = 3.0
DEFAULT_RELEASE_MS = 80.0
# The first attempt aims this far below the ceiling, to absorb the gain's variation across the
# interpolator's span and float32 rounding.
FIRST_MARGIN_DB = 0.02
# A later attempt lowers the threshold by the measured excess plus this much.
RETRY_MARGIN_DB = 0.05
MAX_ATTEMPTS = 6
# Samples the gain is held around each over beyond the look-ahead (the interpolator needs 8).
HOLD_MARGIN = 2 * (TAPS_PER_PHASE // 2)
# Below this the release stops (a 1e-3 dB step, smoothed over the look-ahead, is inaudible).
RELEASE_END_DB = 1e-3
ROWS_PER_BLOCK = 4096
ROWS_PER_CHUNK = 64 * ROWS_PER_BLOCK  # bounds the float64 work arrays of the peak search
# The envelope is computed exactly down to this far below the threshold, so a retry with a
# slightly lower threshold reuses it.
ENVELOPE_HEADROOM_DB = 3.0
MIN_CEILING_DBTP = -60.0
LOOKAHEAD_RANGE_MS = (0.5, 50.0)
RELEASE_RANGE_MS = (1.0, 5000.0)


def limit_true_peak(
    audio,
    sample_rate,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
    release_ms: float = DEFAULT_RELEASE_MS,
) -> tuple[np.ndarray, np.ndarray]:
    """Limit (channels, n) audio to ``ceiling_dbtp``; returns (float32 audio, reduction dB (n,)).

    The reduction is one per-sample curve for all channels, 0 where the audio is untouched.
    """
    limited = limit_and_measure(audio, sample_rate, ceiling_dbtp, lookahead_ms, release_ms)
    return limited.audio, limited.reduction_db


@dataclass(frozen=True, eq=False)
class Limited:
    audio: np.ndarray  # (channels, n) float32
    reduction_db: np.ndarray  # (n,) float32 >= 0, the same for every channel
    true_peak_dbtp: float  # of ``audio``, as ``true_peak_dbtp`` measures it


def limit_and_measure(
    audio,
    sample_rate,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
    lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
    release_ms: float = DEFAULT_RELEASE_MS,
) -> Limited:
    """``limit_true_peak``, also giving the output's true peak (measured anyway, to check it)."""
    samples = _checked_audio(audio)
    rate = check_sample_rate(sample_rate)
    ceiling_dbtp = check_ceiling_dbtp(ceiling_dbtp)
    lookahead_ms = _checked_number(lookahead_ms, "limiter look-ahead", LOOKAHEAD_RANGE_MS, "ms")
    lookahead = max(2, round(lookahead_ms * rate / 1000))
    release = _checked_number(release_ms, "limiter release", RELEASE_RANGE_MS, "ms") * rate / 1000
    reduction = np.zeros(samples.shape[1], dtype=np.float32)
    peak_db = true_peak_dbtp(samples, rate)
    if peak_db <= ceiling_dbtp:
        return Limited(samples.copy(), reduction, peak_db)
    threshold_db = ceiling_dbtp - FIRST_MARGIN_DB
    envelope = _PeakEnvelope(samples, rate)
    for attempt in range(MAX_ATTEMPTS):
        reduction = _reduction_db(envelope.required_db(threshold_db), lookahead, release)
        limited = apply_reduction(samples, reduction)
        peak_db = true_peak_dbtp(limited, rate)
        if peak_db <= ceiling_dbtp:
            logger.debug("limited to %.2f dBTP in %d attempt(s), max reduction %.2f dB",
                         peak_db, attempt + 1, float(reduction.max()))
            return Limited(limited, reduction, peak_db)
        threshold_db -= peak_db - ceiling_dbtp + RETRY_MARGIN_DB
    return _last_resort(limited, reduction, rate, ceiling_dbtp)


def apply_reduction(samples: np.ndarray, reduction_db: np.ndarray) -> np.ndarray:
    """``samples`` with the linked reduction applied; untouched where the reduction is 0."""
    out = samples.copy()
    touched = np.flatnonzero(reduction_db)
    if len(touched):
        start, stop = int(touched[0]), int(touched[-1]) + 1
        gain = 10.0 ** (-reduction_db[start:stop].astype(np.float64) / 20.0)
        out[:, start:stop] = (samples[:, start:stop] * gain).astype(np.float32)
    return out


def _last_resort(limited, reduction, rate, ceiling_dbtp) -> Limited:
    """A constant extra cut; never reached on any signal we know of, but keeps the guarantee."""
    while (excess := (peak_db := true_peak_dbtp(limited, rate)) - ceiling_dbtp) > 0:
        logger.warning(
            "true-peak limiter: %.3f dB over after %d attempts; cutting the whole take", excess, MAX_ATTEMPTS
        )
        cut_db = excess + RETRY_MARGIN_DB
        reduction = (reduction + np.float32(cut_db)).astype(np.float32)
        limited = (limited * 10.0 ** (-cut_db / 20.0)).astype(np.float32)
    return Limited(limited, reduction, peak_db)


# ---- the peaks ---------------------------------------------------------------------------------
class _PeakEnvelope:
    """Per-sample linked peak: the largest |value| over channels of each sample and of the
    interpolated points between it and the next. Exact above a floor, which is lowered (and the
    envelope recomputed) only if a threshold below it is asked for."""

    def __init__(self, samples: np.ndarray, rate: int):
        self._samples = samples
        self._matrix = polyphase_matrix(oversampling_factor(rate)).astype(np.float32)
        self._floor_db = math.inf
        self._envelope = np.zeros(samples.shape[1], dtype=np.float32)

    def required_db(self, threshold_db: float) -> np.ndarray:
        """Per-sample reduction (dB, float32, 0 where not over) that brings every peak to threshold."""
        if threshold_db < self._floor_db:
            self._floor_db = threshold_db - ENVELOPE_HEADROOM_DB
            floor = 10.0 ** (self._floor_db / 20.0)
            self._envelope = np.max([self._channel_envelope(channel, floor) for channel in self._samples], axis=0)
        threshold = 10.0 ** (threshold_db / 20.0)
        required = np.zeros(len(self._envelope), dtype=np.float32)
        over = np.flatnonzero(self._envelope > threshold)
        required[over] = 20.0 * np.log10(self._envelope[over] / threshold)
        return required

    def _channel_envelope(self, channel: np.ndarray, floor: float) -> np.ndarray:
        history = TAPS_PER_PHASE - 1
        padded = np.concatenate([np.zeros(history, np.float32), channel, np.zeros(history, np.float32)])
        windows = sliding_window_view(padded, TAPS_PER_PHASE)
        row_peaks = np.zeros(len(windows), dtype=np.float32)
        for start in range(0, len(windows), ROWS_PER_CHUNK):
            rows = windows[start : start + ROWS_PER_CHUNK]
            may_exceed = _rows_that_may_exceed(padded[start : start + len(rows) + history], self._matrix, floor)
            # Whole blocks of rows: a window view multiplies much faster than gathered rows.
            blocks = np.zeros(-(-len(rows) // ROWS_PER_BLOCK), dtype=bool)
            blocks[may_exceed // ROWS_PER_BLOCK] = True
            for block in np.flatnonzero(blocks):
                first = start + int(block) * ROWS_PER_BLOCK
                block_rows = windows[first : min(first + ROWS_PER_BLOCK, start + len(rows))]
                row_peaks[first : first + len(block_rows)] = np.abs(block_rows @ self._matrix).max(axis=1)
        # Row r interpolates times r - 8 + p / factor, 0 < p < factor (see truepeak.polyphase_matrix):
        # all between sample r - 8 and the next, so its peak belongs to sample r - 8. Points before
        # the first or after the last sample (edge overshoot) belong to those samples.
        offset = TAPS_PER_PHASE // 2
        n = len(channel)
        envelope = np.maximum(np.abs(channel), row_peaks[offset : offset + n])
        envelope[0] = max(envelope[0], row_peaks[:offset].max())
        envelope[-1] = max(envelope[-1], row_peaks[offset + n :].max())
        return envelope


# ---- the gain ------------------------------------------------------------------------------------
def _reduction_db(required: np.ndarray, lookahead: int, release: float) -> np.ndarray:
    """Per-sample reduction in dB (float32, >= 0) from the per-sample requests."""
    n = len(required)
    overs = np.flatnonzero(required)
    reduction = np.zeros(n, dtype=np.float32)
    if len(overs) == 0:
        return reduction
    before = lookahead + HOLD_MARGIN + 2
    tail = int(math.ceil(release * math.log(max(float(required.max()), 1.0) / RELEASE_END_DB)))
    after = HOLD_MARGIN + tail + lookahead + 2
    for start, stop in _regions(overs, before, after, n):
        # A region cut by the start of the audio is computed with silence before it, so the
        # attack is complete at sample 0 just as it is anywhere else.
        lead = max(0, before - (int(overs[overs >= start][0]) - start))
        region = np.concatenate([np.zeros(lead), required[start:stop].astype(np.float64)])
        reduction[start:stop] = _region_reduction(region, lookahead, release)[lead:]
    return reduction


def _rows_that_may_exceed(padded: np.ndarray, matrix: np.ndarray, threshold: float) -> np.ndarray:
    """Rows whose interpolated values could exceed ``threshold`` (exact bound, as in the meter)."""
    norm_bound_squared = float((matrix.astype(np.float64) ** 2).sum(axis=0).max()) * (1.0 + 1e-5)
    squares = padded.astype(np.float64) ** 2
    energy = np.concatenate([[0.0], np.cumsum(squares)])
    window_energy = energy[TAPS_PER_PHASE:] - energy[:-TAPS_PER_PHASE] + 1e-12 * energy[-1]
    return np.flatnonzero(window_energy * norm_bound_squared > threshold * threshold)


def _regions(overs: np.ndarray, before: int, after: int, n: int) -> list[tuple[int, int]]:
    """Disjoint [start, stop) spans around the overs, merged where their spans would touch."""
    gaps = np.flatnonzero(np.diff(overs) > before + after)
    firsts = np.concatenate([[overs[0]], overs[gaps + 1]])
    lasts = np.concatenate([overs[gaps], [overs[-1]]])
    return [(max(0, int(first) - before), min(n, int(last) + after + 1)) for first, last in zip(firsts, lasts)]


def _region_reduction(required: np.ndarray, lookahead: int, release: float) -> np.ndarray:
    """Hold, release and smooth the requests of one region (which starts and ends at rest)."""
    # Hold each request over [k - (lookahead - 2) - margin, k + margin], so that after the two
    # causal averages (total span lookahead - 1) the reduction covers k +- margin in full.
    size = lookahead - 1 + 2 * HOLD_MARGIN
    origin = HOLD_MARGIN - size // 2
    held = maximum_filter1d(required, size, origin=origin, mode="constant", cval=0.0)
    released = _exponential_release(held, release)
    first = lookahead // 2
    return _causal_mean(_causal_mean(released, first), lookahead - first)


def _exponential_release(held: np.ndarray, time_constant: float) -> np.ndarray:
    """max over k <= i of held[k] * exp(-(i - k) / tau), in one pass: in logs it is a running max."""
    positions = np.arange(len(held)) / time_constant
    with np.errstate(divide="ignore"):
        log_held = np.log(held)
    peak = np.maximum.accumulate(log_held + positions)
    released = np.exp(peak - positions)
    released[released < RELEASE_END_DB] = 0.0
    return released


def _causal_mean(values: np.ndarray, span: int) -> np.ndarray:
    """Mean of the last ``span`` values at each position (values before the start count as 0)."""
    total = np.concatenate([np.zeros(span), np.cumsum(values)])
    return (total[span:] - total[:-span]) / span


# ---- validation ----------------------------------------------------------------------------------
def _checked_audio(audio) -> np.ndarray:
    try:
        array = np.asarray(audio)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"audio to limit must be a numeric array ({error})") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise UserInputError(f"audio to limit must be floating point (float32 or float64), got {array.dtype}")
    if array.ndim != 2 or array.shape[0] == 0:
        raise UserInputError(f"audio to limit must have shape (channels, samples), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        first = int(np.flatnonzero(~np.isfinite(array).all(axis=0))[0])
        raise UserInputError(f"audio to limit contains NaN or infinite samples (first at sample {first})")
    return array.astype(np.float32, copy=False)


def check_ceiling_dbtp(ceiling_dbtp) -> float:
    """The ceiling as a float, if it is a number of dBTP from -60 to 0."""
    return _checked_number(ceiling_dbtp, "true-peak ceiling", (MIN_CEILING_DBTP, 0.0), "dBTP")


def _checked_number(value, name: str, limits: tuple[float, float], unit: str) -> float:
    low, high = limits
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise UserInputError(f"{name} must be a number of {unit}, got {value!r}")
    if not low <= value <= high:
        raise UserInputError(f"{name} must be between {low:g} and {high:g} {unit}, got {value:g}")
    return float(value)
