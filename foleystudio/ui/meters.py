"""Meters for preview playback: the mix's EBU R128 loudness and a peak bar per layer.

``LoudnessMeterPanel`` feeds the blocks that were actually played (``Player.levels``) into the one
streaming ``foleystudio.audio.loudness.LoudnessMeter``, so the numbers match ``foleystudio loudness``
and export exactly; a seek starts the measurement over (integrated loudness and range describe a
continuous stretch of programme). The report is read at most every ``REPORT_INTERVAL_S`` of audio:
it rebuilds the gated measures over the whole history, which is cheap at 10 Hz but wasteful at
every tick.

``PeakMeter`` draws one bar per layer (and the mix) in dBFS with a peak hold that falls back after
``HOLD_S``. Both widgets hold only display values and paint with QPainter; they never touch audio
devices or the project.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QWidget

from foleystudio.audio.loudness import LoudnessMeter

SILENCE = float("-inf")
REPORT_INTERVAL_S = 0.1
METER_FLOOR_DB = -60.0
HOLD_S = 1.5
MIX_KEY = "__mix__"
LOUDNESS_ROWS = (
    ("momentary_lufs", "M", "LUFS"),
    ("short_term_lufs", "S", "LUFS"),
    ("integrated_lufs", "I", "LUFS"),
    ("loudness_range_lu", "LRA", "LU"),
    ("true_peak_dbtp", "TP", "dBTP"),
)


def format_level(value: float, unit: str) -> str:
    return f"-inf {unit}" if not math.isfinite(value) else f"{value:.1f} {unit}"


def bar_fraction(db: float, floor: float = METER_FLOOR_DB) -> float:
    """Where ``db`` falls on a bar from ``floor`` (0) to 0 dB (1)."""
    if not math.isfinite(db):
        return 0.0
    return min(1.0, max(0.0, (db - floor) / -floor))


class LoudnessMeterPanel(QWidget):
    """Momentary, short-term, integrated, loudness range and true peak of the mix being played."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._meter: LoudnessMeter | None = None
        self._reported_at = 0.0
        self._values = self._empty_values()
        self.setMinimumSize(160, 24 * len(LOUDNESS_ROWS))

    @staticmethod
    def _empty_values() -> dict[str, float]:
        return {key: (0.0 if key == "loudness_range_lu" else SILENCE) for key, _, _ in LOUDNESS_ROWS}

    def values(self) -> dict[str, float]:
        """The latest readings: momentary/short-term/integrated LUFS, range LU, true peak dBTP."""
        return dict(self._values)

    def reset(self) -> None:
        self._meter = None
        self._values = self._empty_values()
        self.update()

    def on_levels(self, levels: Mapping) -> None:
        """Slot for ``Player.levels``."""
        if levels.get("reset"):
            self.reset()
        mix = levels.get("mix")
        if mix is not None and mix.shape[-1]:
            self.feed(mix, levels["sample_rate"])

    def feed(self, block: np.ndarray, sample_rate: int) -> None:
        """Measure the next played block (channels, n) of the mix."""
        if self._meter is None or self._meter.sample_rate != sample_rate or self._meter.channels != block.shape[0]:
            self._meter = LoudnessMeter(sample_rate, block.shape[0])
            self._reported_at = 0.0
        self._meter.process(block)
        if self._meter.duration_s - self._reported_at >= REPORT_INTERVAL_S:
            self.refresh()

    def refresh(self) -> None:
        """Read the meter's report now (``feed`` does this every ``REPORT_INTERVAL_S`` of audio)."""
        if self._meter is None or self._meter.duration_s == 0:
            return
        report = self._meter.result()
        self._reported_at = self._meter.duration_s
        self._values = {
            "momentary_lufs": _last(report.momentary.values),
            "short_term_lufs": _last(report.short_term.values),
            "integrated_lufs": report.integrated_lufs,
            "loudness_range_lu": report.loudness_range_lu,
            "true_peak_dbtp": report.true_peak_dbtp,
        }
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(220, 24 * len(LOUDNESS_ROWS))

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        row_height = self.height() / len(LOUDNESS_ROWS)
        label_width = 40
        for row, (key, label, unit) in enumerate(LOUDNESS_ROWS):
            top = row * row_height
            value = self._values[key]
            if unit == "LUFS":  # a bar for the loudness values, -60 to 0 LUFS
                bar = QRectF(label_width, top + 3, (self.width() - label_width) * bar_fraction(value), row_height - 6)
                painter.fillRect(bar, QColor(60, 140, 90))
            painter.setPen(QColor(220, 220, 220))
            painter.drawText(QRectF(4, top, label_width, row_height), Qt.AlignmentFlag.AlignVCenter, label)
            painter.drawText(QRectF(label_width, top, self.width() - label_width - 4, row_height),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, format_level(value, unit))
        painter.end()


def _last(values: np.ndarray) -> float:
    return float(values[-1]) if len(values) else SILENCE


class PeakMeter(QWidget):
    """Vertical dBFS bars, one per layer plus the mix, each with a peak hold."""

    def __init__(self, parent: QWidget | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self._clock = clock
        self._order: list[str] = []
        self._names: dict[str, str] = {}
        self._levels: dict[str, float] = {}
        self._holds: dict[str, tuple[float, float]] = {}  # key -> (held dBFS, when it was set)
        self.setMinimumSize(60, 120)

    def level(self, key: str) -> float:
        """The current level (dBFS) of a layer id, or ``MIX_KEY`` for the mix."""
        return self._levels.get(key, SILENCE)

    def held(self, key: str) -> float:
        """The held peak (dBFS) of a layer id or ``MIX_KEY``."""
        return self._holds.get(key, (SILENCE, 0.0))[0]

    def on_levels(self, levels: Mapping) -> None:
        """Slot for ``Player.levels``."""
        peaks = dict(levels.get("layers", {}))
        names = dict(levels.get("names", {}))
        if "mix_peak_dbfs" in levels:
            peaks[MIX_KEY] = levels["mix_peak_dbfs"]
            names[MIX_KEY] = "Mix"
        self.show_levels(peaks, names)

    def show_levels(self, peaks: Mapping[str, float], names: Mapping[str, str] | None = None) -> None:
        """Show new peak levels (dBFS) keyed by layer id; bars for keys no longer given disappear."""
        now = self._clock()
        self._order = list(peaks)
        self._names = {key: (names or {}).get(key, key) for key in peaks}
        self._levels = {key: float(value) for key, value in peaks.items()}
        holds = {}
        for key, value in self._levels.items():
            held, since = self._holds.get(key, (SILENCE, now))
            if value >= held or now - since > HOLD_S:
                held, since = value, now
            holds[key] = (held, since)
        self._holds = holds
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(36 * max(1, len(self._order)), 160)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 24))
        if self._order:
            width = self.width() / len(self._order)
            label_height = 16
            bar_height = self.height() - label_height
            for i, key in enumerate(self._order):
                left = i * width + 3
                fraction = bar_fraction(self._levels[key])
                colour = QColor(200, 60, 50) if self._levels[key] > -1.0 else QColor(70, 170, 90)
                painter.fillRect(QRectF(left, bar_height * (1 - fraction), width - 6, bar_height * fraction), colour)
                held = bar_fraction(self.held(key))
                if held > 0:
                    painter.fillRect(QRectF(left, bar_height * (1 - held), width - 6, 2), QColor(240, 220, 120))
                painter.setPen(QColor(220, 220, 220))
                painter.drawText(QRectF(i * width, bar_height, width, label_height),
                                 Qt.AlignmentFlag.AlignCenter, self._names[key][:8])
        painter.end()
