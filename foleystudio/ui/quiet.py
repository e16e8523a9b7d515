"""Showing a document value in a widget without it reading as a user edit.

Panels copy document values into their widgets (rebuilding rows, refreshing fields); the widgets'
change signals would otherwise come back as edits. ``quietly`` sets one widget with its signals
blocked (restoring the previous blocking state afterwards). Used by the prompt panel and the layers
panel, which also share a `layers_quiet.QuietFlag` between their parts.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QWidget


def quietly(widget: QWidget, setter: Callable[[], object]) -> None:
    """Run ``setter`` with ``widget``'s signals blocked, restoring the previous blocking state."""
    blocked = widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(blocked)
