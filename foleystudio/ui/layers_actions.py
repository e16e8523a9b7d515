"""The layers panel's actions and its rows of buttons.

* Every command of the panel is a `QAction` (add, rename, delete, duplicate, move up/down, take
  A/B, rename and delete take) so the main window can put the same actions in its menus and the
  panel's buttons and right-click menus stay in step (enabled, tooltip) on their own.
* The actions are parented to the panel and call back through `ActionHandlers`, a plain protocol
  the panel satisfies, so this module knows nothing else about the panel.
* Which actions are enabled follows from the document alone (`update_actions`), recomputed on
  every change rather than tracked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Protocol

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QMenu, QToolButton, QWidget

from foleystudio.project.document import Project
from foleystudio.project.layer import Layer, LayerRole
from foleystudio.ui.layers_tree import ROLE_LABELS, ROLE_TOOLTIPS


class ActionHandlers(Protocol):
    """What the actions do (the panel's public editing methods)."""

    def add_layer(self, role: LayerRole) -> Layer: ...
    def start_rename_layer(self) -> None: ...
    def delete_layer(self) -> None: ...
    def duplicate_layer(self) -> None: ...
    def move_layer(self, step: int) -> None: ...
    def toggle_ab(self) -> None: ...
    def start_rename_take(self) -> None: ...
    def delete_take(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class PanelActions:
    """The panel's actions; the panel also exposes each one as an attribute (``add_action``, ...)."""

    add: QAction
    add_menu: QMenu
    add_roles: dict[LayerRole, QAction]
    rename: QAction
    delete: QAction
    duplicate: QAction
    move_up: QAction
    move_down: QAction
    ab: QAction
    rename_take: QAction
    delete_take: QAction

    def layer_context(self) -> tuple[QAction, ...]:
        """The layer table's right-click menu, in order."""
        return (self.add, self.rename, self.duplicate, self.delete, self.move_up, self.move_down)

    def take_actions(self) -> tuple[QAction, ...]:
        """The takes list's right-click menu and buttons, in order."""
        return (self.ab, self.rename_take, self.delete_take)


def make_action(owner: QWidget, name: str, text: str, tip: str, slot: Callable, shortcut=None) -> QAction:
    action = QAction(text, owner)
    action.setObjectName(name)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        # Only while the panel has focus: a bare letter must not fire while typing elsewhere.
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        owner.addAction(action)
    action.triggered.connect(slot)
    return action


def build_actions(owner: QWidget, handlers: ActionHandlers) -> PanelActions:
    """Create the panel's actions, parented to ``owner`` (creation order is the child order)."""
    add, add_menu, add_roles = _build_add_actions(owner, handlers)
    return PanelActions(
        add=add, add_menu=add_menu, add_roles=add_roles,
        rename=make_action(owner, "rename_layer_action", "Rename layer", "Rename the selected layer (F2)",
                           handlers.start_rename_layer),
        delete=make_action(owner, "delete_layer_action", "Delete layer",
                           "Delete the selected layer (undo brings it back with its takes)", handlers.delete_layer),
        duplicate=make_action(owner, "duplicate_layer_action", "Duplicate layer",
                              "Copy the selected layer, its settings and takes, just below it",
                              handlers.duplicate_layer),
        move_up=make_action(owner, "move_layer_up_action", "Move up", "Move the selected layer up",
                            lambda: handlers.move_layer(-1)),
        move_down=make_action(owner, "move_layer_down_action", "Move down", "Move the selected layer down",
                              lambda: handlers.move_layer(+1)),
        ab=make_action(owner, "take_ab_action", "A/B", "Switch back to the take selected before this one (T)",
                       handlers.toggle_ab, "T"),
        rename_take=make_action(owner, "rename_take_action", "Rename take", "Rename the highlighted take",
                                handlers.start_rename_take),
        delete_take=make_action(owner, "delete_take_action", "Delete take",
                                "Remove the highlighted take from the layer (its file stays on disk)",
                                handlers.delete_take),
    )


def _build_add_actions(owner: QWidget, handlers: ActionHandlers) -> tuple[QAction, QMenu, dict[LayerRole, QAction]]:
    """"Add layer" (an on-screen layer) with a menu of one action per role."""
    add = make_action(owner, "add_layer_action", "Add layer",
                      "Add an on-screen layer (pick another role from the arrow menu)",
                      lambda: handlers.add_layer(LayerRole.ON_SCREEN))
    roles: dict[LayerRole, QAction] = {}
    menu = QMenu("Add layer", owner)
    for role, label in ROLE_LABELS.items():
        action = make_action(owner, f"add_{role.name.lower()}_action", f"{label} layer", ROLE_TOOLTIPS[role],
                             lambda _checked=False, role=role: handlers.add_layer(role))
        menu.addAction(action)
        roles[role] = action
    add.setMenu(menu)
    return add, menu, roles


def make_button(parent: QWidget, action: QAction) -> QToolButton:
    """A tool button for ``action``, named after it (``*_action`` becomes ``*_button``)."""
    button = QToolButton(parent)
    button.setDefaultAction(action)
    button.setObjectName(action.objectName().replace("_action", "_button"))
    return button


def button_row(buttons: Sequence[QToolButton]) -> QHBoxLayout:
    """``buttons`` left-aligned in a row."""
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    return row


def update_actions(actions: PanelActions, project: Project, layer: Layer | None) -> None:
    """Enable what makes sense for the selected ``layer`` (None: none selected)."""
    count = len(project.layers)
    index = -1 if layer is None else project.layer_index(layer.id)
    for action in (actions.rename, actions.delete, actions.duplicate):
        action.setEnabled(layer is not None)
    actions.move_up.setEnabled(index > 0)
    actions.move_down.setEnabled(0 <= index < count - 1)
    has_takes = layer is not None and bool(layer.takes)
    actions.ab.setEnabled(layer is not None and len(layer.takes) > 1)
    actions.rename_take.setEnabled(has_takes)
    actions.delete_take.setEnabled(has_takes)
