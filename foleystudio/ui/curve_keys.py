"""Keyboard bindings of the curve editor (while a lane or the editor has focus).

    V / P / R           Select-move, Pencil, Line (ramp) tool
    F / G               snap to video frames / to the 0.1 s grid on or off
    Delete, Backspace   delete the selected breakpoints (never the first or last)
    Up / Down           selected levels +1 / -1 dB (with Shift: 0.1 dB)
    Ctrl+Up / Ctrl+Down scale the selected levels around their mean by 1.25 / 0.8
    Ctrl+A, Escape      select all / select none
    Ctrl+C / Ctrl+V     copy the selection's time span / paste it at the playhead

``handles_key`` is asked first for a ShortcutOverride too, so that these keys reach the editor
rather than a window shortcut while the editor has focus. Every binding goes through the editor's
public API (or the editing state for selection and copy), so a key does exactly what the API does.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from foleystudio.ui.curve_editing import CurveEditing

if TYPE_CHECKING:
    from foleystudio.ui.curve_editor import CurveEditor

logger = logging.getLogger(__name__)

OFFSET_STEP_DB, FINE_OFFSET_STEP_DB = 1.0, 0.1
SCALE_UP, SCALE_DOWN = 1.25, 0.8
TOOL_KEYS = {Qt.Key.Key_V: "select", Qt.Key.Key_P: "pencil", Qt.Key.Key_R: "line"}
_CTRL_KEYS = (Qt.Key.Key_C, Qt.Key.Key_V, Qt.Key.Key_A, Qt.Key.Key_Up, Qt.Key.Key_Down)
_PLAIN_KEYS = (
    Qt.Key.Key_F, Qt.Key.Key_G, Qt.Key.Key_Delete, Qt.Key.Key_Backspace,
    Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Escape,
)
_UP_DOWN = {Qt.Key.Key_Up: 1.0, Qt.Key.Key_Down: -1.0}


def _has(event, modifier: Qt.KeyboardModifier) -> bool:
    return bool(event.modifiers() & modifier)


def handles_key(event) -> bool:
    """Whether ``event``'s key (with its modifiers) is one of the editor's."""
    key = event.key()
    if _has(event, Qt.KeyboardModifier.ControlModifier):
        return key in _CTRL_KEYS
    return key in TOOL_KEYS or key in _PLAIN_KEYS


def apply_key(editor: CurveEditor, editing: CurveEditing, event) -> bool:
    """Do what ``event``'s key is bound to; False for a key that is not the editor's."""
    if not handles_key(event):
        return False
    if _has(event, Qt.KeyboardModifier.ControlModifier):
        _apply_ctrl_key(editor, editing, event.key())
    else:
        _apply_plain_key(editor, editing, event.key(), _has(event, Qt.KeyboardModifier.ShiftModifier))
    return True


def _apply_ctrl_key(editor: CurveEditor, editing: CurveEditing, key) -> None:
    if key in _UP_DOWN:
        editor.scale_selection(SCALE_UP if key == Qt.Key.Key_Up else SCALE_DOWN)
    elif key == Qt.Key.Key_C:
        editing.copy_selection()
    elif key == Qt.Key.Key_V:
        editor.paste_at(editing.playhead_s)
    elif key == Qt.Key.Key_A:
        editing.select_all()


def _apply_plain_key(editor: CurveEditor, editing: CurveEditing, key, shift: bool) -> None:
    if key in _UP_DOWN:
        editor.offset_selection(_UP_DOWN[key] * (FINE_OFFSET_STEP_DB if shift else OFFSET_STEP_DB))
    elif key in TOOL_KEYS:
        editor.set_tool(TOOL_KEYS[key])
    elif key == Qt.Key.Key_F:
        editor.set_snapping(frames=not editor.snap_to_frames)
    elif key == Qt.Key.Key_G:
        editor.set_snapping(grid=not editor.snap_to_grid)
    elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
        editor.delete_selection()
    elif key == Qt.Key.Key_Escape:
        editing.select_none()
