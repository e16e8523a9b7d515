"""Value objects of a loudness measurement: the 10 Hz series and the whole report.

Minus infinity (digital silence, or nothing above the gates) is kept as ``float('-inf')`` in the
objects and written as ``None`` (JSON null) by ``to_dict``, because JSON has no infinity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from foleystudio.audio.curve import LoudnessCurve

_DECIMALS = 4


def json_number(value: float) -> float | None:
    """A float rounded for JSON, None for -inf; NaN and +inf never occur in a report."""
    value = float(value)
    if value == float("-inf"):
        return None
    return round(value, _DECIMALS)


@dataclass(frozen=True, eq=False)
class LoudnessSeries:
    """Programme loudness measured over a sliding window: momentary (400 ms) or short-term (3 s).

    ``end_times[k]`` is the end of window k, the moment a meter shows ``values[k]``. Values are LUFS,
    -inf for digital silence (not floored, unlike the curve).
    """

    window_s: float
    hop_s: float
    end_times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        for name in ("end_times", "values"):
            array = np.array(getattr(self, name), dtype=np.float64)
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if len(self.end_times) != len(self.values):
            raise ValueError("series times and values differ in length")

    def __len__(self) -> int:
        return len(self.values)

    @property
    def maximum(self) -> float:
        return float(np.max(self.values)) if len(self.values) else float("-inf")

    def to_dict(self) -> dict:
        return {
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "end_times": [round(float(t), 6) for t in self.end_times],
            "lufs": [json_number(v) for v in self.values],
        }


@dataclass(frozen=True, eq=False)
class LoudnessReport:
    """Everything the meter measures about one programme (see ``foleystudio.audio.loudness``)."""

    sample_rate: int
    channels: int
    layout: str
    duration_s: float
    curve: LoudnessCurve
    curve_window_s: float
    curve_hop_s: float
    momentary: LoudnessSeries
    short_term: LoudnessSeries
    integrated_lufs: float
    loudness_range_lu: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    channel_true_peaks_dbtp: tuple[float, ...]
    channel_sample_peaks_dbfs: tuple[float, ...]
    true_peak_oversampling: int

    @property
    def is_silent(self) -> bool:
        """True when nothing passed the -70 LUFS gate (integrated loudness is -inf)."""
        return math.isinf(self.integrated_lufs)

    def to_dict(self, include_series: bool = True) -> dict:
        """JSON-friendly form; -inf is written as None. ``include_series`` adds the curve and the
        momentary and short-term series (large for long programmes)."""
        data = {
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "layout": self.layout,
            "duration_s": round(self.duration_s, 6),
            "integrated_lufs": json_number(self.integrated_lufs),
            "loudness_range_lu": json_number(self.loudness_range_lu),
            "max_momentary_lufs": json_number(self.max_momentary_lufs),
            "max_short_term_lufs": json_number(self.max_short_term_lufs),
            "true_peak_dbtp": json_number(self.true_peak_dbtp),
            "sample_peak_dbfs": json_number(self.sample_peak_dbfs),
            "channel_true_peaks_dbtp": [json_number(v) for v in self.channel_true_peaks_dbtp],
            "channel_sample_peaks_dbfs": [json_number(v) for v in self.channel_sample_peaks_dbfs],
            "true_peak_oversampling": self.true_peak_oversampling,
        }
        if include_series:
            data["curve"] = {"window_s": self.curve_window_s, "hop_s": self.curve_hop_s, **self.curve.to_dict()}
            data["momentary"] = self.momentary.to_dict()
            data["short_term"] = self.short_term.to_dict()
        return data
