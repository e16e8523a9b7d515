"""The curve editor's breakpoints and selection, and the edits that write them to the document.

Not a widget: ``CurveEditing`` keeps what the editor currently shows (the frame grid, both lanes'
breakpoints, the selection, the active lane) and turns every edit into a new ``LoudnessCurve``
pushed as a ``LayerEdit`` (DESIGN §4.2: the document is the truth; the editor reloads from it when
``session.edited`` fires). One gesture passes one ``merge_key``, so a drag is one undo step.

Breakpoints are a view of the curve (``curve_points``). The breakpoints this editor wrote are
remembered per curve object (``BreakpointMemory``), so after undo/redo the designer gets back the
very points they had, not only the same samples.

Linked lanes: with ``curves_linked`` an edit applies to both channels and a selection in one lane
also selects the points at the same times in the other.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.project.layer import Layer
from foleystudio.ui import curve_points as cp
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.curve_clipboard import CurveClip, copy_clip, pasted_points
from foleystudio.ui.curve_lane import LANE_NAMES
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

EDIT_TEXT = "Edit curve"
MEMORY_SIZE = 64  # curves whose breakpoints are remembered: enough for a long undo history


def _no_selection() -> list[np.ndarray]:
    return [np.empty(0, np.intp), np.empty(0, np.intp)]


class BreakpointMemory:
    """The breakpoints written for each recent curve object, keyed by identity (curves are immutable)."""

    def __init__(self, size: int = MEMORY_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple] = OrderedDict()

    def remember(self, curve: LoudnessCurve, grid: np.ndarray, points) -> None:
        self._entries[id(curve)] = (curve, grid, points[0], points[1])
        self._entries.move_to_end(id(curve))
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def recall(self, curve: LoudnessCurve) -> tuple | None:
        """(grid, left, right) written for this very curve object, or None."""
        entry = self._entries.get(id(curve))
        # The identity check guards against a reused id() of a curve that has since been freed.
        if entry is None or entry[0] is not curve:
            return None
        self._entries.move_to_end(id(curve))
        return entry[1:]

    def clear(self) -> None:
        self._entries.clear()


class CurveEditing:
    """Breakpoints, selection and clipboard of the selected layer's curve, and the edits on them.

    ``redraw_points`` is called after a selection change that the document does not announce;
    ``status`` gets the line for the status bar after each action.
    """

    def __init__(self, session: Session, redraw_points: Callable[[], None], status: Callable[[str], None]) -> None:
        self._session = session
        self._redraw_points = redraw_points
        self._status = status
        self.grid: np.ndarray | None = None
        self.points: list[cp.Breakpoints] | None = None
        self.selection = _no_selection()
        self.active = 0
        self.memory = BreakpointMemory()
        self._committing = False
        self._clip: CurveClip | None = None

    def layer(self) -> Layer | None:
        return self._session.selected_layer()

    @property
    def playhead_s(self) -> float:
        return self._session.playhead_s

    # ---- document -> breakpoints -----------------------------------------------------------------
    def load(self, curve: LoudnessCurve, duration_s: float) -> None:
        """Take ``curve``'s breakpoints (the remembered ones if this editor wrote it)."""
        recalled = self.memory.recall(curve)
        if recalled is not None:
            self.grid, left, right = recalled
        else:
            self.grid, left, right = cp.channels_from_curve(curve, duration_s)
        previous = self.points
        self.points = [left, right]
        # Our own commit keeps the selection (a drag goes on moving it); a changed curve drops it.
        if not self._committing and (previous is None or previous[0] != left or previous[1] != right):
            self.clear_selection()

    def unload(self) -> None:
        self.points = self.grid = None
        self.clear_selection()

    # ---- breakpoints -> document -----------------------------------------------------------------
    def edited_channels(self) -> tuple[int, ...] | None:
        """The channels an edit applies to, or None (with a status line) without a layer."""
        layer = self.layer()
        if layer is None or self.points is None:
            self._status("No layer selected")
            return None
        return (0, 1) if layer.curves_linked else (self.active,)

    def channels_for(self, channel: int) -> tuple[int, ...]:
        """Make ``channel`` the active lane; the channels an edit started there applies to."""
        self.active = channel
        return (0, 1) if self.layer().curves_linked else (channel,)

    def commit(self, new_points: dict[int, cp.Breakpoints], text: str, merge_key: str | None = None) -> None:
        """Write breakpoints to the document as one ``LayerEdit`` (merged into a gesture by ``merge_key``)."""
        points = list(self.points)
        for channel, channel_points in new_points.items():
            points[channel] = channel_points
        layer = self.layer()
        curve = cp.curve_from_breakpoints(self.grid, points[0], points[1])
        if curve == layer.curve:
            # Same samples (e.g. a point added on a straight stretch): nothing to undo, but show the points.
            self.points = points
            self.memory.remember(layer.curve, self.grid, points)
            self._redraw_points()
            return
        self.memory.remember(curve, self.grid, points)
        self._committing = True
        try:
            self._session.push(LayerEdit(self._session.project, layer.id, text, merge_key=merge_key, curve=curve))
        finally:
            self._committing = False

    def replace_curve(self, curve: LoudnessCurve, text: str) -> None:
        """Replace the whole curve; one undo step named ``text``."""
        layer = self.layer()
        self._session.push(LayerEdit(self._session.project, layer.id, text, curve=curve))
        self._status(text)

    # ---- selection ---------------------------------------------------------------------------------
    def clear_selection(self) -> None:
        self.selection = _no_selection()

    def select(self, channel: int, indices) -> None:
        """Select in ``channel``; mirror to the other lane when linked, clear it when not."""
        self.active = channel
        indices = np.unique(np.asarray(indices, np.intp))
        other = 1 - channel
        self.selection[channel] = indices
        layer = self.layer()
        if layer is not None and layer.curves_linked:
            self.selection[other] = cp.matching_indices(self.points[channel], indices, self.points[other])
        else:
            self.selection[other] = np.empty(0, np.intp)

    def set_selection(self, channel: int, indices) -> None:
        """``select`` with the indices checked against the lane (a ValueError names the lane)."""
        if self.points is None:
            return
        indices = np.unique(np.asarray(indices, np.intp).ravel())
        if len(indices) and (indices[0] < 0 or indices[-1] >= len(self.points[channel])):
            raise ValueError(f"breakpoint index out of range for lane {LANE_NAMES[channel]}: {indices.tolist()}")
        self.select(channel, indices)
        self._redraw_points()

    def select_all(self) -> None:
        if self.points is not None:
            self.set_selection(self.active, np.arange(len(self.points[self.active])))

    def select_none(self) -> None:
        self.clear_selection()
        self._redraw_points()

    # ---- edits of the selection ----------------------------------------------------------------
    def delete_selection(self) -> None:
        channels = self.edited_channels()
        if channels is None:
            return
        new = {ch: cp.delete_points(self.points[ch], self.selection[ch]) for ch in channels}
        removed = sum(len(self.points[ch]) - len(new[ch]) for ch in channels)
        if removed == 0:
            self._status("Nothing to delete (the first and last points always stay)")
            return
        self.clear_selection()
        self.commit(new, EDIT_TEXT)
        self._status(f"Deleted {removed} breakpoint(s)")

    def offset_selection(self, db: float) -> None:
        self._level_edit(lambda points, sel: cp.offset_points(points, sel, float(db)), f"Level {db:+.1f} dB")

    def scale_selection(self, factor: float) -> None:
        factor = float(factor)
        if not (np.isfinite(factor) and factor >= 0):
            raise ValueError(f"scale factor must be a finite number >= 0, got {factor}")
        self._level_edit(lambda points, sel: cp.scale_points(points, sel, factor), f"Levels scaled x{factor:g}")

    def _level_edit(self, edit, message: str) -> None:
        channels = self.edited_channels()
        if channels is None:
            return
        if not any(len(self.selection[ch]) for ch in channels):
            self._status("No breakpoints selected")
            return
        self.commit({ch: edit(self.points[ch], self.selection[ch]) for ch in channels}, EDIT_TEXT)
        self._status(message)

    # ---- clipboard ---------------------------------------------------------------------------------
    def copy_range(self, start_s: float, end_s: float) -> None:
        if self.points is None:
            self._status("No layer selected")
            return
        self._clip = copy_clip(self.points, start_s, end_s, self.active)
        self._status(f"Copied the curve from {start_s:.2f} s to {end_s:.2f} s")

    def copy_selection(self) -> None:
        """Copy the time span between the active lane's first and last selected points."""
        if self.points is None:
            return
        times = self.points[self.active].times[self.selection[self.active]]
        if len(times) < 2:
            self._status("Select at least two points to copy the time between them")
            return
        self.copy_range(float(times.min()), float(times.max()))

    def paste_at(self, time_s: float) -> None:
        channels = self.edited_channels()
        if channels is None:
            return
        if self._clip is None:
            self._status("Nothing copied yet: select points and copy first")
            return
        new = pasted_points(self._clip, self.points, channels, time_s, self.grid)
        self.clear_selection()
        self.commit(new, "Paste curve")
        self._status(f"Pasted the curve at {float(time_s):.2f} s")
