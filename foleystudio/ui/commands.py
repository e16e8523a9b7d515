"""Undoable edits of the project document (QUndoCommand), one class per kind of edit.

Each command remembers what it needs to undo itself exactly (old field values, a removed layer and
its index, ...). ``LayerEdit`` merges consecutive edits of the same fields of the same layer that
carry the same ``merge_key`` (a slider drag, a curve drag), so one gesture is one undo step.
"""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from foleystudio.project.document import Project
from foleystudio.project.layer import Layer
from foleystudio.project.take import Take

# QUndoCommand.id() values: commands with the same id may merge.
_LAYER_EDIT_ID = 1001


class LayerEdit(QUndoCommand):
    """Set fields of one layer (``Layer.update``); undo sets the old values back."""

    def __init__(self, project: Project, layer_id: str, text: str, merge_key: str | None = None, **values) -> None:
        super().__init__(text)
        self._project = project
        self._layer_id = layer_id
        layer = project.layer(layer_id)
        self._old = {name: getattr(layer, name) for name in values}
        self._new = dict(values)
        self._merge_key = merge_key

    def redo(self) -> None:
        self._project.layer(self._layer_id).update(**self._new)

    def undo(self) -> None:
        self._project.layer(self._layer_id).update(**self._old)

    def id(self) -> int:
        return _LAYER_EDIT_ID if self._merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, LayerEdit) or other._merge_key != self._merge_key:
            return False
        if other._layer_id != self._layer_id or set(other._new) != set(self._new):
            return False
        self._new = dict(other._new)
        # A gesture that ends where it started changes nothing: drop it from the stack.
        self.setObsolete(all(_same(self._old[name], self._new[name]) for name in self._new))
        return True


def _same(old, new) -> bool:
    return type(old) is type(new) and old == new


class AddLayer(QUndoCommand):
    def __init__(self, project: Project, layer: Layer, index: int | None = None, text: str | None = None) -> None:
        super().__init__(text or f"Add layer {layer.name}")
        self._project, self._layer = project, layer
        self._index = len(project.layers) if index is None else index

    def redo(self) -> None:
        self._project.add_layer(self._layer, self._index)

    def undo(self) -> None:
        self._project.remove_layer(self._layer.id)


class RemoveLayer(QUndoCommand):
    def __init__(self, project: Project, layer_id: str) -> None:
        layer = project.layer(layer_id)
        super().__init__(f"Delete layer {layer.name}")
        self._project, self._layer, self._index = project, layer, project.layer_index(layer_id)

    def redo(self) -> None:
        self._project.remove_layer(self._layer.id)

    def undo(self) -> None:
        self._project.add_layer(self._layer, self._index)


class MoveLayer(QUndoCommand):
    def __init__(self, project: Project, layer_id: str, new_index: int) -> None:
        super().__init__(f"Move layer {project.layer(layer_id).name}")
        self._project, self._layer_id = project, layer_id
        self._old, self._new = project.layer_index(layer_id), new_index

    def redo(self) -> None:
        self._project.move_layer(self._layer_id, self._new)

    def undo(self) -> None:
        self._project.move_layer(self._layer_id, self._old)


class AddTake(QUndoCommand):
    """Add a take to a layer and select it (undo restores the previous selection)."""

    def __init__(self, project: Project, layer_id: str, take: Take, select: bool = True) -> None:
        super().__init__(f"Add take {take.name}")
        self._project, self._layer_id, self._take, self._select = project, layer_id, take, select
        self._previous = project.layer(layer_id).selected_take_id

    def redo(self) -> None:
        layer = self._project.layer(self._layer_id)
        layer.add_take(self._take)
        if self._select:
            layer.select_take(self._take.id)

    def undo(self) -> None:
        layer = self._project.layer(self._layer_id)
        layer.remove_take(self._take.id)
        layer.select_take(self._previous)


class RemoveTake(QUndoCommand):
    def __init__(self, project: Project, layer_id: str, take_id: str) -> None:
        layer = project.layer(layer_id)
        take = layer.take(take_id)
        super().__init__(f"Delete take {take.name}")
        self._project, self._layer_id, self._take = project, layer_id, take
        self._index, self._was_selected = layer.take_index(take_id), layer.selected_take_id == take_id

    def redo(self) -> None:
        self._project.layer(self._layer_id).remove_take(self._take.id)

    def undo(self) -> None:
        layer = self._project.layer(self._layer_id)
        layer.add_take(self._take, self._index)
        if self._was_selected:
            layer.select_take(self._take.id)


class ProjectEdit(QUndoCommand):
    """Set project fields (``Project.update``: video, frame_rate, video_duration_s, export)."""

    def __init__(self, project: Project, text: str, **values) -> None:
        super().__init__(text)
        self._project = project
        self._old = {name: getattr(project, name) for name in values}
        self._new = dict(values)

    def redo(self) -> None:
        self._project.update(**self._new)

    def undo(self) -> None:
        self._project.update(**self._old)
