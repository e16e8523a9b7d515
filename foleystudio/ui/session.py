"""The open project as the views see it: the document, its undo stack, the selection, the playhead.

Views never keep their own copy of project state: they read the `Project` and listen to the
session's signals, which re-emit the document's plain-Python events as Qt signals (so a view
connects once, and keeps working when another project is opened). Edits go through `push` with an
undoable command from ``commands``; the undo stack's clean state is the document's saved state.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from foleystudio.project.document import Project
from foleystudio.project.layer import Layer

logger = logging.getLogger(__name__)


class Session(QObject):
    """One open project. Signals:

    * ``project_replaced()``: another project was opened (or a new one started); rebuild views.
    * ``edited(payload)``: the document changed (a `foleystudio.project.events` payload).
    * ``dirty_changed(bool)``: unsaved changes appeared or were saved.
    * ``selection_changed(layer_id or None)``: the layer being edited changed.
    * ``playhead_moved(seconds)``: the playhead moved (scrub, playback, frame step).
    """

    project_replaced = Signal()
    edited = Signal(object)
    dirty_changed = Signal(bool)
    selection_changed = Signal(object)
    playhead_moved = Signal(float)

    def __init__(self, project: Project | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._project: Project | None = None
        self._selected: str | None = None
        self._playhead = 0.0
        self.replace_project(project if project is not None else Project())

    # ---- the document ----------------------------------------------------------------------------
    @property
    def project(self) -> Project:
        return self._project

    def replace_project(self, project: Project) -> None:
        """Show ``project`` from now on; the undo history of the previous one is dropped."""
        if self._project is not None:
            self._project.edited.disconnect(self._on_edited)
            self._project.dirty_changed.disconnect(self._on_dirty)
        self._project = project
        project.edited.connect(self._on_edited)
        project.dirty_changed.connect(self._on_dirty)
        self.undo_stack.clear()
        self._selected = project.layers[0].id if project.layers else None
        self._playhead = 0.0
        logger.info("project %r open (%d layers)", project.name, len(project.layers))
        self.project_replaced.emit()
        self.selection_changed.emit(self._selected)
        self.dirty_changed.emit(project.dirty)

    def push(self, command: QUndoCommand) -> None:
        """Do ``command`` and put it on the undo stack."""
        self.undo_stack.push(command)

    def _on_edited(self, payload) -> None:
        if self._selected is not None and not any(layer.id == self._selected for layer in self._project.layers):
            self.select_layer(self._project.layers[0].id if self._project.layers else None)
        self.edited.emit(payload)

    def _on_dirty(self, dirty: bool) -> None:
        self.dirty_changed.emit(dirty)

    # ---- selection and playhead -----------------------------------------------------------------
    @property
    def selected_layer_id(self) -> str | None:
        return self._selected

    def selected_layer(self) -> Layer | None:
        if self._selected is None:
            return None
        return next((layer for layer in self._project.layers if layer.id == self._selected), None)

    def select_layer(self, layer_id: str | None) -> None:
        if layer_id is not None:
            self._project.layer(layer_id)  # raises for an unknown id
        if layer_id != self._selected:
            self._selected = layer_id
            self.selection_changed.emit(layer_id)

    @property
    def playhead_s(self) -> float:
        return self._playhead

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead, clamped to the project's length."""
        seconds = min(max(0.0, float(seconds)), self._project.video_duration_s)
        if seconds != self._playhead:
            self._playhead = seconds
            self.playhead_moved.emit(seconds)
