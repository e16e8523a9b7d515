"""The prompt panel's guidance and sampling rows: a slider and a number box per layer field.

Design choices:

* A slider drag is one undo step: every value reported during one drag carries the same
  ``merge_key`` (``LayerEdit`` merges edits with equal keys); clicks, keyboard steps and typed
  numbers carry None, one step each.
* The number box has keyboard tracking off, so typing "7.3" commits once (on Return, focus-out or
  an arrow step) rather than at "7" and again at "7.3".
* The slider works in integer steps (``value / step``); the box shows the real value. Each side is
  updated with the other's signals blocked, so one change is reported once.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QSpinBox, QWidget

from foleystudio.project.layer import ADHERENCE_RANGE, GUIDANCE_RANGE, LIKENESS_RANGE, STEPS_RANGE

# Unique across all fields and drags, so two drags never merge into one undo step.
_drag_numbers = itertools.count(1)


@dataclass(frozen=True)
class SliderSpec:
    """One slider row: the layer field it edits and how it is shown."""

    field: str
    label: str
    value_range: tuple[float, float]
    step: float
    decimals: int
    tip: str


SLIDER_SPECS = (
    SliderSpec("video_guidance", "Video guidance", GUIDANCE_RANGE, 0.1, 1,
               ("How strongly the take follows the picture (classifier-free guidance scale for video). "
                "Higher: tighter sync, less variety; 0 ignores the video.")),
    SliderSpec("text_guidance", "Text guidance", GUIDANCE_RANGE, 0.1, 1,
               ("How strongly the take follows the prompts. Higher: closer to the words, less natural, and "
                "less tight to the curve and picture; 0 ignores them. With a model that keeps loudness "
                "(the bundled one does) it changes what the take sounds like, not how loud it is.")),
    SliderSpec("audio_guidance", "Reference guidance", GUIDANCE_RANGE, 0.1, 1,
               "How strongly the take resembles the reference sound (only with a reference sound set)."),
    SliderSpec("reference_likeness", "Reference likeness", LIKENESS_RANGE, 0.05, 2,
               ("How much of the reference sound itself the take keeps: above 0 the model makes a first "
                "take, cuts the reference (yours, or the one the prompt found in the model's bank) onto "
                "its events, and makes the take again from that. 1 keeps the cut reference; lower lets "
                "the model re-make more of it. Doubles the generation time; takes up to the model's "
                "window (10 s for the bundled model). 0: the reference is a prompt only.")),
    SliderSpec("steps", "Steps", STEPS_RANGE, 1, 0,
               "Sampling steps: more steps take longer and refine detail. New layers start at the "
               "number the chosen model recommends."),
    SliderSpec("loudness_adherence", "Loudness adherence", ADHERENCE_RANGE, 0.01, 2,
               ("How strictly the take is conformed to the drawn loudness curve: 1 follows it exactly, "
                "0 leaves the take's own dynamics.")),
)


class SliderField(QWidget):
    """A slider and a number box showing one value, kept in sync.

    ``edited(value, merge_key)`` reports a user change: during a slider drag every value carries
    the same key (one undo step per drag); other changes carry None (one step each).
    """

    edited = Signal(object, object)

    def __init__(self, name: str, low: float, high: float, step: float, decimals: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._step, self._decimals, self._drag_key = step, decimals, None
        self.slider = self._new_slider(name, low, high, step)
        self.spin = self._new_spin(name, low, high, step, decimals)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.sliderPressed.connect(self._on_pressed)
        self.slider.sliderReleased.connect(self._on_released)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)

    def _new_slider(self, name: str, low: float, high: float, step: float) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal, self)
        slider.setObjectName(f"{name}_slider")
        slider.setRange(round(low / step), round(high / step))
        slider.setPageStep(max(1, round((high - low) / step / 20)))
        return slider

    def _new_spin(self, name: str, low: float, high: float, step: float,
                  decimals: int) -> QSpinBox | QDoubleSpinBox:
        if decimals == 0:
            spin = QSpinBox(self)
            spin.setRange(int(low), int(high))
        else:
            spin = QDoubleSpinBox(self)
            spin.setRange(low, high)
            spin.setDecimals(decimals)
        spin.setObjectName(f"{name}_spin")
        spin.setSingleStep(step)
        spin.setKeyboardTracking(False)
        return spin

    def setToolTip(self, text: str) -> None:
        super().setToolTip(text)
        self.slider.setToolTip(text)
        self.spin.setToolTip(text)

    def value(self):
        return self.spin.value()

    def set_value(self, value) -> None:
        """Show ``value`` without reporting an edit."""
        for widget in (self.slider, self.spin):
            blocked = widget.blockSignals(True)
            try:
                if widget is self.slider:
                    widget.setValue(round(value / self._step))
                else:
                    widget.setValue(value)
            finally:
                widget.blockSignals(blocked)

    def _on_pressed(self) -> None:
        self._drag_key = f"{self.objectName()}-drag-{next(_drag_numbers)}"

    def _on_released(self) -> None:
        self._drag_key = None

    def _on_slider(self, position: int) -> None:
        value = position * self._step
        value = round(value) if self._decimals == 0 else round(value, self._decimals)
        blocked = self.spin.blockSignals(True)
        self.spin.setValue(value)
        self.spin.blockSignals(blocked)
        self.edited.emit(value, self._drag_key)

    def _on_spin(self, value) -> None:
        blocked = self.slider.blockSignals(True)
        self.slider.setValue(round(value / self._step))
        self.slider.blockSignals(blocked)
        self.edited.emit(value, None)


def new_slider_field(spec: SliderSpec, parent: QWidget) -> SliderField:
    """The row for ``spec``, named after its layer field, with the spec's tooltip."""
    low, high = spec.value_range
    field = SliderField(spec.field, low, high, spec.step, spec.decimals, parent)
    field.setToolTip(spec.tip)
    return field
