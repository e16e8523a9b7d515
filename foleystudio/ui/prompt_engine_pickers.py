"""The prompt panel's model and device pickers.

Design choices:

* Model and device are application settings, not layer fields: the pickers are filled from the
  engine's registry and device detection, and changing them makes no undo step.
* The model list puts installed models first (a broken one is listed, disabled, with its problem
  as the tooltip, so the user learns why it is unusable), then the untrained presets. When no
  trained model is installed a disabled first line says so.
* Refilling keeps the previous choice when it is still usable, else falls back to the default
  model, any usable model, then the tiny preset. Refilling happens with signals blocked: it is
  not the user changing the model.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QWidget

from foleystudio.engine import device as devices
from foleystudio.engine import registry
from foleystudio.engine.builder import PRESET_PREFIX
from foleystudio.engine.config import PRESETS
from foleystudio.engine.model import prompt_trained

NO_MODEL_TEXT = "no trained model installed"
TRAINED_PROMPTS_ROLE = Qt.ItemDataRole.UserRole + 1  # a model item's `ModelEntry.trained_prompts`
STEPS_ROLE = Qt.ItemDataRole.UserRole + 2  # the sampling steps the model recommends (None: not given)


def new_model_combo(parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    combo.setObjectName("model")
    combo.setToolTip("The generation model. Presets are untrained and make noise: for testing only.")
    return combo


def new_device_combo(parent: QWidget) -> QComboBox:
    combo = QComboBox(parent)
    combo.setObjectName("device")
    combo.setToolTip("Where generation runs: a GPU is much faster; auto picks CUDA, then Apple "
                     "Metal, then the CPU.")
    return combo


def choose(combo: QComboBox, data) -> bool:
    """Select the enabled item holding ``data``; False if there is none."""
    index = combo.findData(data)
    if index < 0 or not combo.model().item(index).isEnabled():
        return False
    combo.setCurrentIndex(index)
    return True


def _disable_item(combo: QComboBox, index: int) -> None:
    item = combo.model().item(index)
    item.setEnabled(False)


def _add_installed_models(combo: QComboBox, entries: list) -> None:
    for entry in entries:
        combo.addItem(entry.name if entry.valid else f"{entry.name} (broken)", entry.name)
        tip = entry.description if entry.valid else entry.problem
        combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        combo.setItemData(combo.count() - 1, entry.trained_prompts, TRAINED_PROMPTS_ROLE)
        combo.setItemData(combo.count() - 1, entry.recommended_steps, STEPS_ROLE)
        if not entry.valid:
            _disable_item(combo, combo.count() - 1)


def _add_presets(combo: QComboBox) -> None:
    for name, config in PRESETS.items():
        combo.addItem(f"{PRESET_PREFIX}{name} (untrained)", f"{PRESET_PREFIX}{name}")
        combo.setItemData(combo.count() - 1, config.description, Qt.ItemDataRole.ToolTipRole)
        combo.setItemData(combo.count() - 1, config.sampler.steps, STEPS_ROLE)


def fill_models(combo: QComboBox) -> bool:
    """Fill ``combo`` from the registry, keeping the choice if usable; whether a trained model is usable."""
    previous = combo.currentData()
    blocked = combo.blockSignals(True)
    try:
        combo.clear()
        entries = {entry.name: entry for entry in registry.list_models()}  # user copies win
        usable = [entry for entry in entries.values() if entry.valid]
        if not usable:
            combo.addItem(NO_MODEL_TEXT, None)
            _disable_item(combo, combo.count() - 1)
        _add_installed_models(combo, list(entries.values()))
        combo.insertSeparator(combo.count())
        _add_presets(combo)
        preferred = [previous, registry.DEFAULT_MODEL_NAME, *(entry.name for entry in usable),
                     f"{PRESET_PREFIX}tiny"]
        for name in preferred:
            if name and choose(combo, name):
                break
    finally:
        combo.blockSignals(blocked)
    return bool(usable)


def takes_reference_sounds(combo: QComboBox) -> bool:
    """Whether the chosen model can use a reference sound: False only for a model whose folder says
    its DiT was never trained with one (the pipeline would refuse the request)."""
    return prompt_trained(combo.currentData(TRAINED_PROMPTS_ROLE), "audio")


def recommended_steps(combo: QComboBox) -> int | None:
    """The sampling steps the chosen model recommends (checked by the registry or the preset's config);
    None when it gives none (or nothing is chosen)."""
    return combo.currentData(STEPS_ROLE)


def fill_devices(combo: QComboBox) -> None:
    """Fill ``combo`` with what this machine has (auto first), keeping the choice if still there."""
    previous = combo.currentData() or devices.AUTO
    blocked = combo.blockSignals(True)
    try:
        combo.clear()
        combo.addItem(f"auto ({devices.select_device(devices.AUTO)})", devices.AUTO)
        for info in devices.available_devices():
            combo.addItem(f"{info.name}: {info.description}", info.name)
        choose(combo, previous)
    finally:
        combo.blockSignals(blocked)
