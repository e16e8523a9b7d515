"""Mouse gestures of the curve editor: select / move / rubber band, pencil, line (ramp), and snapping.

The editor hands every raw Qt mouse event of a lane's viewport here (an event filter, not
pyqtgraph's click/drag synthesis), so each press/move/release is handled the same way with or
without a drag threshold. The wheel still zooms time and the right button is left to pyqtgraph.

A press starts a ``Gesture`` that remembers the breakpoints as they were; every move recomputes
the whole edit from those (so nothing accumulates rounding) and commits it under the gesture's
``merge_key``: the whole drag is one undo step. A move costs a few vectorised numpy operations on
the breakpoints plus the redraw, which keeps a drag on a 3600-point curve fluid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt

from foleystudio.audio.curve import FLOOR_LUFS
from foleystudio.ui import curve_points as cp
from foleystudio.ui.curve_editing import EDIT_TEXT, CurveEditing
from foleystudio.ui.curve_lane import CurveLane
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

TOOLS = ("select", "pencil", "line")
GRID_STEP_S = Fraction(1, 10)
HIT_RADIUS_PX = 7.0
MOUSE_EVENTS = (
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.MouseButtonRelease,
    QEvent.Type.MouseButtonDblClick,
)
_DONE_MESSAGES = {"move": "Moved breakpoints", "pencil": "Drew the curve", "line": "Drew a ramp"}


@dataclass
class Gesture:
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


class CurveTools:
    """The active tool, the snapping switches and the gesture in progress."""

    def __init__(
        self,
        session: Session,
        editing: CurveEditing,
        lanes: Sequence[CurveLane],
        redraw_points: Callable[[], None],
        status: Callable[[str], None],
    ) -> None:
        self._session = session
        self._editing = editing
        self._lanes = lanes
        self._redraw_points = redraw_points
        self._status = status
        self.tool = "select"
        self.snap_frames, self.snap_grid = True, False
        self._gesture: Gesture | None = None
        self._gestures_started = 0
        self._ignore_release = False

    def cancel_gesture(self) -> None:
        """Forget the gesture in progress (the document it was editing has gone)."""
        self._gesture = None

    def snap(self, time_s: float) -> float:
        steps = []
        if self.snap_frames:
            steps.append(1 / Fraction(self._session.project.frame_rate))
        if self.snap_grid:
            steps.append(GRID_STEP_S)
        return cp.snap_time(time_s, steps)

    # ---- event routing -----------------------------------------------------------------------------
    def mouse_event(self, channel: int, event) -> bool:
        """Handle a mouse event of lane ``channel``'s viewport; False leaves it to pyqtgraph."""
        kind = event.type()
        left_button = event.button() == Qt.MouseButton.LeftButton
        if self._editing.points is None or (kind != QEvent.Type.MouseMove and not left_button):
            return False
        if kind == QEvent.Type.MouseMove and self._gesture is None:
            return False  # hovering: pyqtgraph may use it
        self._lanes[channel].plot.setFocus(Qt.FocusReason.MouseFocusReason)
        # A drag stays in the lane it started in, even when the pointer wanders into the other one.
        lane = self._lanes[self._gesture.channel if self._gesture is not None else channel]
        time_s, lufs = lane.to_data(event.position())
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if kind == QEvent.Type.MouseButtonDblClick:
            self._gesture = None
            self._ignore_release = True  # the release that ends a double-click is not a gesture's
            if self.tool == "select":
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

    def _hit(self, channel: int, time_s: float, lufs: float) -> int | None:
        seconds_px, lufs_px = self._lanes[channel].pixel_size()
        return cp.nearest_point(self._editing.points[channel], time_s, lufs, seconds_px, lufs_px, HIT_RADIUS_PX)

    def _double_click(self, channel: int, time_s: float, lufs: float) -> None:
        """Select the point under the pointer, or add one there."""
        editing = self._editing
        hit = self._hit(channel, time_s, lufs)
        if hit is not None:
            editing.select(channel, [hit])
            self._redraw_points()
            return
        channels = editing.channels_for(channel)
        time_s = self.snap(time_s)
        new, where = {}, {}
        for ch in channels:
            new[ch], where[ch] = cp.insert_point(editing.points[ch], time_s, lufs)
        editing.commit(new, EDIT_TEXT)
        editing.select(channel, [where[channel]])
        self._redraw_points()
        self._status(f"Added a point at {new[channel].times[where[channel]]:.3f} s, {np.clip(lufs, FLOOR_LUFS, 0):.1f} LUFS")

    # ---- press ---------------------------------------------------------------------------------------
    def _press(self, channel: int, time_s: float, lufs: float, shift: bool) -> None:
        self._gestures_started += 1
        key = f"curve-gesture-{self._gestures_started}"
        start = (self._editing.points[0], self._editing.points[1])
        if self.tool == "select":
            self._press_select(channel, time_s, lufs, shift, start, key)
            return
        self._editing.channels_for(channel)
        self._editing.clear_selection()
        if self.tool == "pencil":
            self._gesture = Gesture("pencil", channel, (time_s, lufs), start, key)
            self._drag_to(time_s, lufs)
        else:
            self._gesture = Gesture("line", channel, (self.snap(time_s), lufs), start, key)

    def _press_select(self, channel: int, time_s: float, lufs: float, shift: bool, start, key: str) -> None:
        """On empty space start a rubber band; on a point change the selection and maybe start a move."""
        editing = self._editing
        hit = self._hit(channel, time_s, lufs)
        if hit is None:
            if not shift:
                editing.select(channel, [])
            self._gesture = Gesture("band", channel, (time_s, lufs), start, key, additive=shift)
        else:
            selection = editing.selection[channel]
            if shift:
                selection = np.setxor1d(selection, [hit])
            elif hit not in selection:
                selection = [hit]
            editing.select(channel, selection)
            # Shift+click that deselected the point starts no move.
            if hit in editing.selection[channel]:
                grab = float(editing.points[channel].times[hit])
                self._gesture = Gesture("move", channel, (time_s, lufs), start, key, grab_time=grab)
        self._redraw_points()

    # ---- drag ----------------------------------------------------------------------------------------
    def _drag_to(self, time_s: float, lufs: float) -> None:
        gesture = self._gesture
        if gesture is None:
            return
        channels = (0, 1) if self._editing.layer().curves_linked else (gesture.channel,)
        if gesture.kind == "band":
            self._show_band(gesture, time_s, lufs)
            return
        if gesture.kind == "move":
            new = self._moved(gesture, channels, time_s, lufs)
        elif gesture.kind == "pencil":
            new = self._pencilled(gesture, channels, time_s, lufs)
        else:
            (t0, v0), t1 = gesture.press, self.snap(time_s)
            if t1 == t0:
                return
            grid = self._editing.grid
            new = {ch: cp.replace_range(gesture.start_points[ch], [t0, t1], [v0, lufs], grid) for ch in channels}
        self._editing.commit(new, EDIT_TEXT, merge_key=gesture.merge_key)

    def _moved(self, gesture: Gesture, channels, time_s: float, lufs: float) -> dict[int, cp.Breakpoints]:
        """The selection moved by the drag so far: the grabbed point's time snapped, both lanes limited alike."""
        selection = self._editing.selection
        shift = self.snap(gesture.grab_time + time_s - gesture.press[0]) - gesture.grab_time
        for ch in channels:
            low, high = cp.shift_limits(gesture.start_points[ch], selection[ch])
            shift = float(np.clip(shift, low, high))
        offset = lufs - gesture.press[1]
        return {ch: cp.move_points(gesture.start_points[ch], selection[ch], shift, offset) for ch in channels}

    def _pencilled(self, gesture: Gesture, channels, time_s: float, lufs: float) -> dict[int, cp.Breakpoints]:
        """The stroke so far, extended to the pointer, written over the points it covers."""
        stroke_t, stroke_v = cp.add_stroke_point(*gesture.stroke, gesture.last_time, time_s, lufs)
        gesture.stroke, gesture.last_time = (stroke_t, stroke_v), time_s
        grid = self._editing.grid
        times, values = cp.pencil_points(stroke_t, stroke_v, grid)
        return {ch: cp.replace_range(gesture.start_points[ch], times, values, grid) for ch in channels}

    def _show_band(self, gesture: Gesture, time_s: float, lufs: float) -> None:
        t0, v0 = gesture.press
        band = self._lanes[gesture.channel].band
        band.setRect(QRectF(QPointF(min(t0, time_s), min(v0, lufs)), QPointF(max(t0, time_s), max(v0, lufs))))
        band.show()

    # ---- release -------------------------------------------------------------------------------------
    def _release(self, time_s: float, lufs: float) -> None:
        gesture, self._gesture = self._gesture, None
        if gesture is None:
            return
        if gesture.kind == "band":
            self._release_band(gesture, time_s, lufs)
            return
        # No edit here: the last mouse move already committed the edit (the release adds no point).
        self._status(_DONE_MESSAGES[gesture.kind])

    def _release_band(self, gesture: Gesture, time_s: float, lufs: float) -> None:
        """Select the points inside the rubber band (added to the selection with Shift)."""
        editing = self._editing
        self._lanes[gesture.channel].band.hide()
        t0, v0 = gesture.press
        inside = cp.points_in_rect(editing.points[gesture.channel], (t0, time_s), (v0, lufs))
        if gesture.additive and gesture.channel == editing.active:
            inside = np.union1d(editing.selection[gesture.channel], inside)
        editing.select(gesture.channel, inside)
        self._redraw_points()
        self._status(f"{len(editing.selection[gesture.channel])} breakpoint(s) selected")
