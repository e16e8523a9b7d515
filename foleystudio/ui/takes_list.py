"""The takes of the selected layer: the list, A/B between takes, rename and delete.

* Designers audition the takes of the layer they work on, so only the selected layer's takes are
  listed. Clicking a take selects it with an undoable ``LayerEdit`` of ``selected_take_id``: the
  selection is saved with the project and decides what is exported.
* A/B goes back to the take selected before the current one. That short history is view state,
  recorded from the document on every sync, whichever view changed the selection.
* Take names change by replacing the immutable `Take` (``dataclasses.replace``) in `RenameTake`,
  an undoable command defined here because only this list renames takes.
* The list is refilled only when what it shows changed (layer, its name, its takes, the selected
  take), under the panel's shared `QuietFlag`, so refilling is never taken for a click.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QFont, QUndoCommand
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QWidget,
)

from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.document import Project
from foleystudio.project.layer import Layer
from foleystudio.project.take import MAX_TAKE_NAME_LENGTH, Take
from foleystudio.ui.commands import LayerEdit, RemoveTake
from foleystudio.ui.layers_quiet import QuietFlag
from foleystudio.ui.layers_tree import ID_ROLE
from foleystudio.ui.session import Session
from foleystudio.ui.takes_tooltip import take_tooltip

TAKE_ROW_HEIGHT = 24
AB_HISTORY = 8  # take selections remembered per layer for A/B


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


class TakesList:
    """The takes label and list of ``parent`` (the panel) and the edits made from them."""

    def __init__(self, session: Session, parent: QWidget, quiet: QuietFlag, tell: Callable[[str], None],
                 context_actions: Iterable[QAction]) -> None:
        self._session, self._parent, self._quiet, self._tell = session, parent, quiet, tell
        self._shown: tuple | None = None  # what the list shows, to refill only on change
        self._history: dict[str, list[str]] = {}
        self.label = QLabel("Takes", parent)
        self.label.setObjectName("takes_label")
        self.widget = _build_list(parent, context_actions)
        self.widget.currentItemChanged.connect(self._on_current_changed)
        self.widget.itemChanged.connect(self._on_item_changed)

    def item(self, take_id: str) -> QListWidgetItem:
        """The list item of ``take_id`` (``KeyError`` when it is not listed)."""
        for index in range(self.widget.count()):
            item = self.widget.item(index)
            if item.data(ID_ROLE) == take_id:
                return item
        raise KeyError(take_id)

    def forget_history(self) -> None:
        """Drop the A/B history (another project was opened)."""
        self._history.clear()

    # ---- edits --------------------------------------------------------------------------------
    def select(self, take_id: str | None) -> None:
        """Make ``take_id`` the selected layer's take (what plays and exports), undoably."""
        layer = self._session.selected_layer()
        if layer is None or layer.selected_take_id == take_id:
            return
        label = "no take" if take_id is None else layer.take(take_id).name
        self._session.push(LayerEdit(self._session.project, layer.id, f"Select take {label}",
                                     selected_take_id=take_id))

    def toggle_ab(self) -> None:
        """Switch to the take selected before the current one (or the next take when none was)."""
        layer = self._session.selected_layer()
        if layer is None or len(layer.takes) < 2:
            self._tell("A/B needs a layer with at least two takes.")
            return
        ids = [take.id for take in layer.takes]
        current = layer.selected_take_id
        earlier = [take_id for take_id in self._history.get(layer.id, []) if take_id != current and take_id in ids]
        if earlier:
            target = earlier[0]
        else:
            target = ids[(ids.index(current) + 1) % len(ids)] if current in ids else ids[0]
        self.select(target)

    def start_rename(self) -> None:
        item = self.widget.currentItem()
        if item is None:
            self._tell("Select a take first.")
            return
        self.widget.editItem(item)

    def rename(self, take_id: str, name: str) -> bool:
        """Rename a take of the selected layer (undoable); an empty name is refused with a message."""
        layer = self._session.selected_layer()
        if layer is None or take_id not in {take.id for take in layer.takes}:
            return False  # the layer or take went away (undo, another window) before the edit landed
        take = layer.take(take_id)
        try:
            name = checks.check_name(name, "take name", MAX_TAKE_NAME_LENGTH)
        except UserInputError as error:
            self._tell(f"Cannot rename take {take.name!r}: {error}.")
            self._shown = None  # the refused text is still in the item: show the name again
            self.sync()
            return False
        if name != take.name:
            self._session.push(RenameTake(self._session.project, layer.id, take_id, name))
        self._tell("")
        return True

    def delete(self) -> None:
        current = self._current_take()
        if current is not None:
            layer, take = current
            self._session.push(RemoveTake(self._session.project, layer.id, take.id))

    def _current_take(self) -> tuple[Layer, Take] | None:
        layer = self._session.selected_layer()
        item = self.widget.currentItem()
        if layer is None or item is None:
            self._tell("Select a take first.")
            return None
        return layer, layer.take(item.data(ID_ROLE))

    # ---- reacting to the list -----------------------------------------------------------------
    def _on_current_changed(self, current: QListWidgetItem | None, _previous) -> None:
        if not self._quiet.active and current is not None:
            self.select(current.data(ID_ROLE))

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if not self._quiet.active:
            self.rename(item.data(ID_ROLE), item.text())

    # ---- following the document ---------------------------------------------------------------
    def sync(self) -> None:
        """Record the A/B history and refill the list if what it should show changed."""
        layer = self._session.selected_layer()
        if layer is not None and layer.selected_take_id is not None:
            self._remember(layer.id, layer.selected_take_id)
        shown = None if layer is None else (layer.id, layer.name, layer.takes, layer.selected_take_id)
        if shown == self._shown:
            return
        self._shown = shown
        with self._quiet:
            self._fill(layer)

    def _remember(self, layer_id: str, take_id: str) -> None:
        history = self._history.setdefault(layer_id, [])
        if not history or history[0] != take_id:
            history.insert(0, take_id)
            del history[AB_HISTORY:]

    def _fill(self, layer: Layer | None) -> None:
        self.widget.clear()
        self.label.setText("Takes" if layer is None else f"Takes of {layer.name}")
        if layer is None:
            return
        for take in layer.takes:
            self.widget.addItem(self._make_item(take, take.id == layer.selected_take_id))
        if layer.selected_take_id is not None:
            self.widget.setCurrentItem(self.item(layer.selected_take_id))

    def _make_item(self, take: Take, selected: bool) -> QListWidgetItem:
        item = QListWidgetItem(take.name)
        item.setData(ID_ROLE, take.id)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        item.setToolTip(take_tooltip(take))
        # One row height for all takes: the selected one's icon would otherwise make it taller
        # than the rest and the list would look uneven.
        item.setSizeHint(QSize(0, TAKE_ROW_HEIGHT))
        if selected:
            font = QFont(item.font())
            font.setBold(True)
            item.setFont(font)
            # The panel's style, as before the split (the list could be styled differently).
            item.setIcon(self._parent.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        return item


def _build_list(parent: QWidget, context_actions: Iterable[QAction]) -> QListWidget:
    takes = QListWidget(parent)
    takes.setObjectName("takes_list")
    takes.setToolTip("Takes of the selected layer: click one to hear and export it; "
                     "double-click to rename; T switches A/B between the last two")
    takes.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                          | QAbstractItemView.EditTrigger.EditKeyPressed)
    takes.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for action in context_actions:
        takes.addAction(action)
    return takes
