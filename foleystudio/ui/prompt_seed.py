"""The prompt panel's seed row (number, Lock, Randomise) and the variations box.

Design choices:

* The seed box is a ``QDoubleSpinBox`` with no decimals: ``QSpinBox`` is 32-bit signed and cannot
  hold the seed range (0 .. 2**32 - 1).
* New seeds come from ``secrets`` (no global random state is touched or seeded).
* Like the other rows, these widgets only show values and report clicks; the panel turns a change
  into an undo step.
"""

from __future__ import annotations

import secrets

from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSpinBox, QWidget

from foleystudio.project.layer import SEED_RANGE, VARIATIONS_RANGE
from foleystudio.ui.prompt_helpers import tool_button
from foleystudio.ui.quiet import quietly


def random_seed() -> int:
    """A seed drawn uniformly from the whole seed range."""
    low, high = SEED_RANGE
    return low + secrets.randbelow(high - low + 1)


class SeedRow(QWidget):
    """The seed number with a Lock toggle and a Randomise button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QDoubleSpinBox(self)
        self.spin.setObjectName("seed")
        self.spin.setDecimals(0)
        self.spin.setRange(*SEED_RANGE)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("The random seed: the same seed and settings make the same take again.")
        self.lock_button = tool_button(self, "Lock", "seed_lock",
                                       "Keep this seed for every generation (unlocked, each Generate uses new seeds)")
        self.lock_button.setCheckable(True)
        self.randomise_button = tool_button(self, "Randomise", "seed_randomise", "Pick a new random seed")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.lock_button)
        layout.addWidget(self.randomise_button)

    def show_seed(self, seed: int, locked: bool) -> None:
        """Show a layer's seed and lock state without reporting an edit."""
        if int(self.spin.value()) != seed:
            quietly(self.spin, lambda: self.spin.setValue(seed))
        quietly(self.lock_button, lambda: self.lock_button.setChecked(locked))
        self.randomise_button.setEnabled(not locked)


def new_variations_box(parent: QWidget) -> QSpinBox:
    """How many takes one Generate makes; commits on Return, focus-out or an arrow step."""
    box = QSpinBox(parent)
    box.setObjectName("variations")
    box.setRange(*VARIATIONS_RANGE)
    box.setKeyboardTracking(False)
    box.setToolTip("How many takes one Generate makes (each with the next seed).")
    return box
