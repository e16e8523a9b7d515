"""One lane of the curve editor: a channel's plot, its curve, breakpoint markers and overlays.

A lane only draws what it is given; it holds no curve of its own (DESIGN §4.2), so the editor can
redraw both lanes from its breakpoints after every edit, undo or redo.

Speed is why it looks the way it does: breakpoint markers are one ``ScatterPlotItem`` per lane
(another for the selection), filled only with the points in view and left empty where markers
would be denser than one per 6 px (the curve shows them; selected points then show as ticks):
pyqtgraph's scatter costs ~10 ms per 3600 points per update. The curve pen is 1 px wide because Qt
draws wider pens several times slower. No grid lines: the axes would repaint with every change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from foleystudio.audio.curve import FLOOR_LUFS
from foleystudio.project.layer import DEFAULT_CURVE_LUFS
from foleystudio.ui import curve_points as cp

logger = logging.getLogger(__name__)

TARGET_LUFS = DEFAULT_CURVE_LUFS  # the dashed reference line: the level a new curve starts at
MARKERS_PER_PIXEL = 1 / 6  # beyond one marker per 6 px the markers merge: show the curve alone
TICK_LU = 1.5  # half-height of a selection tick where markers are too dense
LANE_NAMES = ("L", "R")
_EMPTY = np.empty(0)
_CURVE_PEN = pg.mkPen("#4fa3ff", width=1)  # wider pens are several times slower to draw
_MEASURED_PEN = pg.mkPen("#f0a030", width=1)
_POINT_BRUSH, _SELECTED_BRUSH = pg.mkBrush("#d8e8ff"), pg.mkBrush("#ffd23f")


class CurveLane:
    """One channel's plot and its items."""

    def __init__(self, channel: int) -> None:
        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.view = self.plot.getViewBox()
        self.view.setMouseEnabled(x=True, y=False)
        self.view.disableAutoRange()
        self.plot.setYRange(FLOOR_LUFS, cp.CEILING_LUFS, padding=0.03)
        self.plot.setLabel("left", f"{LANE_NAMES[channel]}  LUFS")
        self.plot.setLabel("bottom", "time (s)")
        target_pen = pg.mkPen("#9a9a9a", width=1, style=Qt.PenStyle.DashLine)
        self.plot.addItem(pg.InfiniteLine(pos=TARGET_LUFS, angle=0, movable=False, pen=target_pen))
        self._add_data_items()
        self.band = _rubber_band()
        self.view.addItem(self.band, ignoreBounds=True)

    def _add_data_items(self) -> None:
        self.measured = pg.PlotDataItem(pen=_MEASURED_PEN, skipFiniteCheck=True)
        self.curve = pg.PlotDataItem(pen=_CURVE_PEN, skipFiniteCheck=True)
        self.points = pg.ScatterPlotItem(size=7, brush=_POINT_BRUSH, pen=pg.mkPen("#20304a"))
        self.selected = pg.ScatterPlotItem(size=10, brush=_SELECTED_BRUSH, pen=pg.mkPen("#20304a"))
        # Where points are too dense for markers, the selected ones show as short vertical ticks.
        self.selected_ticks = pg.PlotCurveItem(pen=pg.mkPen("#ffd23f", width=3), connect="pairs", skipFiniteCheck=True)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=pg.mkPen("#e04040"))
        for item in (self.measured, self.curve, self.points, self.selected, self.selected_ticks, self.playhead):
            self.plot.addItem(item)

    def marker_budget(self) -> tuple[float, float, float]:
        """The visible time span and how many markers fit in it before they merge into a smear."""
        (start, end), _ = self.view.viewRange()
        return start, end, max(self.view.width(), 1.0) * MARKERS_PER_PIXEL

    def show_points(self, times: np.ndarray, values: np.ndarray, selected: np.ndarray) -> None:
        """Markers for the breakpoints in view; none (the curve shows them) where they would be denser
        than ``MARKERS_PER_PIXEL``, which also keeps a drag on a 3600-point curve fast."""
        start, end, budget = self.marker_budget()
        first, last = np.searchsorted(times, [start, end], side="left")
        last = min(len(times), last + 1)
        shown = slice(max(0, first - 1), last)
        if last - shown.start > budget:
            self.points.setData(x=_EMPTY, y=_EMPTY)
        else:
            self.points.setData(x=times[shown], y=values[shown])
        in_view = selected[(selected >= shown.start) & (selected < shown.stop)]
        self._show_selected(times, values, in_view, budget)

    def _show_selected(self, times: np.ndarray, values: np.ndarray, in_view: np.ndarray, budget: float) -> None:
        if len(in_view) > budget:
            ticks_t = np.repeat(times[in_view], 2)
            ticks_v = np.repeat(values[in_view], 2) + np.tile([-TICK_LU, TICK_LU], len(in_view))
            self.selected.setData(x=_EMPTY, y=_EMPTY)
            self.selected_ticks.setData(ticks_t, ticks_v)
        else:
            self.selected.setData(x=times[in_view], y=values[in_view])
            self.selected_ticks.setData(_EMPTY, _EMPTY)

    def show_measured(self, times, values) -> None:
        """The selected take's measured curve (empty sequences hide it)."""
        self.measured.setData(times, values)

    def to_data(self, position: QPointF) -> tuple[float, float]:
        point = self.view.mapSceneToView(self.plot.mapToScene(position.toPoint()))
        return float(point.x()), float(point.y())

    def pixel_size(self) -> tuple[float, float]:
        seconds, lufs = self.view.viewPixelSize()
        return max(seconds, 1e-12), max(lufs, 1e-12)


def _rubber_band() -> QGraphicsRectItem:
    """The dashed rectangle a rubber-band selection draws (hidden until a band drag starts)."""
    band = QGraphicsRectItem()
    band_pen = QPen(QColor("#ffd23f"))
    band_pen.setCosmetic(True)
    band_pen.setStyle(Qt.PenStyle.DashLine)
    band.setPen(band_pen)
    band.hide()
    return band


def draw_curves(lanes: Sequence[CurveLane], grid: np.ndarray, points: Sequence[cp.Breakpoints]) -> None:
    """Each lane's curve sampled from its breakpoints on the frame grid."""
    for channel, lane in enumerate(lanes):
        lane.curve.setData(grid, points[channel].sample(grid))


def draw_points(lanes: Sequence[CurveLane], points: Sequence[cp.Breakpoints], selection: Sequence[np.ndarray]) -> None:
    """Each lane's breakpoint markers and its selection."""
    for channel, lane in enumerate(lanes):
        lane.show_points(points[channel].times, points[channel].values, selection[channel])
