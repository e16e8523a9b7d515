"""Quiet updates: how the layers panel shows the document without echoing it back as edits.

While the panel copies document values into its widgets (rebuilding rows, refreshing them,
refilling the takes list), the widgets' change signals would otherwise come back as edits. One
flag, shared by the layer rows and the takes list, marks those moments and every handler of a
widget signal returns early while it is raised. The flag is shared (not one per part) so a signal
from either part is ignored while either part is updating, as before the panel was split.

The flag is a plain on/off switch, not a counter: the updates never nest, and leaving one always
lowers the flag, exactly like the ``try/finally`` it replaced.
"""

from __future__ import annotations

from typing import Self


class QuietFlag:
    """Raised (``with flag:``) while the panel writes document values into its widgets."""

    def __init__(self) -> None:
        self.active = False

    def __enter__(self) -> Self:
        self.active = True
        return self

    def __exit__(self, *_exc_info) -> None:
        self.active = False
