"""The loudness-curve editor: the selected layer's left and right loudness lanes (PySide6 + pyqtgraph).

What the designer sees: two plots stacked (left lane above the right one), LUFS from -70 to 0 with
a dashed line at the -23 LUFS default level, seconds over the project's length, the curve, its
breakpoints, the selected take's measured curve as a thin orange line, and the playhead.

How it is built:

* **The document is the truth** (DESIGN §4.2). The widget shows ``session.selected_layer().curve``
  and refreshes whenever ``session.edited`` / ``selection_changed`` / ``project_replaced`` fire,
  so undo and redo simply show up. Every edit builds a new ``LoudnessCurve`` and pushes a
  ``LayerEdit``; one gesture (press .. release) uses one ``merge_key``, so a drag is one undo step.
* **Breakpoints are a view of the curve** (``curve_points``): derived exactly from the samples on
  load. The breakpoints this editor wrote are remembered per curve object (a small cache), so
  after undo/redo the designer gets back the very points they had, not only the same samples.
* **Linked lanes.** With ``curves_linked`` an edit applies to both channels: a selection made in
  one lane also selects the points at the same times in the other, and moves, deletes, level
  changes, pencil and line strokes and paste act on both. Channels that differ keep their own
  shape outside what is edited. "Link L/R" only flips ``curves_linked`` (undoable).
* **Mouse and keys** are taken from the plots' raw Qt events (an event filter), not from
  pyqtgraph's click/drag synthesis, so every press/move/release is handled the same way with or
  without a drag threshold. The wheel still zooms time and the right button is left to pyqtgraph.
* **Speed.** A mouse move costs a few vectorised numpy operations on the breakpoints, one
  ``np.interp`` over the frames and one ``PlotDataItem.setData`` per lane. Breakpoint markers are
  one ``ScatterPlotItem`` per lane (another for the selection), filled only with the points in view
  and left empty where markers would be denser than one per 6 px (the curve shows them; selected
  points then show as ticks): pyqtgraph's scatter costs ~10 ms per 3600 points per update. The
  curve pen is 1 px wide because Qt draws wider pens several times slower. No grid lines: the axes
  would repaint with every curve change. bench/ui_curve_redraw.py measures a drag.

Keys (while the editor has focus):
    V / P / R           Select-move, Pencil, Line (ramp) tool
    F / G               snap to video frames / to the 0.1 s grid on or off
    Delete, Backspace   delete the selected breakpoints (never the first or last)
    Up / Down           selected levels +1 / -1 dB (with Shift: 0.1 dB)
    Ctrl+Up / Ctrl+Down scale the selected levels around their mean by 1.25 / 0.8
    Ctrl+A, Escape      select all / select none
    Ctrl+C / Ctrl+V     copy the selection's time span / paste it at the playhead
Undo and redo are the main window's (Edit menu; the session's undo stack).
Mouse (Select tool): click a point to select it, Shift+click to add or remove one, drag on empty
space for a rubber band (Shift adds), drag a selected point to move the selection in time and
level, double-click empty space to add a point. Pencil: drag draws. Line: press-drag-release.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QToolBar, QVBoxLayout, QWidget

from foleystudio.audio.curve import CURVE_RATE_HZ, FLOOR_LUFS, LoudnessCurve
from foleystudio.errors import UserInputError
from foleystudio.project.layer import DEFAULT_CURVE_LUFS, Layer, default_curve
from foleystudio.ui import curve_points as cp
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

TOOLS = ("select", "pencil", "line")
TARGET_LUFS = DEFAULT_CURVE_LUFS  # the dashed reference line: the level a new curve starts at
GRID_STEP_S = Fraction(1, 10)
HIT_RADIUS_PX = 7.0
OFFSET_STEP_DB, FINE_OFFSET_STEP_DB = 1.0, 0.1
SCALE_UP, SCALE_DOWN = 1.25, 0.8
EDIT_TEXT = "Edit curve"
_CACHE_SIZE = 64
MARKERS_PER_PIXEL = 1 / 6  # beyond one marker per 6 px the markers merge: show the curve alone
TICK_LU = 1.5  # half-height of a selection tick where markers are too dense
_EMPTY = np.empty(0)
_LANE_NAMES = ("L", "R")
_CURVE_PEN = pg.mkPen("#4fa3ff", width=1)  # wider pens are several times slower to draw
_MEASURED_PEN = pg.mkPen("#f0a030", width=1)
_POINT_BRUSH, _SELECTED_BRUSH = pg.mkBrush("#d8e8ff"), pg.mkBrush("#ffd23f")
_TOOL_KEYS = {Qt.Key.Key_V: "select", Qt.Key.Key_P: "pencil", Qt.Key.Key_R: "line"}
_MOUSE_EVENTS = (
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick,
)


@dataclass
class _Gesture:
    """What a mouse press started; every move recomputes the edit from ``start_points``."""

    kind: str  # "move", "band", "pencil" or "line"
    channel: int
    press: tuple[float, float]
    start_points: tuple[cp.Breakpoints, cp.Breakpoints]
    merge_key: str
    grab_time: float = 0.0
    additive: bool = False
    stroke: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.empty(0), np.empty(0)))
    last_time: float | None = None


@dataclass(frozen=True)
class _Clip:
    """A copied time range: both channels' shapes, times from 0, and which lane was active."""

    channels: tuple[cp.Breakpoints, cp.Breakpoints]
    source_channel: int


class _Lane:
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
        self.plot.setLabel("left", f"{_LANE_NAMES[channel]}  LUFS")
        self.plot.setLabel("bottom", "time (s)")
        target_pen = pg.mkPen("#9a9a9a", width=1, style=Qt.PenStyle.DashLine)
        self.plot.addItem(pg.InfiniteLine(pos=TARGET_LUFS, angle=0, movable=False, pen=target_pen))
        self.measured = pg.PlotDataItem(pen=_MEASURED_PEN, skipFiniteCheck=True)
        self.curve = pg.PlotDataItem(pen=_CURVE_PEN, skipFiniteCheck=True)
        self.points = pg.ScatterPlotItem(size=7, brush=_POINT_BRUSH, pen=pg.mkPen("#20304a"))
        self.selected = pg.ScatterPlotItem(size=10, brush=_SELECTED_BRUSH, pen=pg.mkPen("#20304a"))
        # Where points are too dense for markers, the selected ones show as short vertical ticks.
        self.selected_ticks = pg.PlotCurveItem(pen=pg.mkPen("#ffd23f", width=3), connect="pairs", skipFiniteCheck=True)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=pg.mkPen("#e04040"))
        for item in (self.measured, self.curve, self.points, self.selected, self.selected_ticks, self.playhead):
            self.plot.addItem(item)
        self.band = QGraphicsRectItem()
        band_pen = QPen(QColor("#ffd23f"))
        band_pen.setCosmetic(True)
        band_pen.setStyle(Qt.PenStyle.DashLine)
        self.band.setPen(band_pen)
        self.band.hide()
        self.view.addItem(self.band, ignoreBounds=True)

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
        if len(in_view) > budget:
            ticks_t = np.repeat(times[in_view], 2)
            ticks_v = np.repeat(values[in_view], 2) + np.tile([-TICK_LU, TICK_LU], len(in_view))
            self.selected.setData(x=_EMPTY, y=_EMPTY)
            self.selected_ticks.setData(ticks_t, ticks_v)
        else:
            self.selected.setData(x=times[in_view], y=values[in_view])
            self.selected_ticks.setData(_EMPTY, _EMPTY)

    def to_data(self, position: QPointF) -> tuple[float, float]:
        point = self.view.mapSceneToView(self.plot.mapToScene(position.toPoint()))
        return float(point.x()), float(point.y())

    def pixel_size(self) -> tuple[float, float]:
        seconds, lufs = self.view.viewPixelSize()
        return max(seconds, 1e-12), max(lufs, 1e-12)


class CurveEditor(QWidget):
    """Editor of the selected layer's loudness curve.

    Public API: ``tool`` / ``set_tool(name)``; ``selected_indices(channel)`` /
    ``set_selection(channel, indices)``; ``breakpoints(channel)``; ``offset_selection(db)``,
    ``scale_selection(factor)``, ``delete_selection()``; ``copy_range(start_s, end_s)``,
    ``paste_at(time_s)``; ``reset_curve()``, ``fill_from_curve(curve, label)``,
    ``fill_from_audio_file(path)``; ``set_snapping(frames=, grid=)``; ``set_linked(linked)``;
    ``plot(channel)`` (the lane's PlotWidget). Channel 0 is left, 1 is right.
    Signal ``status_message(str)``: a line for the status bar after each action.
    """

    status_message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._layer_id: str | None = None
        self._grid: np.ndarray | None = None
        self._points: list[cp.Breakpoints] | None = None
        self._selection = [np.empty(0, np.intp), np.empty(0, np.intp)]
        self._active = 0
        self._shown_curve: LoudnessCurve | None = None
        self._shown_measured: object = ()
        self._project_shape: tuple | None = None
        self._cache: OrderedDict[int, tuple] = OrderedDict()
        self._gesture: _Gesture | None = None
        self._gestures_started = 0
        self._ignore_release = False
        self._committing = False
        self._clip: _Clip | None = None
        self._tool = "select"
        self._snap_frames, self._snap_grid = True, False
        self._build()
        session.edited.connect(self._sync)
        session.selection_changed.connect(self._sync)
        session.project_replaced.connect(self._on_project_replaced)
        session.playhead_moved.connect(self._show_playhead)
        self._sync()

    # ---- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._toolbar = QToolBar(self)
        self._tool_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        for name, text, key in (("select", "Select", "V"), ("pencil", "Pencil", "P"), ("line", "Line", "R")):
            action = QAction(text, self, checkable=True, toolTip=f"{text} tool ({key})")
            action.triggered.connect(lambda _checked=False, tool=name: self.set_tool(tool))
            group.addAction(action)
            self._toolbar.addAction(action)
            self._tool_actions[name] = action
        self._tool_actions["select"].setChecked(True)
        self._toolbar.addSeparator()
        self._snap_frames_action = QAction("Snap: frames", self, checkable=True, checked=True,
                                           toolTip="Snap breakpoint times to video frames (F)")
        self._snap_frames_action.toggled.connect(lambda on: self.set_snapping(frames=on))
        self._snap_grid_action = QAction("Snap: 0.1 s", self, checkable=True, checked=False,
                                         toolTip="Snap breakpoint times to a 0.1 s grid (G)")
        self._snap_grid_action.toggled.connect(lambda on: self.set_snapping(grid=on))
        self._link_action = QAction("Link L/R", self, checkable=True, checked=True,
                                    toolTip="Edit the left and right lanes together")
        self._link_action.triggered.connect(self.set_linked)
        for action in (self._snap_frames_action, self._snap_grid_action, self._link_action):
            self._toolbar.addAction(action)
        self._empty_label = QLabel("Select a layer to edit its loudness curve.", self)
        self._lanes = (_Lane(0), _Lane(1))
        self._lanes[1].plot.setXLink(self._lanes[0].plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for widget in (self._toolbar, self._empty_label, self._lanes[0].plot, self._lanes[1].plot):
            layout.addWidget(widget)
        self._viewports = {lane.plot.viewport(): index for index, lane in enumerate(self._lanes)}
        self._plots = {lane.plot: index for index, lane in enumerate(self._lanes)}
        for watched in (*self._viewports, *self._plots):
            watched.installEventFilter(self)
        for lane in self._lanes:
            lane.view.sigXRangeChanged.connect(self._draw_points)
            lane.view.sigResized.connect(self._draw_points)

    # ---- public API --------------------------------------------------------------------------------
    @property
    def tool(self) -> str:
        """The active tool: "select", "pencil" or "line"."""
        return self._tool

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown curve tool {name!r}; choose one of {', '.join(TOOLS)}")
        self._tool = name
        self._tool_actions[name].setChecked(True)
        self.status_message.emit(f"Curve tool: {self._tool_actions[name].text()}")

    def plot(self, channel: int) -> pg.PlotWidget:
        """The PlotWidget of lane ``channel`` (0 left, 1 right)."""
        return self._lanes[_checked_channel(channel)].plot

    def breakpoints(self, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of lane ``channel``'s breakpoint times (s) and levels (LUFS); empty without a layer."""
        channel = _checked_channel(channel)
        if self._points is None:
            return np.empty(0), np.empty(0)
        return self._points[channel].times.copy(), self._points[channel].values.copy()

    def selected_indices(self, channel: int) -> np.ndarray:
        """Sorted indices of the selected breakpoints of lane ``channel``."""
        return self._selection[_checked_channel(channel)].copy()

    def set_selection(self, channel: int, indices) -> None:
        """Select breakpoints of lane ``channel`` (and the same times in the other lane when linked)."""
        channel = _checked_channel(channel)
        if self._points is None:
            return
        indices = np.unique(np.asarray(indices, np.intp).ravel())
        if len(indices) and (indices[0] < 0 or indices[-1] >= len(self._points[channel])):
            raise ValueError(f"breakpoint index out of range for lane {_LANE_NAMES[channel]}: {indices.tolist()}")
        self._select(channel, indices)
        self._draw_points()

    @property
    def snap_to_frames(self) -> bool:
        return self._snap_frames

    @property
    def snap_to_grid(self) -> bool:
        return self._snap_grid

    def set_snapping(self, frames: bool | None = None, grid: bool | None = None) -> None:
        """Turn snapping of breakpoint times to video frames and/or to the 0.1 s grid on or off."""
        if frames is not None:
            self._snap_frames = bool(frames)
            self._snap_frames_action.setChecked(self._snap_frames)
        if grid is not None:
            self._snap_grid = bool(grid)
            self._snap_grid_action.setChecked(self._snap_grid)

    def set_linked(self, linked: bool) -> None:
        """Link or unlink the lanes (an undoable edit of the layer's ``curves_linked``)."""
        layer = self._layer()
        if layer is None:
            return
        if bool(linked) != layer.curves_linked:
            text = "Link L/R curves" if linked else "Unlink L/R curves"
            self._session.push(LayerEdit(self._session.project, layer.id, text, curves_linked=bool(linked)))
            self.status_message.emit("Lanes linked: edits apply to both" if linked else "Lanes unlinked")
        self._link_action.setChecked(layer.curves_linked)

    def delete_selection(self) -> None:
        """Delete the selected breakpoints (the first and last always stay)."""
        channels = self._edited_channels()
        if channels is None:
            return
        new = {ch: cp.delete_points(self._points[ch], self._selection[ch]) for ch in channels}
        removed = sum(len(self._points[ch]) - len(new[ch]) for ch in channels)
        if removed == 0:
            self.status_message.emit("Nothing to delete (the first and last points always stay)")
            return
        self._clear_selection()
        self._commit(new, EDIT_TEXT)
        self.status_message.emit(f"Deleted {removed} breakpoint(s)")

    def offset_selection(self, db: float) -> None:
        """Raise (or lower, for negative ``db``) the selected breakpoints' levels; one undo step."""
        self._level_edit(lambda points, sel: cp.offset_points(points, sel, float(db)), f"Level {db:+.1f} dB")

    def scale_selection(self, factor: float) -> None:
        """Scale the selected levels around their mean by ``factor`` (> 1 more dynamic); one undo step."""
        factor = float(factor)
        if not (np.isfinite(factor) and factor >= 0):
            raise ValueError(f"scale factor must be a finite number >= 0, got {factor}")
        self._level_edit(lambda points, sel: cp.scale_points(points, sel, factor), f"Levels scaled x{factor:g}")

    def copy_range(self, start_s: float, end_s: float) -> None:
        """Remember both lanes' shape over [start_s, end_s] for ``paste_at``."""
        if self._points is None:
            self.status_message.emit("No layer selected")
            return
        channels = tuple(cp.extract_range(points, start_s, end_s) for points in self._points)
        self._clip = _Clip(channels, self._active)
        self.status_message.emit(f"Copied the curve from {start_s:.2f} s to {end_s:.2f} s")

    def paste_at(self, time_s: float) -> None:
        """Put the copied shape at ``time_s``, replacing the points it covers; one undo step.

        Linked: left onto left and right onto right. Unlinked: into the active lane, from the lane
        that was active when copying.
        """
        channels = self._edited_channels()
        if channels is None:
            return
        if self._clip is None:
            self.status_message.emit("Nothing copied yet: select points and copy first")
            return
        new = {}
        for ch in channels:
            source = self._clip.channels[ch if len(channels) == 2 else self._clip.source_channel]
            new[ch] = cp.replace_range(self._points[ch], source.times + float(time_s), source.values, self._grid)
        self._clear_selection()
        self._commit(new, "Paste curve")
        self.status_message.emit(f"Pasted the curve at {float(time_s):.2f} s")

    def reset_curve(self) -> None:
        """Replace the curve with the default: flat at -23 LUFS over the project; one undo step."""
        if self._layer() is not None:
            self._replace_curve(default_curve(self._session.project.video_duration_s), "Reset curve")

    def fill_from_curve(self, curve: LoudnessCurve, label: str) -> None:
        """Replace the curve with ``curve`` (levels above 0 LUFS cut to 0); ``label`` names the undo step."""
        if not isinstance(curve, LoudnessCurve):
            raise ValueError(f"fill_from_curve needs a LoudnessCurve, got {type(curve).__name__}")
        ceiling = cp.CEILING_LUFS
        clipped = LoudnessCurve(curve.times, np.minimum(curve.left, ceiling), np.minimum(curve.right, ceiling))
        self._replace_curve(clipped, str(label))

    def fill_from_audio_file(self, path: str | Path) -> None:
        """Measure a sound file's loudness curve and use it, cut or padded (silence) to the project length.

        Raises UserInputError / MediaError for a file that cannot be read; the layer is unchanged then.
        """
        from foleystudio.audio.io import read_audio
        from foleystudio.audio.loudness import loudness_curve

        if self._layer() is None:
            self.status_message.emit("No layer selected")
            return
        path = Path(path)
        audio, rate = read_audio(path, channels=2)
        if audio.shape[1] == 0:
            raise UserInputError(f"{path}: the file holds no audio")
        measured = loudness_curve(audio, rate)
        self.fill_from_curve(_fit_to_length(measured, self._session.project.video_duration_s), f"Curve from {path.name}")

    # ---- document -> view ------------------------------------------------------------------------
    def _layer(self) -> Layer | None:
        return self._session.selected_layer()

    def _on_project_replaced(self) -> None:
        self._cache.clear()
        self._gesture = None
        self._sync()

    def _sync(self, _payload=None) -> None:
        """Show the document: reload what changed since the last look (cheap when nothing did)."""
        layer = self._layer()
        project = self._session.project
        if layer is None:
            self._show_no_layer()
            return
        shape = (layer.id, project.video_duration_s, project.frame_rate)
        if shape != self._project_shape:
            self._project_shape, self._layer_id = shape, layer.id
            self._shown_curve, self._shown_measured = None, ()
            self._cache.clear()
            self._gesture = None
            self._show_layer_frame(project.video_duration_s)
        if layer.curve is not self._shown_curve:
            self._load_curve(layer.curve, project.video_duration_s)
        self._link_action.setChecked(layer.curves_linked)
        take = layer.selected_take
        measured = None if take is None else take.measured_curve
        if measured is not self._shown_measured:
            self._shown_measured = measured
            for channel, lane in enumerate(self._lanes):
                if measured is None:
                    lane.measured.setData([], [])
                else:
                    lane.measured.setData(measured.times, (measured.left, measured.right)[channel])

    def _show_no_layer(self) -> None:
        self._project_shape = self._layer_id = self._points = self._grid = self._shown_curve = None
        self._gesture = None
        self._clear_selection()
        self._empty_label.show()
        for lane in self._lanes:
            lane.plot.hide()

    def _show_layer_frame(self, duration_s: float) -> None:
        self._empty_label.hide()
        for lane in self._lanes:
            lane.plot.show()
            lane.view.setLimits(xMin=0.0, xMax=duration_s, minXRange=1.0 / CURVE_RATE_HZ)
        self._lanes[0].plot.setXRange(0.0, duration_s, padding=0.01)
        self._show_playhead(self._session.playhead_s)

    def _load_curve(self, curve: LoudnessCurve, duration_s: float) -> None:
        cached = self._cache.get(id(curve))
        if cached is not None and cached[0] is curve:
            self._cache.move_to_end(id(curve))
            _, self._grid, left, right = cached
        else:
            self._grid, left, right = cp.channels_from_curve(curve, duration_s)
        previous = self._points
        self._points = [left, right]
        self._shown_curve = curve
        if not self._committing and (previous is None or previous[0] != left or previous[1] != right):
            self._clear_selection()
        self._draw_curve()
        self._draw_points()

    def _remember(self, curve: LoudnessCurve, points) -> None:
        self._cache[id(curve)] = (curve, self._grid, points[0], points[1])
        self._cache.move_to_end(id(curve))
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)

    def _draw_curve(self) -> None:
        for channel, lane in enumerate(self._lanes):
            lane.curve.setData(self._grid, self._points[channel].sample(self._grid))

    def _draw_points(self, *_unused) -> None:
        if self._points is None:
            return
        for channel, lane in enumerate(self._lanes):
            points = self._points[channel]
            lane.show_points(points.times, points.values, self._selection[channel])

    def _show_playhead(self, seconds: float) -> None:
        for lane in self._lanes:
            lane.playhead.setValue(seconds)

    # ---- view -> document ------------------------------------------------------------------------
    def _edited_channels(self) -> tuple[int, ...] | None:
        layer = self._layer()
        if layer is None or self._points is None:
            self.status_message.emit("No layer selected")
            return None
        return (0, 1) if layer.curves_linked else (self._active,)

    def _commit(self, new_points: dict[int, cp.Breakpoints], text: str, merge_key: str | None = None) -> None:
        """Write breakpoints to the document as one ``LayerEdit`` (merged into a gesture by ``merge_key``)."""
        points = list(self._points)
        for channel, channel_points in new_points.items():
            points[channel] = channel_points
        layer = self._layer()
        curve = cp.curve_from_breakpoints(self._grid, points[0], points[1])
        if curve == layer.curve:
            # Same samples (e.g. a point added on a straight stretch): nothing to undo, but show the points.
            self._points = points
            self._remember(layer.curve, points)
            self._draw_points()
            return
        self._remember(curve, points)
        self._committing = True
        try:
            self._session.push(LayerEdit(self._session.project, layer.id, text, merge_key=merge_key, curve=curve))
        finally:
            self._committing = False

    def _replace_curve(self, curve: LoudnessCurve, text: str) -> None:
        layer = self._layer()
        self._session.push(LayerEdit(self._session.project, layer.id, text, curve=curve))
        self.status_message.emit(text)

    def _level_edit(self, edit, message: str) -> None:
        channels = self._edited_channels()
        if channels is None:
            return
        if not any(len(self._selection[ch]) for ch in channels):
            self.status_message.emit("No breakpoints selected")
            return
        self._commit({ch: edit(self._points[ch], self._selection[ch]) for ch in channels}, EDIT_TEXT)
        self.status_message.emit(message)

    # ---- selection ---------------------------------------------------------------------------------
    def _clear_selection(self) -> None:
        self._selection = [np.empty(0, np.intp), np.empty(0, np.intp)]

    def _select(self, channel: int, indices) -> None:
        """Select in ``channel``; mirror to the other lane when linked, clear it when not."""
        self._active = channel
        indices = np.unique(np.asarray(indices, np.intp))
        other = 1 - channel
        self._selection[channel] = indices
        layer = self._layer()
        if layer is not None and layer.curves_linked:
            self._selection[other] = cp.matching_indices(self._points[channel], indices, self._points[other])
        else:
            self._selection[other] = np.empty(0, np.intp)

    # ---- mouse -------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _MOUSE_EVENTS and watched in self._viewports:
            return self._mouse_event(self._viewports[watched], event)
        if watched in self._plots:
            if kind == QEvent.Type.ShortcutOverride and self._handles_key(event):
                event.accept()  # our key while we have focus: not a window shortcut
                return True
            if kind == QEvent.Type.KeyPress:
                return self._key_event(event)
        return super().eventFilter(watched, event)

    def _mouse_event(self, channel: int, event) -> bool:
        kind = event.type()
        left_button = event.button() == Qt.MouseButton.LeftButton
        if self._points is None or (kind != QEvent.Type.MouseMove and not left_button):
            return False
        if kind == QEvent.Type.MouseMove and self._gesture is None:
            return False  # hovering: pyqtgraph may use it
        self._lanes[channel].plot.setFocus(Qt.FocusReason.MouseFocusReason)
        lane = self._lanes[self._gesture.channel if self._gesture is not None else channel]
        time_s, lufs = lane.to_data(event.position())
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if kind == QEvent.Type.MouseButtonDblClick:
            self._gesture = None
            self._ignore_release = True
            if self._tool == "select":
                self._double_click(channel, time_s, lufs)
        elif kind == QEvent.Type.MouseButtonPress:
            self._ignore_release = False
            self._press(channel, time_s, lufs, shift)
        elif kind == QEvent.Type.MouseMove:
            self._drag_to(time_s, lufs)
        elif self._ignore_release:
            self._ignore_release = False
        else:
            self._release(time_s, lufs)
        return True

    def _snap(self, time_s: float) -> float:
        steps = []
        if self._snap_frames:
            steps.append(1 / Fraction(self._session.project.frame_rate))
        if self._snap_grid:
            steps.append(GRID_STEP_S)
        return cp.snap_time(time_s, steps)

    def _hit(self, channel: int, time_s: float, lufs: float) -> int | None:
        seconds_px, lufs_px = self._lanes[channel].pixel_size()
        return cp.nearest_point(self._points[channel], time_s, lufs, seconds_px, lufs_px, HIT_RADIUS_PX)

    def _double_click(self, channel: int, time_s: float, lufs: float) -> None:
        hit = self._hit(channel, time_s, lufs)
        if hit is not None:
            self._select(channel, [hit])
            self._draw_points()
            return
        channels = self._edited_channels_for(channel)
        time_s = self._snap(time_s)
        new, where = {}, {}
        for ch in channels:
            new[ch], where[ch] = cp.insert_point(self._points[ch], time_s, lufs)
        self._commit(new, EDIT_TEXT)
        self._select(channel, [where[channel]])
        self._draw_points()
        self.status_message.emit(f"Added a point at {new[channel].times[where[channel]]:.3f} s, {np.clip(lufs, FLOOR_LUFS, 0):.1f} LUFS")

    def _edited_channels_for(self, channel: int) -> tuple[int, ...]:
        self._active = channel
        return (0, 1) if self._layer().curves_linked else (channel,)

    def _press(self, channel: int, time_s: float, lufs: float, shift: bool) -> None:
        self._gestures_started += 1
        key = f"curve-gesture-{self._gestures_started}"
        start = (self._points[0], self._points[1])
        if self._tool == "select":
            hit = self._hit(channel, time_s, lufs)
            if hit is None:
                if not shift:
                    self._select(channel, [])
                self._gesture = _Gesture("band", channel, (time_s, lufs), start, key, additive=shift)
            else:
                selection = self._selection[channel]
                if shift:
                    selection = np.setxor1d(selection, [hit])
                elif hit not in selection:
                    selection = [hit]
                self._select(channel, selection)
                if hit in self._selection[channel]:
                    grab = float(self._points[channel].times[hit])
                    self._gesture = _Gesture("move", channel, (time_s, lufs), start, key, grab_time=grab)
            self._draw_points()
            return
        self._edited_channels_for(channel)
        self._clear_selection()
        if self._tool == "pencil":
            self._gesture = _Gesture("pencil", channel, (time_s, lufs), start, key)
            self._drag_to(time_s, lufs)
        else:
            self._gesture = _Gesture("line", channel, (self._snap(time_s), lufs), start, key)

    def _drag_to(self, time_s: float, lufs: float) -> None:
        gesture = self._gesture
        if gesture is None:
            return
        channels = (0, 1) if self._layer().curves_linked else (gesture.channel,)
        if gesture.kind == "band":
            self._show_band(gesture, time_s, lufs)
            return
        if gesture.kind == "move":
            new = self._moved(gesture, channels, time_s, lufs)
        elif gesture.kind == "pencil":
            stroke_t, stroke_v = cp.add_stroke_point(*gesture.stroke, gesture.last_time, time_s, lufs)
            gesture.stroke, gesture.last_time = (stroke_t, stroke_v), time_s
            times, values = cp.pencil_points(stroke_t, stroke_v, self._grid)
            new = {ch: cp.replace_range(gesture.start_points[ch], times, values, self._grid) for ch in channels}
        else:
            (t0, v0), t1 = gesture.press, self._snap(time_s)
            if t1 == t0:
                return
            new = {ch: cp.replace_range(gesture.start_points[ch], [t0, t1], [v0, lufs], self._grid)
                   for ch in channels}
        self._commit(new, EDIT_TEXT, merge_key=gesture.merge_key)

    def _moved(self, gesture: _Gesture, channels, time_s: float, lufs: float) -> dict[int, cp.Breakpoints]:
        """The selection moved by the drag so far: the grabbed point's time snapped, both lanes limited alike."""
        shift = self._snap(gesture.grab_time + time_s - gesture.press[0]) - gesture.grab_time
        for ch in channels:
            low, high = cp.shift_limits(gesture.start_points[ch], self._selection[ch])
            shift = float(np.clip(shift, low, high))
        offset = lufs - gesture.press[1]
        return {ch: cp.move_points(gesture.start_points[ch], self._selection[ch], shift, offset) for ch in channels}

    def _show_band(self, gesture: _Gesture, time_s: float, lufs: float) -> None:
        t0, v0 = gesture.press
        band = self._lanes[gesture.channel].band
        band.setRect(QRectF(QPointF(min(t0, time_s), min(v0, lufs)), QPointF(max(t0, time_s), max(v0, lufs))))
        band.show()

    def _release(self, time_s: float, lufs: float) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is None:
            return
        if gesture.kind == "band":
            self._lanes[gesture.channel].band.hide()
            t0, v0 = gesture.press
            inside = cp.points_in_rect(self._points[gesture.channel], (t0, time_s), (v0, lufs))
            if gesture.additive and gesture.channel == self._active:
                inside = np.union1d(self._selection[gesture.channel], inside)
            self._select(gesture.channel, inside)
            self._draw_points()
            self.status_message.emit(f"{len(self._selection[gesture.channel])} breakpoint(s) selected")
            return
        self._drag_to(time_s, lufs)
        self.status_message.emit({"move": "Moved breakpoints", "pencil": "Drew the curve", "line": "Drew a ramp"}[gesture.kind])

    # ---- keys --------------------------------------------------------------------------------------
    def keyPressEvent(self, event) -> None:
        if not self._key_event(event):
            super().keyPressEvent(event)

    def _handles_key(self, event) -> bool:
        key, ctrl = event.key(), bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if ctrl:
            return key in (Qt.Key.Key_C, Qt.Key.Key_V, Qt.Key.Key_A, Qt.Key.Key_Up, Qt.Key.Key_Down)
        return key in _TOOL_KEYS or key in (
            Qt.Key.Key_F, Qt.Key.Key_G, Qt.Key.Key_Delete, Qt.Key.Key_Backspace,
            Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Escape,
        )

    def _key_event(self, event) -> bool:
        if not self._handles_key(event):
            return False
        key, modifiers = event.key(), event.modifiers()
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        up_down = {Qt.Key.Key_Up: 1.0, Qt.Key.Key_Down: -1.0}
        if ctrl and key in up_down:
            self.scale_selection(SCALE_UP if key == Qt.Key.Key_Up else SCALE_DOWN)
        elif ctrl and key == Qt.Key.Key_C:
            self._copy_selection()
        elif ctrl and key == Qt.Key.Key_V:
            self.paste_at(self._session.playhead_s)
        elif ctrl and key == Qt.Key.Key_A:
            if self._points is not None:
                self.set_selection(self._active, np.arange(len(self._points[self._active])))
        elif key in up_down:
            self.offset_selection(up_down[key] * (FINE_OFFSET_STEP_DB if shift else OFFSET_STEP_DB))
        elif key in _TOOL_KEYS:
            self.set_tool(_TOOL_KEYS[key])
        elif key == Qt.Key.Key_F:
            self.set_snapping(frames=not self._snap_frames)
        elif key == Qt.Key.Key_G:
            self.set_snapping(grid=not self._snap_grid)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selection()
        elif key == Qt.Key.Key_Escape:
            self._clear_selection()
            self._draw_points()
        return True

    def _copy_selection(self) -> None:
        if self._points is None:
            return
        times = self._points[self._active].times[self._selection[self._active]]
        if len(times) < 2:
            self.status_message.emit("Select at least two points to copy the time between them")
            return
        self.copy_range(float(times.min()), float(times.max()))


def _checked_channel(channel: int) -> int:
    if channel not in (0, 1):
        raise ValueError(f"channel must be 0 (left) or 1 (right), got {channel!r}")
    return int(channel)


def _fit_to_length(curve: LoudnessCurve, duration_s: float) -> LoudnessCurve:
    """``curve`` (6 Hz from 0 s) cut or padded with silence to cover ``duration_s``."""
    count = max(1, int(np.ceil(duration_s * CURVE_RATE_HZ - 1e-9)))
    have = min(count, len(curve))
    pad = np.full(count - have, FLOOR_LUFS)
    left = np.concatenate([curve.left[:have], pad])
    right = np.concatenate([curve.right[:have], pad])
    return LoudnessCurve.uniform(left, right, CURVE_RATE_HZ)
