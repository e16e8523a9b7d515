"""The prompt panel's text fields: two multi-line prompts and the one-line negative prompt.

Design choices:

* Text commits when editing finishes (focus leaves; Return in the one-line field), never per
  keystroke, so one typed phrase is one undo step. ``PromptEdit`` adds the missing "editing
  finished" signal (``committed``) to ``QPlainTextEdit``.
* The two widget kinds (``PromptEdit`` and ``QLineEdit``) spell "text", "modified" and "show" with
  different methods; the functions here hide that difference so the panel treats the three fields
  alike.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QWidget

from foleystudio.project.layer import MAX_PROMPT_LENGTH
from foleystudio.ui.quiet import quietly

# Layer field -> how messages and undo steps name it.
TEXT_FIELDS = {
    "on_screen_prompt": "on-screen prompt",
    "off_screen_prompt": "off-screen prompt",
    "negative_prompt": "negative prompt",
}


class PromptEdit(QPlainTextEdit):
    """A multi-line prompt that reports ``committed`` when editing finishes (focus leaves)."""

    committed = Signal()

    def focusOutEvent(self, event) -> None:
        super().focusOutEvent(event)
        if self.document().isModified():
            self.committed.emit()

    def is_modified(self) -> bool:
        return self.document().isModified()

    def set_text(self, text: str) -> None:
        if self.toPlainText() != text:
            self.setPlainText(text)
        self.document().setModified(False)


def new_prompt_edit(parent: QWidget, name: str, tip: str) -> PromptEdit:
    """A three-line prompt box; Tab moves focus on (a prompt never needs a tab character)."""
    edit = PromptEdit(parent)
    edit.setObjectName(name)
    edit.setToolTip(tip)
    edit.setTabChangesFocus(True)
    edit.setFixedHeight(edit.fontMetrics().lineSpacing() * 3 + 12)
    return edit


def new_negative_prompt(parent: QWidget) -> QLineEdit:
    """The one-line negative prompt (it commits on ``editingFinished``)."""
    edit = QLineEdit(parent)
    edit.setObjectName("negative_prompt")
    edit.setPlaceholderText("e.g. music, speech")
    edit.setToolTip("What the take should avoid (steers guidance away from it).")
    edit.setMaxLength(MAX_PROMPT_LENGTH)
    return edit


def typed_text(widget: PromptEdit | QLineEdit) -> str:
    return widget.toPlainText() if isinstance(widget, PromptEdit) else widget.text()


def is_modified(widget: PromptEdit | QLineEdit) -> bool:
    """Whether the field holds typing that was not committed yet."""
    return widget.is_modified() if isinstance(widget, PromptEdit) else widget.isModified()


def mark_unmodified(widget: PromptEdit | QLineEdit) -> None:
    if isinstance(widget, PromptEdit):
        widget.document().setModified(False)
    else:
        widget.setModified(False)


def show_text(widget: PromptEdit | QLineEdit, value: str, switching: bool) -> None:
    """Show ``value`` quietly, unless the field holds uncommitted typing for the same layer."""
    if not switching and is_modified(widget):
        return
    if isinstance(widget, PromptEdit):
        quietly(widget, lambda: widget.set_text(value))
    else:
        quietly(widget, lambda: widget.setText(value))
