"""The curve editor's toolbar: tool choice (Select / Pencil / Line), snapping and the L/R link.

The toolbar only reflects and forwards: each action calls back into the editor, which owns the
state and sets the actions' checked state back (so keys and the public API keep the buttons
honest). The actions are parented to the editor widget, as they were before this module existed,
so their lifetime is the editor's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QToolBar, QWidget

logger = logging.getLogger(__name__)

# (tool name, button text, key shown in the tooltip); the keys themselves live in curve_keys.
TOOL_BUTTONS = (("select", "Select", "V"), ("pencil", "Pencil", "P"), ("line", "Line", "R"))


class CurveToolbar:
    """Builds the toolbar on ``owner`` and keeps its actions; ``toolbar`` is the QToolBar widget."""

    def __init__(
        self,
        owner: QWidget,
        on_tool: Callable[[str], None],
        on_snapping: Callable[..., None],
        on_link: Callable[[bool], None],
    ) -> None:
        self.toolbar = QToolBar(owner)
        self.tool_actions: dict[str, QAction] = {}
        self._add_tool_actions(owner, on_tool)
        self.toolbar.addSeparator()
        self.snap_frames = QAction("Snap: frames", owner, checkable=True, checked=True,
                                   toolTip="Snap breakpoint times to video frames (F)")
        self.snap_frames.toggled.connect(lambda on: on_snapping(frames=on))
        self.snap_grid = QAction("Snap: 0.1 s", owner, checkable=True, checked=False,
                                 toolTip="Snap breakpoint times to a 0.1 s grid (G)")
        self.snap_grid.toggled.connect(lambda on: on_snapping(grid=on))
        self.link = QAction("Link L/R", owner, checkable=True, checked=True,
                            toolTip="Edit the left and right lanes together")
        self.link.triggered.connect(on_link)
        for action in (self.snap_frames, self.snap_grid, self.link):
            self.toolbar.addAction(action)

    def _add_tool_actions(self, owner: QWidget, on_tool: Callable[[str], None]) -> None:
        group = QActionGroup(owner)
        for name, text, key in TOOL_BUTTONS:
            action = QAction(text, owner, checkable=True, toolTip=f"{text} tool ({key})")
            action.triggered.connect(lambda _checked=False, tool=name: on_tool(tool))
            group.addAction(action)
            self.toolbar.addAction(action)
            self.tool_actions[name] = action
        self.tool_actions["select"].setChecked(True)
