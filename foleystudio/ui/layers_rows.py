"""The rows of the layer table: one per layer, with its role box, mute/solo toggles and gain box.

* Rows are *rebuilt* only when the list of layer ids changes (add, delete, reorder, undo of those,
  another project opened); any other edit *refreshes the existing rows in place*, with the row
  widgets' signals blocked, so an edit never echoes back as a second edit and the gain box a
  designer is typing in is not destroyed under their fingers by an unrelated change.
* The rows hold no copy of the document (DESIGN §4.2): every refresh reads the project again.
* A row widget's edit is handed to ``edit_field(layer_id, text, **fields)``, supplied by the
  panel, which turns it into an undoable command; the rows never touch the undo stack.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from foleystudio.project.layer import GAIN_DB_RANGE, Layer
from foleystudio.ui.layers_quiet import QuietFlag
from foleystudio.ui.layers_tree import (
    COLUMN_GAIN,
    COLUMN_MUTE,
    COLUMN_NAME,
    COLUMN_ROLE,
    COLUMN_SOLO,
    ID_ROLE,
    ROLE_LABELS,
    ROLE_TOOLTIPS,
)
from foleystudio.ui.quiet import quietly
from foleystudio.ui.session import Session

EditField = Callable[..., None]  # edit_field(layer_id, undo_text, **layer_fields)


@dataclasses.dataclass(frozen=True)
class LayerRow:
    """The editing widgets of one layer's row (tests and the main window find them here)."""

    item: QTreeWidgetItem
    role: QComboBox
    mute: QToolButton
    solo: QToolButton
    gain: QDoubleSpinBox


class LayerRows:
    """Keeps the rows of ``tree`` in step with ``session``'s layers (see the module doc)."""

    def __init__(self, session: Session, tree: QTreeWidget, quiet: QuietFlag, edit_field: EditField) -> None:
        self._session = session
        self._tree = tree
        self._quiet = quiet
        self._edit_field = edit_field
        self._rows: dict[str, LayerRow] = {}
        self._row_ids: list[str] | None = None

    def row(self, layer_id: str) -> LayerRow:
        """The widgets of ``layer_id``'s row (``KeyError`` when it has none)."""
        return self._rows[layer_id]

    def invalidate(self) -> None:
        """Make the next `sync` rebuild the rows, even of an empty list (another project)."""
        self._row_ids = None

    def sync(self) -> None:
        """Rebuild the rows when the layer ids changed, else refresh them in place."""
        ids = [layer.id for layer in self._session.project.layers]
        if ids != self._row_ids:
            self.rebuild()
        else:
            self.refresh()

    def rebuild(self) -> None:
        with self._quiet:
            self._tree.clear()
            self._rows.clear()
            for layer in self._session.project.layers:
                self._rows[layer.id] = self._make_row(layer)
            self._row_ids = [layer.id for layer in self._session.project.layers]
        self.refresh()

    def refresh(self) -> None:
        """Show the document's values in the existing rows, without emitting edits."""
        with self._quiet:
            for layer in self._session.project.layers:
                _show_layer(self._rows[layer.id], layer)
            self._follow_selection()

    def _follow_selection(self) -> None:
        selected = self._session.selected_layer_id
        current = self._rows[selected].item if selected in self._rows else None
        if self._tree.currentItem() is not current:
            self._tree.setCurrentItem(current)

    def _make_row(self, layer: Layer) -> LayerRow:
        tree, edit_field, lid = self._tree, self._edit_field, layer.id
        item = QTreeWidgetItem(tree)
        item.setData(COLUMN_NAME, ID_ROLE, lid)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)
        role = _role_box(tree, lid, edit_field)
        mute = _toggle(tree, "M", f"mute_{lid}", "Mute: silence this layer in playback and the mixdown")
        mute.clicked.connect(lambda on: edit_field(lid, "Mute" if on else "Unmute", mute=on))
        solo = _toggle(tree, "S", f"solo_{lid}", "Solo: hear only the soloed layers (mute still wins)")
        solo.clicked.connect(lambda on: edit_field(lid, "Solo" if on else "Unsolo", solo=on))
        gain = _gain_box(tree, lid, edit_field)
        for column, widget in ((COLUMN_ROLE, role), (COLUMN_MUTE, mute), (COLUMN_SOLO, solo), (COLUMN_GAIN, gain)):
            tree.setItemWidget(item, column, widget)
        return LayerRow(item, role, mute, solo, gain)


def _show_layer(row: LayerRow, layer: Layer) -> None:
    row.item.setText(COLUMN_NAME, layer.name)
    row.item.setToolTip(COLUMN_NAME, layer_tooltip(layer))
    quietly(row.role, lambda: row.role.setCurrentIndex(row.role.findData(layer.role)))
    quietly(row.mute, lambda: row.mute.setChecked(layer.mute))
    quietly(row.solo, lambda: row.solo.setChecked(layer.solo))
    # Compared as shown (one decimal), so a value the designer just typed is not rewritten.
    if round(row.gain.value(), 1) != round(layer.gain_db, 1):
        quietly(row.gain, lambda: row.gain.setValue(layer.gain_db))


def _role_box(parent: QWidget, layer_id: str, edit_field: EditField) -> QComboBox:
    role = QComboBox(parent)
    role.setObjectName(f"role_{layer_id}")
    for member, label in ROLE_LABELS.items():
        role.addItem(label, member)
        role.setItemData(role.count() - 1, ROLE_TOOLTIPS[member], Qt.ItemDataRole.ToolTipRole)
    role.setToolTip("What kind of sound this layer is: on-screen Foley, off-screen sound or ambience")
    role.activated.connect(lambda index: edit_field(layer_id, "Change role", role=role.itemData(index)))
    return role


def _gain_box(parent: QWidget, layer_id: str, edit_field: EditField) -> QDoubleSpinBox:
    gain = QDoubleSpinBox(parent)
    gain.setObjectName(f"gain_{layer_id}")
    gain.setRange(*GAIN_DB_RANGE)
    gain.setDecimals(1)
    gain.setSingleStep(0.5)
    gain.setSuffix(" dB")
    gain.setKeyboardTracking(False)  # one edit when the value is committed, not per keystroke
    gain.setToolTip("Layer gain in the mix and the exported stem (the take itself keeps its loudness)")
    gain.valueChanged.connect(lambda value: edit_field(layer_id, "Change gain", gain_db=value))
    return gain


def _toggle(parent: QWidget, text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setCheckable(True)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def layer_tooltip(layer: Layer) -> str:
    """The name column's tooltip: name and role, the prompts, how many takes."""
    lines = [f"{layer.name} ({ROLE_LABELS[layer.role]})"]
    if layer.on_screen_prompt:
        lines.append(f"On-screen: {layer.on_screen_prompt}")
    if layer.off_screen_prompt:
        lines.append(f"Off-screen: {layer.off_screen_prompt}")
    lines.append(f"{len(layer.takes)} take(s)")
    return "\n".join(lines)
