"""Small Qt helpers shared by the prompt panel's pieces (the ``prompt_*`` modules). Showing a
value without it reading as an edit is `foleystudio.ui.quiet.quietly`."""

from __future__ import annotations

from PySide6.QtWidgets import QToolButton, QWidget


def tool_button(parent: QWidget, text: str, name: str, tip: str) -> QToolButton:
    """A small text button with an object name (tests and styles find it) and a tooltip."""
    button = QToolButton(parent)
    button.setText(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button
