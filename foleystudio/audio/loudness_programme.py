"""EBU R128 programme measures from K-weighted audio: momentary, short-term, integrated, range.

Everything is built on 100 ms segments: the energy of each segment (the BS.1770 channel-weighted
sum of K-weighted squares) is kept only as long as a 3 s window needs it. A momentary value is the
mean power of the last 4 segments (400 ms), a short-term value that of the last 30 (3 s), one of
each every 100 ms, starting when the first window is complete (no padding with silence before the
start). The 400 ms momentary blocks are also BS.1770's gating blocks (75 % overlap), and the 10 Hz
short-term values are what EBU Tech 3342 computes the loudness range from.

The series of momentary and short-term powers are the only things that grow with duration (two
floats per 100 ms), which is what gating needs: the relative gate depends on the whole programme.
"""

from __future__ import annotations

import numpy as np

from foleystudio.audio.loudness_windows import WindowSums

LOUDNESS_OFFSET_DB = -0.691  # BS.1770: makes a 997 Hz sine read its RMS level
SEGMENT_S = 0.1
MOMENTARY_SEGMENTS = 4  # 400 ms
SHORT_TERM_SEGMENTS = 30  # 3 s
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0  # BS.1770-4 integrated loudness
RANGE_RELATIVE_GATE_LU = -20.0  # EBU Tech 3342 loudness range
RANGE_PERCENTILES = (10.0, 95.0)


def lufs_from_power(power) -> np.ndarray:
    """-0.691 + 10 log10(power); zero power reads -inf without a warning."""
    power = np.asarray(power, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET_DB + 10.0 * np.log10(power)


def power_from_lufs(lufs: float) -> float:
    return 10.0 ** ((lufs - LOUDNESS_OFFSET_DB) / 10.0)


class ProgrammeLoudness:
    """Consumes K-weighted squares (channels, n) and keeps the 10 Hz momentary and short-term powers."""

    def __init__(self, sample_rate: int, weights: tuple[float, ...]):
        self.sample_rate = sample_rate
        self.weights = tuple(float(w) for w in weights)
        self._segments = WindowSums(len(weights), hop_samples=sample_rate * SEGMENT_S)
        # The last 29 segments' energies and lengths: what the next 3 s window needs from the past.
        self._recent_energy = np.zeros(0)
        self._recent_length = np.zeros(0, dtype=np.int64)
        self._momentary: list[np.ndarray] = []
        self._short_term: list[np.ndarray] = []

    def push(self, squares: np.ndarray) -> None:
        sums, lengths = self._segments.push(squares)
        if sums.shape[1] == 0:
            return
        energy = self._weighted(sums)
        history = len(self._recent_energy)
        energy = np.concatenate([self._recent_energy, energy])
        lengths = np.concatenate([self._recent_length, lengths])
        self._momentary.append(_window_power(energy, lengths, MOMENTARY_SEGMENTS, history))
        self._short_term.append(_window_power(energy, lengths, SHORT_TERM_SEGMENTS, history))
        self._recent_energy = energy[-(SHORT_TERM_SEGMENTS - 1) :].copy()
        self._recent_length = lengths[-(SHORT_TERM_SEGMENTS - 1) :].copy()

    def _weighted(self, sums: np.ndarray) -> np.ndarray:
        # A fixed-order sum over channels (not a BLAS dot) keeps results independent of block sizes.
        energy = np.zeros(sums.shape[1])
        for weight, channel in zip(self.weights, sums, strict=True):
            if weight:
                energy = energy + weight * channel
        return energy

    @property
    def momentary_power(self) -> np.ndarray:
        return np.concatenate(self._momentary) if self._momentary else np.zeros(0)

    @property
    def short_term_power(self) -> np.ndarray:
        return np.concatenate(self._short_term) if self._short_term else np.zeros(0)


def _window_power(energy: np.ndarray, lengths: np.ndarray, width: int, history: int) -> np.ndarray:
    """Mean power of every run of ``width`` consecutive segments that ends at a new segment.

    ``history`` leading segments were seen before; windows ending there were already reported.
    Sums run in a fixed order (oldest first) so that a window's value does not depend on how the
    stream was split into blocks.
    """
    count = len(energy) - width + 1
    first = max(0, history - width + 1)
    if count <= first:
        return np.zeros(0)
    total_energy = energy[first:count].copy()
    total_length = lengths[first:count].copy()
    for offset in range(1, width):
        total_energy += energy[first + offset : count + offset]
        total_length += lengths[first + offset : count + offset]
    return total_energy / total_length


def integrated_loudness(block_power: np.ndarray) -> float:
    """BS.1770-4 gated loudness of 400 ms block powers: -70 LUFS absolute, -10 LU relative gate."""
    above_absolute = block_power[block_power > power_from_lufs(ABSOLUTE_GATE_LUFS)]
    if len(above_absolute) == 0:
        return float("-inf")
    relative_gate = np.mean(above_absolute) * 10.0 ** (RELATIVE_GATE_LU / 10.0)
    gated = above_absolute[above_absolute > relative_gate]
    return float(lufs_from_power(np.mean(gated)))


def loudness_range(short_term_power: np.ndarray) -> float:
    """EBU Tech 3342 loudness range (LU) of 10 Hz short-term powers; 0 when nothing passes the gates.

    As in the Tech 3342 reference code, values at or above -70 LUFS pass the absolute gate and
    values at or above (their energy mean - 20 LU) the relative gate; the range is the 95th minus the
    10th percentile (linear interpolation between order statistics).
    """
    loudness = lufs_from_power(short_term_power)
    above_absolute = loudness[loudness >= ABSOLUTE_GATE_LUFS]
    if len(above_absolute) == 0:
        return 0.0
    mean_power = np.mean(short_term_power[loudness >= ABSOLUTE_GATE_LUFS])
    gate = float(lufs_from_power(mean_power)) + RANGE_RELATIVE_GATE_LU
    gated = above_absolute[above_absolute >= gate]
    low, high = np.percentile(gated, RANGE_PERCENTILES)
    return float(high - low)
