"""The layer table: its columns, the role names it shows, and the tree widget itself.

* The columns and the role labels are shared by the rows (``layers_rows``), the panel and the
  tests, so they are defined once here.
* A drag-and-drop reorder is reported as ``row_dropped(layer_id, new_index)`` instead of letting
  Qt move the items: the move must go through the undo stack, and the rows are then rebuilt from
  the document (Qt's own internal move would lose the row widgets).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QWidget

from foleystudio.project.layer import LayerRole

ROLE_LABELS = {
    LayerRole.ON_SCREEN: "On-screen",
    LayerRole.OFF_SCREEN: "Off-screen",
    LayerRole.AMBIENCE: "Ambience",
}
ROLE_TOOLTIPS = {
    LayerRole.ON_SCREEN: "Foley synced to what is seen (footsteps, doors, props); follows the picture",
    LayerRole.OFF_SCREEN: "Sounds described in words that are not seen (a dog barking outside)",
    LayerRole.AMBIENCE: "Backgrounds and room tones that sit under the scene",
}
COLUMN_NAME, COLUMN_ROLE, COLUMN_MUTE, COLUMN_SOLO, COLUMN_GAIN = range(5)
ID_ROLE = Qt.ItemDataRole.UserRole  # where a row (or a take item) keeps its document id


class LayerTree(QTreeWidget):
    """The layer list; a drag-and-drop reorder is reported as ``row_dropped`` (see the module doc)."""

    row_dropped = Signal(str, int)

    def dropEvent(self, event) -> None:
        source = self.currentItem()
        if event.source() is not self or source is None:
            event.ignore()
            return
        old_index = self.indexOfTopLevelItem(source)
        before = self._insertion_row(event.position().toPoint())
        new_index = before if before <= old_index else before - 1
        # Accept without a move: Qt must not remove the dragged rows after the drop.
        event.setDropAction(Qt.DropAction.IgnoreAction)
        event.accept()
        if new_index != old_index:
            self.row_dropped.emit(source.data(COLUMN_NAME, ID_ROLE), new_index)

    def _insertion_row(self, position: QPoint) -> int:
        """The row the dropped layer goes before (the row count for the end of the list)."""
        item = self.itemAt(position)
        if item is None:
            return self.topLevelItemCount()
        row = self.indexOfTopLevelItem(item)
        return row + 1 if position.y() > self.visualItemRect(item).center().y() else row


def build_layer_tree(parent: QWidget, context_actions: Iterable[QAction]) -> LayerTree:
    """The configured layer table; ``context_actions`` make up its right-click menu."""
    tree = LayerTree(parent)
    tree.setObjectName("layers_tree")
    tree.setColumnCount(5)
    tree.setHeaderLabels(["Layer", "Role", "M", "S", "Gain"])
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                         | QAbstractItemView.EditTrigger.EditKeyPressed)
    tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
    tree.setToolTip("The layers of the project; drag a layer to reorder, double-click a name to rename")
    header = tree.header()
    header.setSectionResizeMode(COLUMN_NAME, QHeaderView.ResizeMode.Stretch)
    for column in (COLUMN_ROLE, COLUMN_MUTE, COLUMN_SOLO, COLUMN_GAIN):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
    tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for action in context_actions:
        tree.addAction(action)
    return tree
