"""The layers panel: the project's layers (name, role, mute/solo, gain) and the selected layer's takes.

Design choices:

* The panel holds no copy of the document (DESIGN §4.2). It is composed of small parts, each
  following the session on its own terms and none calling back into the panel except through the
  callbacks it is given:

  - ``layers_tree``: the layer table widget, its columns and role labels; a drag-and-drop
    reorder becomes an undoable move instead of Qt's own item move;
  - ``layers_rows``: the rows of the table, rebuilt only when the list of layer ids changes and
    otherwise refreshed in place, so an edit never echoes back as a second edit;
  - ``takes_list`` (with ``takes_tooltip``): the selected layer's takes, A/B, rename and delete;
  - ``layers_actions``: the `QAction`s (so the main window can put the same actions in its
    menus), the button rows and which actions are enabled;
  - ``layers_quiet``: the one flag that tells every widget handler "the panel is showing the
    document, this is not an edit".

  This module assembles them, owns the layer edits (add, rename, delete, duplicate, move) and
  keeps the names other modules and tests import from here.
* A new layer starts with the sampling steps the chosen model recommends (``new_layer_steps``,
  given by the main window from the prompt panel's model picker), so a model evaluated at 16
  steps is not sampled at the layer default's 25. Existing layers keep what they have.
* Every change goes through ``session.push`` with an undoable command (``ui.commands`` or
  `RenameTake`), so undo/redo, the dirty flag and every other view follow on their own.
* Messages (an empty name refused, ...) are shown in a label inside the panel and emitted as
  ``message(str)`` for the status bar, never in a modal dialog: modal dialogs interrupt the
  designer and cannot be driven by tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidgetItem,
    QToolButton,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.document import Project
from foleystudio.project.layer import DEFAULT_STEPS, MAX_LAYER_NAME_LENGTH, Layer, LayerRole
from foleystudio.ui.commands import AddLayer, LayerEdit, MoveLayer, RemoveLayer
from foleystudio.ui.layers_actions import (
    build_actions,
    button_row,
    make_button,
    update_actions,
)
from foleystudio.ui.layers_quiet import QuietFlag
from foleystudio.ui.layers_rows import LayerRow, LayerRows
from foleystudio.ui.layers_tree import (
    COLUMN_GAIN,
    COLUMN_MUTE,
    COLUMN_NAME,
    COLUMN_ROLE,
    COLUMN_SOLO,
    ID_ROLE,
    ROLE_LABELS,
    ROLE_TOOLTIPS,
    LayerTree,
    build_layer_tree,
)
from foleystudio.ui.session import Session
from foleystudio.ui.takes_list import TAKE_ROW_HEIGHT, RenameTake, TakesList
from foleystudio.ui.takes_tooltip import approximate_integrated_lufs, take_tooltip

# Names other modules and tests import from here (they lived in this module before the split).
__all__ = [
    "COLUMN_GAIN", "COLUMN_MUTE", "COLUMN_NAME", "COLUMN_ROLE", "COLUMN_SOLO", "ROLE_LABELS", "ROLE_TOOLTIPS",
    "TAKE_ROW_HEIGHT", "LayerRow", "LayersPanel", "RenameTake", "approximate_integrated_lufs", "take_tooltip",
]

logger = logging.getLogger(__name__)

_LayerTree = LayerTree  # the former private name, kept for anything still using it


class LayersPanel(QWidget):
    """The project's layers and the selected layer's takes, edited through ``session``."""

    message = Signal(str)  # something the designer should read (a refused edit)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layers_panel")
        self._session = session
        self._quiet = QuietFlag()
        # The steps a new layer starts with: the chosen model's recommendation; None = the layer default.
        self.new_layer_steps: Callable[[], int | None] = lambda: None
        self._build_actions()
        self._build_widgets()
        session.edited.connect(self._on_edited)
        session.project_replaced.connect(self._on_project_replaced)
        session.selection_changed.connect(self._on_selection_changed)
        self._on_project_replaced()

    # ---- construction ----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        actions = self._actions = build_actions(self, self)
        self.add_action, self._add_menu, self.add_role_actions = actions.add, actions.add_menu, actions.add_roles
        self.rename_action, self.delete_action = actions.rename, actions.delete
        self.duplicate_action = actions.duplicate
        self.move_up_action, self.move_down_action = actions.move_up, actions.move_down
        self.ab_action = actions.ab
        self.rename_take_action, self.delete_take_action = actions.rename_take, actions.delete_take

    def _build_widgets(self) -> None:
        # Creation order is the children's order and the default tab order: keep it.
        actions = self._actions
        self.tree = build_layer_tree(self, actions.layer_context())
        self.tree.currentItemChanged.connect(self._on_current_layer_changed)
        self.tree.itemChanged.connect(self._on_layer_item_changed)
        self.tree.row_dropped.connect(self._on_row_dropped)
        self._rows = LayerRows(self._session, self.tree, self._quiet, self._edit_field)
        layer_buttons = button_row(self._layer_buttons())

        self._takes = TakesList(self._session, self, self._quiet, self._tell, actions.take_actions())
        self.takes_label, self.takes_list = self._takes.label, self._takes.widget
        take_buttons = button_row([make_button(self, action) for action in actions.take_actions()])

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

    def _layer_buttons(self) -> list[QToolButton]:
        add_button = make_button(self, self.add_action)
        add_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        others = (self.duplicate_action, self.delete_action, self.move_up_action, self.move_down_action)
        return [add_button] + [make_button(self, action) for action in others]

    # ---- public helpers ----------------------------------------------------------------------------
    def row(self, layer_id: str) -> LayerRow:
        """The widgets of ``layer_id``'s row."""
        return self._rows.row(layer_id)

    def take_item(self, take_id: str) -> QListWidgetItem:
        return self._takes.item(take_id)

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
        layer = Layer.new(f"{ROLE_LABELS[role]} {number}", role, duration_s=project.video_duration_s,
                          steps=self.new_layer_steps() or DEFAULT_STEPS)
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
            self.tree.editItem(self._rows.row(layer.id).item, COLUMN_NAME)

    def rename_layer(self, layer_id: str, name: str) -> bool:
        """Rename a layer (undoable); an empty or too long name is refused with a message."""
        layer = self._project().layer(layer_id)
        try:
            name = checks.check_name(name, "layer name", MAX_LAYER_NAME_LENGTH)
        except UserInputError as error:
            self._tell(f"Cannot rename layer {layer.name!r}: {error}.")
            self._rows.refresh()  # the refused text is still in the row: show the name again
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
        QTimer.singleShot(0, self, lambda: self._move_dropped(layer_id, new_index))

    def _move_dropped(self, layer_id: str, new_index: int) -> None:
        project = self._project()
        # The layer may have gone (an undo) between the drop and this turn of the event loop.
        if any(layer.id == layer_id for layer in project.layers) and 0 <= new_index < len(project.layers):
            self._session.push(MoveLayer(project, layer_id, new_index))

    def _edit_field(self, layer_id: str, text: str, **values) -> None:
        if self._quiet.active:
            return
        try:
            layer = self._project().layer(layer_id)
        except UserInputError:
            return  # the row outlived its layer (an edit raced a rebuild)
        if any(getattr(layer, name) != value for name, value in values.items()):
            self._session.push(LayerEdit(self._project(), layer_id, f"{text} ({layer.name})", **values))

    # ---- takes (see takes_list) ----------------------------------------------------------------------
    def select_take(self, take_id: str | None) -> None:
        """Make ``take_id`` the selected layer's take (what plays and exports), undoably."""
        self._takes.select(take_id)

    def toggle_ab(self) -> None:
        """Switch to the take selected before the current one (or the next take when none was)."""
        self._takes.toggle_ab()

    def start_rename_take(self) -> None:
        self._takes.start_rename()

    def rename_take(self, take_id: str, name: str) -> bool:
        """Rename a take of the selected layer (undoable); an empty name is refused with a message."""
        return self._takes.rename(take_id, name)

    def delete_take(self) -> None:
        self._takes.delete()

    # ---- reacting to the widgets -----------------------------------------------------------------------
    def _on_current_layer_changed(self, current: QTreeWidgetItem | None, _previous) -> None:
        if not self._quiet.active and current is not None:
            self._session.select_layer(current.data(COLUMN_NAME, ID_ROLE))

    def _on_layer_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if not self._quiet.active and column == COLUMN_NAME:
            self.rename_layer(item.data(COLUMN_NAME, ID_ROLE), item.text(COLUMN_NAME))

    # ---- following the document ----------------------------------------------------------------------
    def _on_project_replaced(self) -> None:
        self._takes.forget_history()
        self._rows.invalidate()  # force a rebuild, even of an empty list
        self._sync()

    def _on_edited(self, _payload) -> None:
        self._sync()

    def _on_selection_changed(self, _layer_id) -> None:
        self._sync()

    def _sync(self) -> None:
        self._rows.sync()
        self._takes.sync()
        update_actions(self._actions, self._project(), self._session.selected_layer())


def _copy_name(name: str, taken: set[str]) -> str:
    """"<name> copy", then "<name> copy 2", ...; shortened so it stays a valid layer name."""
    number = 1
    while True:
        suffix = " copy" if number == 1 else f" copy {number}"
        candidate = name[: MAX_LAYER_NAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
        number += 1
