"""Small Qt helpers shared by the prompt panel's pieces (the ``prompt_*`` modules).

Design choice: the panel shows document values by setting widgets with their signals blocked, so
that showing a value never reads as a user edit; ``quietly`` is that one idiom, written once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QToolButton, QWidget


def tool_button(parent: QWidget, text: str, name: str, tip: str) -> QToolButton:
    """A small text button with an object name (tests and styles find it) and a tooltip."""
    button = QToolButton(parent)
    button.setText(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def quietly(widget: QWidget, setter: Callable[[], object]) -> None:
    """Run ``setter`` with ``widget``'s signals blocked, restoring the previous blocking state."""
    blocked = widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(blocked)
