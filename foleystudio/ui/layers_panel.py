"""The layers panel: the project's layers (name, role, mute/solo, gain) and the selected layer's takes.

Design choices:

* The panel holds no copy of the document (DESIGN §4.2). The layer list is a `QTreeWidget` whose
  rows are *rebuilt* only when the list of layer ids changes (add, delete, reorder, undo of those,
  another project opened); any other edit *refreshes the existing rows in place*, with the row
  widgets' signals blocked, so an edit never echoes back as a second edit and the gain box a
  designer is typing in is not destroyed under their fingers by an unrelated change.
* Every change goes through ``session.push`` with an undoable command (``ui.commands`` or
  `RenameTake` below), so undo/redo, the dirty flag and every other view follow on their own.
* Messages (an empty name refused, ...) are shown in a label inside the panel and emitted as
  ``message(str)`` for the status bar, never in a modal dialog: modal dialogs interrupt the
  designer and cannot be driven by tests.
* Takes of the *selected* layer are listed under the layers (designers audition the takes of the
  layer they work on). Clicking a take selects it (an undoable ``LayerEdit`` of
  ``selected_take_id``: the selection is saved with the project and decides what is exported).
  A/B (button or the T key) goes back to the take selected before the current one; that short
  history is view state, recorded from the document whichever view changed the selection.
* Take names change by replacing the immutable `Take` (``dataclasses.replace``) in
  `RenameTake`, an undoable command defined here because only this panel renames takes.
* The actions (add, rename, delete, duplicate, move up/down, take A/B, rename, delete) are
  `QAction` attributes so the main window can put the same actions in its menus.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
from PySide6.QtCore import QSize, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.loudness_programme import integrated_loudness, power_from_lufs
from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.document import Project
from foleystudio.project.layer import (
    GAIN_DB_RANGE,
    MAX_LAYER_NAME_LENGTH,
    Layer,
    LayerRole,
)
from foleystudio.project.take import MAX_TAKE_NAME_LENGTH, Take
from foleystudio.ui.commands import (
    AddLayer,
    LayerEdit,
    MoveLayer,
    RemoveLayer,
    RemoveTake,
)
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

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
_ID_ROLE = Qt.ItemDataRole.UserRole
_AB_HISTORY = 8  # take selections remembered per layer for A/B


TAKE_ROW_HEIGHT = 24


class RenameTake(QUndoCommand):
    """Give a take another name; takes are immutable, so the take is replaced by a renamed copy."""

    def __init__(self, project: Project, layer_id: str, take_id: str, new_name: str) -> None:
        old = project.layer(layer_id).take(take_id)
        new = dataclasses.replace(old, name=new_name)  # validates the name
        super().__init__(f"Rename take {old.name} to {new.name}")
        self._project, self._layer_id, self._old, self._new = project, layer_id, old, new

    def redo(self) -> None:
        self._project.layer(self._layer_id).replace_take(self._new)

    def undo(self) -> None:
        self._project.layer(self._layer_id).replace_take(self._old)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """The editing widgets of one layer's row (tests and the main window find them here)."""

    item: QTreeWidgetItem
    role: QComboBox
    mute: QToolButton
    solo: QToolButton
    gain: QDoubleSpinBox


class _LayerTree(QTreeWidget):
    """The layer list; a drag-and-drop reorder is reported as ``row_dropped(layer_id, new_index)``
    instead of moving items, so the move goes through the undo stack and the rows are rebuilt
    from the document (Qt's own internal move would lose the row widgets)."""

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
            self.row_dropped.emit(source.data(COLUMN_NAME, _ID_ROLE), new_index)

    def _insertion_row(self, position: QPoint) -> int:
        """The row the dropped layer goes before (the row count for the end of the list)."""
        item = self.itemAt(position)
        if item is None:
            return self.topLevelItemCount()
        row = self.indexOfTopLevelItem(item)
        return row + 1 if position.y() > self.visualItemRect(item).center().y() else row


class LayersPanel(QWidget):
    """The project's layers and the selected layer's takes, edited through ``session``."""

    message = Signal(str)  # something the designer should read (a refused edit)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layers_panel")
        self._session = session
        self._rows: dict[str, LayerRow] = {}
        self._row_ids: list[str] | None = None
        self._takes_shown: tuple | None = None  # what the takes list shows, to rebuild only on change
        self._take_history: dict[str, list[str]] = {}
        self._updating = False
        self._build_actions()
        self._build_widgets()
        session.edited.connect(self._on_edited)
        session.project_replaced.connect(self._on_project_replaced)
        session.selection_changed.connect(self._on_selection_changed)
        self._on_project_replaced()

    # ---- construction ----------------------------------------------------------------------------
    def _action(self, name: str, text: str, tip: str, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            # Only while the panel has focus: a bare letter must not fire while typing elsewhere.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        self.add_action = self._action(
            "add_layer_action", "Add layer", "Add an on-screen layer (pick another role from the arrow menu)",
            lambda: self.add_layer(LayerRole.ON_SCREEN))
        self.add_role_actions: dict[LayerRole, QAction] = {}
        self._add_menu = QMenu("Add layer", self)
        for role, label in ROLE_LABELS.items():
            action = self._action(f"add_{role.name.lower()}_action", f"{label} layer", ROLE_TOOLTIPS[role],
                                  lambda _checked=False, role=role: self.add_layer(role))
            self._add_menu.addAction(action)
            self.add_role_actions[role] = action
        self.add_action.setMenu(self._add_menu)
        self.rename_action = self._action("rename_layer_action", "Rename layer", "Rename the selected layer (F2)",
                                          self.start_rename_layer)
        self.delete_action = self._action("delete_layer_action", "Delete layer",
                                          "Delete the selected layer (undo brings it back with its takes)",
                                          self.delete_layer)
        self.duplicate_action = self._action("duplicate_layer_action", "Duplicate layer",
                                             "Copy the selected layer, its settings and takes, just below it",
                                             self.duplicate_layer)
        self.move_up_action = self._action("move_layer_up_action", "Move up", "Move the selected layer up",
                                           lambda: self.move_layer(-1))
        self.move_down_action = self._action("move_layer_down_action", "Move down", "Move the selected layer down",
                                             lambda: self.move_layer(+1))
        self.ab_action = self._action(
            "take_ab_action", "A/B", "Switch back to the take selected before this one (T)", self.toggle_ab, "T")
        self.rename_take_action = self._action("rename_take_action", "Rename take", "Rename the highlighted take",
                                               self.start_rename_take)
        self.delete_take_action = self._action("delete_take_action", "Delete take",
                                               "Remove the highlighted take from the layer (its file stays on disk)",
                                               self.delete_take)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setObjectName(action.objectName().replace("_action", "_button"))
        return button

    def _build_widgets(self) -> None:
        self.tree = _LayerTree(self)
        self.tree.setObjectName("layers_tree")
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels(["Layer", "Role", "M", "S", "Gain"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.tree.setToolTip("The layers of the project; drag a layer to reorder, double-click a name to rename")
        header = self.tree.header()
        header.setSectionResizeMode(COLUMN_NAME, QHeaderView.ResizeMode.Stretch)
        for column in (COLUMN_ROLE, COLUMN_MUTE, COLUMN_SOLO, COLUMN_GAIN):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.add_action, self.rename_action, self.duplicate_action, self.delete_action,
                       self.move_up_action, self.move_down_action):
            self.tree.addAction(action)
        self.tree.currentItemChanged.connect(self._on_current_layer_changed)
        self.tree.itemChanged.connect(self._on_layer_item_changed)
        self.tree.row_dropped.connect(self._on_row_dropped)

        add_button = self._button(self.add_action)
        add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        layer_buttons = QHBoxLayout()
        layer_buttons.addWidget(add_button)
        for action in (self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action):
            layer_buttons.addWidget(self._button(action))
        layer_buttons.addStretch(1)

        self.takes_label = QLabel("Takes", self)
        self.takes_label.setObjectName("takes_label")
        self.takes_list = QListWidget(self)
        self.takes_list.setObjectName("takes_list")
        self.takes_list.setToolTip("Takes of the selected layer: click one to hear and export it; "
                                   "double-click to rename; T switches A/B between the last two")
        self.takes_list.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                        | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.takes_list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for action in (self.ab_action, self.rename_take_action, self.delete_take_action):
            self.takes_list.addAction(action)
        self.takes_list.currentItemChanged.connect(self._on_current_take_changed)
        self.takes_list.itemChanged.connect(self._on_take_item_changed)
        take_buttons = QHBoxLayout()
        for action in (self.ab_action, self.rename_take_action, self.delete_take_action):
            take_buttons.addWidget(self._button(action))
        take_buttons.addStretch(1)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("layers_message")
        self.message_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(layer_buttons)
        layout.addWidget(self.tree, 3)
        layout.addWidget(self.takes_label)
        layout.addWidget(self.takes_list, 2)
        layout.addLayout(take_buttons)
        layout.addWidget(self.message_label)

    # ---- public helpers ----------------------------------------------------------------------------
    def row(self, layer_id: str) -> LayerRow:
        """The widgets of ``layer_id``'s row."""
        return self._rows[layer_id]

    def take_item(self, take_id: str) -> QListWidgetItem:
        for index in range(self.takes_list.count()):
            item = self.takes_list.item(index)
            if item.data(_ID_ROLE) == take_id:
                return item
        raise KeyError(take_id)

    # ---- layer edits -------------------------------------------------------------------------------
    def _tell(self, text: str) -> None:
        self.message_label.setText(text)
        if text:
            logger.info("layers panel: %s", text)
            self.message.emit(text)

    def _project(self) -> Project:
        return self._session.project

    def add_layer(self, role: LayerRole) -> Layer:
        """Add a layer of ``role`` at the end (its curve spans the video) and select it."""
        project = self._project()
        names = {layer.name for layer in project.layers}
        number = 1
        while f"{ROLE_LABELS[role]} {number}" in names:
            number += 1
        layer = Layer.new(f"{ROLE_LABELS[role]} {number}", role, duration_s=project.video_duration_s)
        self._session.push(AddLayer(project, layer))
        self._session.select_layer(layer.id)
        return layer

    def _selected_layer(self) -> Layer | None:
        layer = self._session.selected_layer()
        if layer is None:
            self._tell("Select a layer first.")
        return layer

    def start_rename_layer(self) -> None:
        layer = self._selected_layer()
        if layer is not None:
            self.tree.editItem(self._rows[layer.id].item, COLUMN_NAME)

    def rename_layer(self, layer_id: str, name: str) -> bool:
        """Rename a layer (undoable); an empty or too long name is refused with a message."""
        layer = self._project().layer(layer_id)
        try:
            name = checks.check_name(name, "layer name", MAX_LAYER_NAME_LENGTH)
        except UserInputError as error:
            self._tell(f"Cannot rename layer {layer.name!r}: {error}.")
            self._refresh_rows()
            return False
        if name != layer.name:
            self._session.push(LayerEdit(self._project(), layer_id, f"Rename layer {layer.name} to {name}", name=name))
        self._tell("")
        return True

    def delete_layer(self) -> None:
        layer = self._selected_layer()
        if layer is not None:
            self._session.push(RemoveLayer(self._project(), layer.id))

    def duplicate_layer(self) -> None:
        layer = self._selected_layer()
        if layer is None:
            return
        project = self._project()
        copy = layer.copy(_copy_name(layer.name, {other.name for other in project.layers}))
        self._session.push(AddLayer(project, copy, project.layer_index(layer.id) + 1,
                                    text=f"Duplicate layer {layer.name}"))
        self._session.select_layer(copy.id)

    def move_layer(self, step: int) -> None:
        layer = self._selected_layer()
        if layer is None:
            return
        project = self._project()
        new_index = project.layer_index(layer.id) + step
        if 0 <= new_index < len(project.layers):
            self._session.push(MoveLayer(project, layer.id, new_index))

    def _on_row_dropped(self, layer_id: str, new_index: int) -> None:
        # After the drag has finished: rebuilding the tree inside its own dropEvent is unsafe.
        QTimer.singleShot(0, self, lambda: self._session.push(MoveLayer(self._project(), layer_id, new_index)))

    def _edit_field(self, layer_id: str, text: str, **values) -> None:
        if self._updating:
            return
        try:
            layer = self._project().layer(layer_id)
        except UserInputError:
            return  # the row outlived its layer (an edit raced a rebuild)
        if any(getattr(layer, name) != value for name, value in values.items()):
            self._session.push(LayerEdit(self._project(), layer_id, f"{text} ({layer.name})", **values))

    # ---- takes -------------------------------------------------------------------------------------
    def _current_take(self) -> tuple[Layer, Take] | None:
        layer = self._session.selected_layer()
        item = self.takes_list.currentItem()
        if layer is None or item is None:
            self._tell("Select a take first.")
            return None
        return layer, layer.take(item.data(_ID_ROLE))

    def select_take(self, take_id: str | None) -> None:
        """Make ``take_id`` the selected layer's take (what plays and exports), undoably."""
        layer = self._session.selected_layer()
        if layer is None or layer.selected_take_id == take_id:
            return
        label = "no take" if take_id is None else layer.take(take_id).name
        self._session.push(LayerEdit(self._project(), layer.id, f"Select take {label}", selected_take_id=take_id))

    def toggle_ab(self) -> None:
        """Switch to the take selected before the current one (or the next take when none was)."""
        layer = self._session.selected_layer()
        if layer is None or len(layer.takes) < 2:
            self._tell("A/B needs a layer with at least two takes.")
            return
        ids = [take.id for take in layer.takes]
        current = layer.selected_take_id
        earlier = [take_id for take_id in self._take_history.get(layer.id, []) if take_id != current and take_id in ids]
        if earlier:
            target = earlier[0]
        else:
            target = ids[(ids.index(current) + 1) % len(ids)] if current in ids else ids[0]
        self.select_take(target)

    def start_rename_take(self) -> None:
        item = self.takes_list.currentItem()
        if item is None:
            self._tell("Select a take first.")
            return
        self.takes_list.editItem(item)

    def rename_take(self, take_id: str, name: str) -> bool:
        """Rename a take of the selected layer (undoable); an empty name is refused with a message."""
        layer = self._session.selected_layer()
        take = layer.take(take_id)
        try:
            name = checks.check_name(name, "take name", MAX_TAKE_NAME_LENGTH)
        except UserInputError as error:
            self._tell(f"Cannot rename take {take.name!r}: {error}.")
            self._takes_shown = None
            self._sync_takes()
            return False
        if name != take.name:
            self._session.push(RenameTake(self._project(), layer.id, take_id, name))
        self._tell("")
        return True

    def delete_take(self) -> None:
        current = self._current_take()
        if current is not None:
            layer, take = current
            self._session.push(RemoveTake(self._project(), layer.id, take.id))

    # ---- reacting to the widgets -----------------------------------------------------------------------
    def _on_current_layer_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if not self._updating and current is not None:
            self._session.select_layer(current.data(COLUMN_NAME, _ID_ROLE))

    def _on_layer_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._updating and column == COLUMN_NAME:
            self.rename_layer(item.data(COLUMN_NAME, _ID_ROLE), item.text(COLUMN_NAME))

    def _on_current_take_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if not self._updating and current is not None:
            self.select_take(current.data(_ID_ROLE))

    def _on_take_item_changed(self, item: QListWidgetItem) -> None:
        if not self._updating:
            self.rename_take(item.data(_ID_ROLE), item.text())

    # ---- following the document ----------------------------------------------------------------------
    def _on_project_replaced(self) -> None:
        self._take_history.clear()
        self._row_ids = None  # force a rebuild, even of an empty list
        self._sync()

    def _on_edited(self, _payload) -> None:
        self._sync()

    def _on_selection_changed(self, _layer_id) -> None:
        self._sync()

    def _sync(self) -> None:
        ids = [layer.id for layer in self._project().layers]
        if ids != self._row_ids:
            self._rebuild_rows()
        else:
            self._refresh_rows()
        self._sync_takes()
        self._update_actions()

    def _rebuild_rows(self) -> None:
        self._updating = True
        try:
            self.tree.clear()
            self._rows.clear()
            for layer in self._project().layers:
                self._rows[layer.id] = self._make_row(layer)
            self._row_ids = [layer.id for layer in self._project().layers]
        finally:
            self._updating = False
        self._refresh_rows()

    def _make_row(self, layer: Layer) -> LayerRow:
        item = QTreeWidgetItem(self.tree)
        item.setData(COLUMN_NAME, _ID_ROLE, layer.id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
        role = QComboBox(self.tree)
        role.setObjectName(f"role_{layer.id}")
        for member, label in ROLE_LABELS.items():
            role.addItem(label, member)
            role.setItemData(role.count() - 1, ROLE_TOOLTIPS[member], Qt.ItemDataRole.ToolTipRole)
        role.setToolTip("What kind of sound this layer is: on-screen Foley, off-screen sound or ambience")
        role.activated.connect(lambda index, lid=layer.id, box=role: self._edit_field(
            lid, "Change role", role=box.itemData(index)))
        mute = _toggle(self.tree, "M", f"mute_{layer.id}", "Mute: silence this layer in playback and the mixdown")
        mute.clicked.connect(lambda on, lid=layer.id: self._edit_field(lid, "Mute" if on else "Unmute", mute=on))
        solo = _toggle(self.tree, "S", f"solo_{layer.id}", "Solo: hear only the soloed layers (mute still wins)")
        solo.clicked.connect(lambda on, lid=layer.id: self._edit_field(lid, "Solo" if on else "Unsolo", solo=on))
        gain = QDoubleSpinBox(self.tree)
        gain.setObjectName(f"gain_{layer.id}")
        gain.setRange(*GAIN_DB_RANGE)
        gain.setDecimals(1)
        gain.setSingleStep(0.5)
        gain.setSuffix(" dB")
        gain.setKeyboardTracking(False)  # one edit when the value is committed, not per keystroke
        gain.setToolTip("Layer gain in the mix and the exported stem (the take itself keeps its loudness)")
        gain.valueChanged.connect(lambda value, lid=layer.id: self._edit_field(lid, "Change gain", gain_db=value))
        for column, widget in ((COLUMN_ROLE, role), (COLUMN_MUTE, mute), (COLUMN_SOLO, solo), (COLUMN_GAIN, gain)):
            self.tree.setItemWidget(item, column, widget)
        return LayerRow(item, role, mute, solo, gain)

    def _refresh_rows(self) -> None:
        """Show the document's values in the existing rows, without emitting edits."""
        self._updating = True
        try:
            for layer in self._project().layers:
                row = self._rows[layer.id]
                row.item.setText(COLUMN_NAME, layer.name)
                row.item.setToolTip(COLUMN_NAME, _layer_tooltip(layer))
                _set_quietly(row.role, lambda box=row.role, layer=layer: box.setCurrentIndex(box.findData(layer.role)))
                _set_quietly(row.mute, lambda button=row.mute, layer=layer: button.setChecked(layer.mute))
                _set_quietly(row.solo, lambda button=row.solo, layer=layer: button.setChecked(layer.solo))
                if round(row.gain.value(), 1) != round(layer.gain_db, 1):
                    _set_quietly(row.gain, lambda box=row.gain, layer=layer: box.setValue(layer.gain_db))
            selected = self._session.selected_layer_id
            current = self._rows[selected].item if selected in self._rows else None
            if self.tree.currentItem() is not current:
                self.tree.setCurrentItem(current)
        finally:
            self._updating = False

    def _sync_takes(self) -> None:
        layer = self._session.selected_layer()
        if layer is not None and layer.selected_take_id is not None:
            history = self._take_history.setdefault(layer.id, [])
            if not history or history[0] != layer.selected_take_id:
                history.insert(0, layer.selected_take_id)
                del history[_AB_HISTORY:]
        shown = None if layer is None else (layer.id, layer.name, layer.takes, layer.selected_take_id)
        if shown == self._takes_shown:
            return
        self._takes_shown = shown
        self._updating = True
        try:
            self.takes_list.clear()
            self.takes_label.setText("Takes" if layer is None else f"Takes of {layer.name}")
            if layer is None:
                return
            for take in layer.takes:
                self.takes_list.addItem(self._make_take_item(take, take.id == layer.selected_take_id))
            if layer.selected_take_id is not None:
                self.takes_list.setCurrentItem(self.take_item(layer.selected_take_id))
        finally:
            self._updating = False

    def _make_take_item(self, take: Take, selected: bool) -> QListWidgetItem:
        item = QListWidgetItem(take.name)
        item.setData(_ID_ROLE, take.id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setToolTip(take_tooltip(take))
        # One row height for all takes: the selected one's icon would otherwise make it taller
        # than the rest and the list would look uneven.
        item.setSizeHint(QSize(0, TAKE_ROW_HEIGHT))
        if selected:
            font = QFont(item.font())
            font.setBold(True)
            item.setFont(font)
            item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        return item

    def _update_actions(self) -> None:
        layer = self._session.selected_layer()
        count = len(self._project().layers)
        index = -1 if layer is None else self._project().layer_index(layer.id)
        for action in (self.rename_action, self.delete_action, self.duplicate_action):
            action.setEnabled(layer is not None)
        self.move_up_action.setEnabled(index > 0)
        self.move_down_action.setEnabled(0 <= index < count - 1)
        has_takes = layer is not None and bool(layer.takes)
        self.ab_action.setEnabled(layer is not None and len(layer.takes) > 1)
        self.rename_take_action.setEnabled(has_takes)
        self.delete_take_action.setEnabled(has_takes)


# ---- helpers ---------------------------------------------------------------------------------------
def _toggle(parent: QWidget, text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setCheckable(True)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def _set_quietly(widget: QWidget, setter) -> None:
    blocked = widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(blocked)


def _copy_name(name: str, taken: set[str]) -> str:
    """"<name> copy", then "<name> copy 2", ...; shortened so it stays a valid layer name."""
    number = 1
    while True:
        suffix = " copy" if number == 1 else f" copy {number}"
        candidate = name[: MAX_LAYER_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1


def _layer_tooltip(layer: Layer) -> str:
    lines = [f"{layer.name} ({ROLE_LABELS[layer.role]})"]
    if layer.on_screen_prompt:
        lines.append(f"On-screen: {layer.on_screen_prompt}")
    if layer.off_screen_prompt:
        lines.append(f"Off-screen: {layer.off_screen_prompt}")
    lines.append(f"{len(layer.takes)} take(s)")
    return "\n".join(lines)


def approximate_integrated_lufs(curve: LoudnessCurve) -> float:
    """Gated integrated loudness (BS.1770 gates) of a take from its measured 1/6 s curve.

    Cheap (no audio is read) and close, but not the standard figure: the gating blocks are the
    curve's 1/6 s frames rather than 400 ms blocks, which is why the tooltip says "about".
    Channels add as powers (BS.1770 weights 1 for left and right); floor frames count as silence.
    """
    def power(values: np.ndarray) -> np.ndarray:
        return np.where(values <= FLOOR_LUFS, 0.0, power_from_lufs(values))

    return integrated_loudness(power(curve.left) + power(curve.right))


_TOOLTIP_FIELDS = (
    ("on_screen_prompt", "On-screen prompt"),
    ("off_screen_prompt", "Off-screen prompt"),
    ("negative_prompt", "Negative prompt"),
    ("reference_audio", "Reference sound"),
    ("follow_video", "Follows video"),
    ("video_guidance", "Video guidance"),
    ("text_guidance", "Text guidance"),
    ("audio_guidance", "Reference guidance"),
    ("adherence", "Loudness adherence"),
    ("steps", "Steps"),
    ("sampler", "Sampler"),
    ("seed", "Seed"),
    ("variation", "Variation"),
    ("duration_s", "Duration (s)"),
    ("device", "Device"),
)


def take_tooltip(take: Take) -> str:
    """What made ``take``: its prompts, guidance, steps, seed, model and time, one per line."""
    lines = [take.name]
    parameters = take.parameters
    for key, label in _TOOLTIP_FIELDS:
        value = parameters.get(key)
        if value is None or value == "":
            continue
        if key == "reference_audio":
            value = str(value).replace("\\", "/").rsplit("/", 1)[-1]
        elif isinstance(value, float):
            value = f"{value:g}"
        lines.append(f"{label}: {value}")
    lines.append(f"Model: {parameters.get('model') or take.model_id}")
    lines.append(f"Created: {take.created.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")
    if take.measured_curve is not None:
        lufs = approximate_integrated_lufs(take.measured_curve)
        if np.isfinite(lufs):
            lines.append(f"Integrated loudness: about {lufs:.1f} LUFS")
        else:
            lines.append("Integrated loudness: silent")
    return "\n".join(lines)
