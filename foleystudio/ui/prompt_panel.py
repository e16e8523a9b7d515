"""The prompt panel: what the selected layer asks the generator for, and the Generate button.

Design choices:

* The panel shows the *selected* layer (``session.selected_layer()``) and keeps no copy of it:
  every control is refreshed from the document on ``edited`` (so undo/redo shows), on
  ``selection_changed`` and on ``project_replaced``. Refreshing sets widgets under a guard flag
  with their signals blocked, so showing a value never pushes an edit (no feedback loop).
* One user gesture is one undo step: text fields commit when editing finishes (focus leaves,
  Return in the one-line field), not per keystroke; a slider drag carries one ``merge_key`` from
  press to release, so ``LayerEdit`` merges the whole drag; the numeric boxes commit on Return,
  focus-out or an arrow step (keyboard tracking off).
* A text field being typed in is not overwritten by an unrelated refresh (another view changed
  the gain, say); typing that was not committed is committed to the layer it was typed for
  before the panel switches to another layer, and before Generate.
* The reference sound is checked before it is stored: a file FoleyStudio cannot read audio from
  is refused with a message in the panel (and ``message(str)`` for the status bar), never a
  modal dialog. Playing it is the main window's job (``play_reference(path)``): this panel never
  opens an audio device.
* Model and device are application settings, not layer fields: read them with ``model()`` /
  ``device()``; changes are announced with ``model_changed`` / ``device_changed``.

This module holds what the panel does: turning widget changes into undo steps and following the
document. Its widgets are built in ``prompt_form``; each row lives in its own ``prompt_*`` module
(``prompt_text``, ``prompt_sliders``, ``prompt_reference``, ``prompt_seed``,
``prompt_engine_pickers``). Names other code imported from here before the split are re-exported.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from foleystudio.engine import device as devices
from foleystudio.engine import registry
from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.layer import MAX_PROMPT_LENGTH, Layer
from foleystudio.ui import prompt_engine_pickers as pickers
from foleystudio.ui import prompt_text as text_fields
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.prompt_form import PromptPanelWidgets
from foleystudio.ui.prompt_reference import (
    AUDIO_FILE_FILTER,
    WAVEFORM_BINS,
    WAVEFORM_MAX_S,
    Waveform,
    check_reference_file,
    dropped_file,
    reference_envelope,
)
from foleystudio.ui.prompt_seed import random_seed
from foleystudio.ui.prompt_sliders import SliderField
from foleystudio.ui.prompt_text import TEXT_FIELDS, PromptEdit
from foleystudio.ui.quiet import quietly
from foleystudio.ui.session import Session

__all__ = [
    "AUDIO_FILE_FILTER",
    "WAVEFORM_BINS",
    "WAVEFORM_MAX_S",
    "PromptEdit",
    "PromptPanel",
    "SliderField",
    "Waveform",
    "reference_envelope",
]

logger = logging.getLogger(__name__)


class PromptPanel(PromptPanelWidgets, QWidget):
    """Prompts, reference sound, guidance and sampling settings of the selected layer."""

    play_reference = Signal(str)  # a reference sound file to audition
    generate_requested = Signal(str)  # layer id
    model_changed = Signal(str)
    device_changed = Signal(str)
    message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("prompt_panel")
        self.setAcceptDrops(True)
        self._session = session
        self._layer_id: str | None = None
        self._updating = False
        self._build()
        self.refresh_models()
        self.refresh_devices()
        session.edited.connect(self._on_edited)
        session.selection_changed.connect(self._on_selection_changed)
        session.project_replaced.connect(self._on_project_replaced)
        self.refresh()

    # ---- app settings: model and device -----------------------------------------------------------
    def model(self) -> str | None:
        """The model to generate with: a registry name or ``preset:NAME``."""
        return self.model_combo.currentData()

    def device(self) -> str:
        """The device to generate on: ``auto``, ``cpu``, ``cuda:N`` or ``mps``."""
        return self.device_combo.currentData() or devices.AUTO

    def recommended_steps(self) -> int | None:
        """The sampling steps the chosen model recommends (new layers start with them); None: not given."""
        return pickers.recommended_steps(self.model_combo)

    def set_model(self, name: str) -> bool:
        """Choose ``name`` if it is listed and usable (e.g. restoring a saved setting)."""
        return pickers.choose(self.model_combo, name)

    def set_device(self, name: str) -> bool:
        return pickers.choose(self.device_combo, name)

    def refresh_models(self) -> None:
        """Fill the model picker from the registry: installed models, then the untrained presets."""
        usable = pickers.fill_models(self.model_combo)
        self.show_reference_support()  # filling is silent: no currentIndexChanged to do it
        self.model_hint.setVisible(not usable)
        self.model_hint.setText("No trained model installed: the untrained presets only make noise. Install a "
                                f"model folder in {registry.user_models_dir()}.")

    def refresh_devices(self) -> None:
        """Fill the device picker with what this machine has (auto first)."""
        pickers.fill_devices(self.device_combo)

    def _announce(self, signal, value) -> None:
        if value is not None:
            signal.emit(value)

    # ---- edits ------------------------------------------------------------------------------------
    def _tell(self, text: str) -> None:
        self.message_label.setText(text)
        if text:
            logger.info("prompt panel: %s", text)
            self.message.emit(text)

    def _shown_layer(self) -> Layer | None:
        if self._layer_id is None:
            return None
        try:
            return self._session.project.layer(self._layer_id)
        except UserInputError:
            return None

    def _edit(self, text: str, merge_key: str | None = None, **values) -> None:
        if self._updating:
            return
        layer = self._shown_layer()
        if layer is None or all(getattr(layer, name) == value for name, value in values.items()):
            return
        self._session.push(LayerEdit(self._session.project, layer.id, f"{text} ({layer.name})", merge_key, **values))

    def commit_text(self, field: str) -> None:
        """Store what was typed in ``field`` (one undo step), if it changed."""
        widget = getattr(self, field)
        try:
            text = checks.check_text(text_fields.typed_text(widget), TEXT_FIELDS[field], MAX_PROMPT_LENGTH)
        except UserInputError as error:
            self._tell(f"{error}.")
            return
        # Unmodified before the push: the push refreshes this panel, which must not commit again.
        text_fields.mark_unmodified(widget)
        self._edit(f"Edit {TEXT_FIELDS[field]}", **{field: text})

    def _commit_pending_text(self) -> None:
        for field in TEXT_FIELDS:
            if text_fields.is_modified(getattr(self, field)):
                self.commit_text(field)

    def randomise_seed(self) -> None:
        layer = self._shown_layer()
        if layer is None:
            return
        if layer.seed_locked:
            self._tell("The seed is locked: unlock it to pick a new one.")
            return
        self._edit("Randomise seed", seed=random_seed())

    def choose_reference(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Choose a reference sound", "", AUDIO_FILE_FILTER)
        if path:
            self.set_reference_file(path)

    def set_reference_file(self, path: str | Path) -> bool:
        """Use the audio file at ``path`` as the layer's reference sound; refuse what is not audio."""
        if self._shown_layer() is None:
            return False
        try:
            reference = check_reference_file(self._session.project, Path(path))
        except UserInputError as error:
            self._tell(f"Not usable as a reference sound: {error}")
            return False
        self._tell("")
        self._edit(f"Reference sound {reference.name}", reference_audio=reference)
        return True

    def _play_reference(self) -> None:
        path = self._reference_path(self._shown_layer())
        if path is not None:
            self.play_reference.emit(str(path))

    def _reference_path(self, layer: Layer | None) -> Path | None:
        """Where the layer's reference sound is on disk; None if it has none or it is missing."""
        if layer is None or layer.reference_audio is None:
            return None
        return self._session.project.resolve(layer.reference_audio)

    def request_generation(self) -> None:
        """Ask the main window to generate takes for the shown layer (typed text committed first)."""
        self._commit_pending_text()
        layer = self._shown_layer()
        if layer is not None:
            self.generate_requested.emit(layer.id)

    # ---- drag and drop of a reference sound ----------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if (self._shown_layer() is not None and self.takes_reference_sounds()
                and dropped_file(event.mimeData()) is not None):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = dropped_file(event.mimeData())
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.set_reference_file(path)

    # ---- following the document ------------------------------------------------------------------
    def _on_edited(self, _payload) -> None:
        self.refresh()

    def _on_selection_changed(self, _layer_id) -> None:
        self.refresh()

    def _on_project_replaced(self) -> None:
        self._layer_id = None  # typing for a layer of the closed project is dropped, not committed
        self.reference_picker.envelopes.clear()
        self.refresh()

    def refresh(self) -> None:
        """Show the selected layer's values; never pushes an edit."""
        layer = self._session.selected_layer()
        new_id = None if layer is None else layer.id
        switching = new_id != self._layer_id
        if switching and self._shown_layer() is not None:
            self._commit_pending_text()  # typed for the layer being left
            layer = self._session.selected_layer()
        self._layer_id = new_id
        self.hint.setVisible(layer is None)
        self.form_widget.setEnabled(layer is not None)
        self.generate_button.setEnabled(layer is not None)
        self._updating = True
        try:
            self._show(layer, switching)
        finally:
            self._updating = False

    def _show(self, layer: Layer | None, switching: bool) -> None:
        for field in TEXT_FIELDS:
            text_fields.show_text(getattr(self, field), "" if layer is None else getattr(layer, field), switching)
        if layer is not None:
            self._show_settings(layer)
        self.reference_picker.show_reference(None if layer is None else layer.reference_audio,
                                             self._reference_path(layer))

    def _show_settings(self, layer: Layer) -> None:
        quietly(self.follow_video, lambda: self.follow_video.setChecked(layer.follow_video))
        for field, slider in self.sliders.items():
            if slider.value() != getattr(layer, field):
                slider.set_value(getattr(layer, field))
        self.seed_row.show_seed(layer.seed, layer.seed_locked)
        quietly(self.variations, lambda: self.variations.setValue(layer.variations))
