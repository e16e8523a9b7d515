"""The loudness-curve editor: the selected layer's left and right loudness lanes (PySide6 + pyqtgraph).

What the designer sees: two plots stacked (left lane above the right one), LUFS from -70 to 0 with
a dashed line at the -23 LUFS default level, seconds over the project's length, the curve, its
breakpoints, the selected take's measured curve as a thin orange line, and the playhead.

How it is built (``CurveEditor`` is the widget and the public API; the work lives in helpers):

* **The document is the truth** (DESIGN §4.2). The widget shows ``session.selected_layer().curve``
  and refreshes whenever ``session.edited`` / ``selection_changed`` / ``project_replaced`` fire,
  so undo and redo simply show up. Every edit builds a new ``LoudnessCurve`` and pushes a
  ``LayerEdit`` (``curve_editing``); one gesture uses one ``merge_key``, so a drag is one undo step.
* **Breakpoints are a view of the curve** (``curve_points``), remembered per curve object so undo
  and redo give back the very points the designer had (``curve_editing.BreakpointMemory``).
* **Linked lanes.** With ``curves_linked`` an edit applies to both channels: a selection made in
  one lane also selects the points at the same times in the other, and moves, deletes, level
  changes, pencil and line strokes and paste act on both. Channels that differ keep their own
  shape outside what is edited. "Link L/R" only flips ``curves_linked`` (undoable).
* **Mouse and keys** are taken from the plots' raw Qt events (an event filter here) and handled
  by ``curve_tools`` (gestures, snapping) and ``curve_keys`` (bindings).
* **Speed.** A mouse move costs a few vectorised numpy operations on the breakpoints, one
  ``np.interp`` over the frames and one ``PlotDataItem.setData`` per lane; ``curve_lane`` explains
  how the markers stay cheap. bench/ui_curve_redraw.py measures a drag.

Modules: ``curve_lane`` (one channel's plot), ``curve_toolbar`` (tool, snapping and link actions),
``curve_tools`` (mouse gestures), ``curve_keys`` (keyboard), ``curve_editing`` (breakpoints,
selection and the edits), ``curve_clipboard`` (copy/paste of a time range), ``curve_sources``
(whole curves from code or a sound file).

Undo and redo are the main window's (Edit menu; the session's undo stack).
Mouse (Select tool): click a point to select it, Shift+click to add or remove one, drag on empty
space for a rubber band (Shift adds), drag a selected point to move the selection in time and
level, double-click empty space to add a point. Pencil: drag draws. Line: press-drag-release.
Keys: see ``curve_keys``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from foleystudio.audio.curve import CURVE_RATE_HZ, LoudnessCurve
from foleystudio.project.layer import Layer, default_curve
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.curve_editing import EDIT_TEXT, CurveEditing
from foleystudio.ui.curve_keys import (
    FINE_OFFSET_STEP_DB,
    OFFSET_STEP_DB,
    SCALE_DOWN,
    SCALE_UP,
    apply_key,
    handles_key,
)
from foleystudio.ui.curve_lane import (
    MARKERS_PER_PIXEL,
    TARGET_LUFS,
    TICK_LU,
    CurveLane,
    draw_curves,
    draw_points,
)
from foleystudio.ui.curve_sources import clipped_to_ceiling, curve_from_audio_file
from foleystudio.ui.curve_toolbar import CurveToolbar
from foleystudio.ui.curve_tools import (
    GRID_STEP_S,
    HIT_RADIUS_PX,
    MOUSE_EVENTS,
    TOOLS,
    CurveTools,
)
from foleystudio.ui.session import Session

# The constants stay importable from here, where they were defined before the split.
__all__ = [
    "EDIT_TEXT",
    "FINE_OFFSET_STEP_DB",
    "GRID_STEP_S",
    "HIT_RADIUS_PX",
    "MARKERS_PER_PIXEL",
    "OFFSET_STEP_DB",
    "SCALE_DOWN",
    "SCALE_UP",
    "TARGET_LUFS",
    "TICK_LU",
    "TOOLS",
    "CurveEditor",
]

logger = logging.getLogger(__name__)


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
        self._shown_curve: LoudnessCurve | None = None
        self._shown_measured: object = ()
        self._project_shape: tuple | None = None
        self._editing = CurveEditing(session, self._draw_points, self.status_message.emit)
        self._build()
        self._tools = CurveTools(session, self._editing, self._lanes, self._draw_points, self.status_message.emit)
        session.edited.connect(self._sync)
        session.selection_changed.connect(self._sync)
        session.project_replaced.connect(self._on_project_replaced)
        session.playhead_moved.connect(self._show_playhead)
        self._sync()

    # ---- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._actions = CurveToolbar(self, self.set_tool, self.set_snapping, self.set_linked)
        self._empty_label = QLabel("Select a layer to edit its loudness curve.", self)
        self._lanes = (CurveLane(0), CurveLane(1))
        self._lanes[1].plot.setXLink(self._lanes[0].plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for widget in (self._actions.toolbar, self._empty_label, self._lanes[0].plot, self._lanes[1].plot):
            layout.addWidget(widget)
        self._viewports = {lane.plot.viewport(): index for index, lane in enumerate(self._lanes)}
        self._plots = {lane.plot: index for index, lane in enumerate(self._lanes)}
        for watched in (*self._viewports, *self._plots):
            watched.installEventFilter(self)
        for lane in self._lanes:
            lane.view.sigXRangeChanged.connect(self._draw_points)
            lane.view.sigResized.connect(self._draw_points)

    # ---- public API: tools, selection, snapping -------------------------------------------------------
    @property
    def tool(self) -> str:
        """The active tool: "select", "pencil" or "line"."""
        return self._tools.tool

    def set_tool(self, name: str) -> None:
        if name not in TOOLS:
            raise ValueError(f"unknown curve tool {name!r}; choose one of {', '.join(TOOLS)}")
        self._tools.tool = name
        action = self._actions.tool_actions[name]
        action.setChecked(True)
        self.status_message.emit(f"Curve tool: {action.text()}")

    def plot(self, channel: int) -> pg.PlotWidget:
        """The PlotWidget of lane ``channel`` (0 left, 1 right)."""
        return self._lanes[_checked_channel(channel)].plot

    def breakpoints(self, channel: int) -> tuple[np.ndarray, np.ndarray]:
        """Copies of lane ``channel``'s breakpoint times (s) and levels (LUFS); empty without a layer."""
        channel = _checked_channel(channel)
        points = self._editing.points
        if points is None:
            return np.empty(0), np.empty(0)
        return points[channel].times.copy(), points[channel].values.copy()

    def selected_indices(self, channel: int) -> np.ndarray:
        """Sorted indices of the selected breakpoints of lane ``channel``."""
        return self._editing.selection[_checked_channel(channel)].copy()

    def set_selection(self, channel: int, indices) -> None:
        """Select breakpoints of lane ``channel`` (and the same times in the other lane when linked)."""
        self._editing.set_selection(_checked_channel(channel), indices)

    @property
    def snap_to_frames(self) -> bool:
        return self._tools.snap_frames

    @property
    def snap_to_grid(self) -> bool:
        return self._tools.snap_grid

    def set_snapping(self, frames: bool | None = None, grid: bool | None = None) -> None:
        """Turn snapping of breakpoint times to video frames and/or to the 0.1 s grid on or off."""
        if frames is not None:
            self._tools.snap_frames = bool(frames)
            self._actions.snap_frames.setChecked(self._tools.snap_frames)
        if grid is not None:
            self._tools.snap_grid = bool(grid)
            self._actions.snap_grid.setChecked(self._tools.snap_grid)

    def set_linked(self, linked: bool) -> None:
        """Link or unlink the lanes (an undoable edit of the layer's ``curves_linked``)."""
        layer = self._layer()
        if layer is None:
            return
        if bool(linked) != layer.curves_linked:
            text = "Link L/R curves" if linked else "Unlink L/R curves"
            self._session.push(LayerEdit(self._session.project, layer.id, text, curves_linked=bool(linked)))
            self.status_message.emit("Lanes linked: edits apply to both" if linked else "Lanes unlinked")
        self._actions.link.setChecked(layer.curves_linked)

    # ---- public API: edits ---------------------------------------------------------------------------
    def delete_selection(self) -> None:
        """Delete the selected breakpoints (the first and last always stay)."""
        self._editing.delete_selection()

    def offset_selection(self, db: float) -> None:
        """Raise (or lower, for negative ``db``) the selected breakpoints' levels; one undo step."""
        self._editing.offset_selection(db)

    def scale_selection(self, factor: float) -> None:
        """Scale the selected levels around their mean by ``factor`` (> 1 more dynamic); one undo step."""
        self._editing.scale_selection(factor)

    def copy_range(self, start_s: float, end_s: float) -> None:
        """Remember both lanes' shape over [start_s, end_s] for ``paste_at``."""
        self._editing.copy_range(start_s, end_s)

    def paste_at(self, time_s: float) -> None:
        """Put the copied shape at ``time_s``, replacing the points it covers; one undo step.

        Linked: left onto left and right onto right. Unlinked: into the active lane, from the lane
        that was active when copying.
        """
        self._editing.paste_at(time_s)

    def reset_curve(self) -> None:
        """Replace the curve with the default: flat at -23 LUFS over the project; one undo step."""
        if self._layer() is not None:
            self._editing.replace_curve(default_curve(self._session.project.video_duration_s), "Reset curve")

    def fill_from_curve(self, curve: LoudnessCurve, label: str) -> None:
        """Replace the curve with ``curve`` (levels above 0 LUFS cut to 0); ``label`` names the undo step."""
        self._editing.replace_curve(clipped_to_ceiling(curve), str(label))

    def fill_from_audio_file(self, path: str | Path) -> None:
        """Measure a sound file's loudness curve and use it, cut or padded (silence) to the project length.

        Raises UserInputError / MediaError for a file that cannot be read; the layer is unchanged then.
        """
        if self._layer() is None:
            self.status_message.emit("No layer selected")
            return
        path = Path(path)
        curve = curve_from_audio_file(path, self._session.project.video_duration_s)
        self.fill_from_curve(curve, f"Curve from {path.name}")

    # ---- document -> view ------------------------------------------------------------------------
    def _layer(self) -> Layer | None:
        return self._session.selected_layer()

    def _on_project_replaced(self) -> None:
        self._editing.memory.clear()
        self._tools.cancel_gesture()
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
            self._project_shape = shape
            self._shown_curve, self._shown_measured = None, ()
            self._editing.memory.clear()
            self._tools.cancel_gesture()
            self._show_layer_frame(project.video_duration_s)
        if layer.curve is not self._shown_curve:
            self._load_curve(layer.curve, project.video_duration_s)
        self._actions.link.setChecked(layer.curves_linked)
        self._show_measured(layer)

    def _show_measured(self, layer: Layer) -> None:
        """The selected take's measured curve, redrawn only when it is another object."""
        take = layer.selected_take
        measured = None if take is None else take.measured_curve
        if measured is self._shown_measured:
            return
        self._shown_measured = measured
        for channel, lane in enumerate(self._lanes):
            if measured is None:
                lane.show_measured([], [])
            else:
                lane.show_measured(measured.times, (measured.left, measured.right)[channel])

    def _show_no_layer(self) -> None:
        self._project_shape = self._shown_curve = None
        self._editing.unload()
        self._tools.cancel_gesture()
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
        self._editing.load(curve, duration_s)
        self._shown_curve = curve
        draw_curves(self._lanes, self._editing.grid, self._editing.points)
        self._draw_points()

    def _draw_points(self, *_unused) -> None:
        if self._editing.points is None:
            return
        draw_points(self._lanes, self._editing.points, self._editing.selection)

    def _show_playhead(self, seconds: float) -> None:
        for lane in self._lanes:
            lane.playhead.setValue(seconds)

    # ---- events ------------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in MOUSE_EVENTS and watched in self._viewports:
            return self._tools.mouse_event(self._viewports[watched], event)
        if watched in self._plots:
            if kind == QEvent.Type.ShortcutOverride and handles_key(event):
                event.accept()  # our key while we have focus: not a window shortcut
                return True
            if kind == QEvent.Type.KeyPress:
                return apply_key(self, self._editing, event)
        return super().eventFilter(watched, event)

    def keyPressEvent(self, event) -> None:
        if not apply_key(self, self._editing, event):
            super().keyPressEvent(event)


def _checked_channel(channel: int) -> int:
    if channel not in (0, 1):
        raise ValueError(f"channel must be 0 (left) or 1 (right), got {channel!r}")
    return int(channel)
