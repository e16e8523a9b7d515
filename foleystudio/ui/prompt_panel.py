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
  modal dialog. Its waveform is a peak envelope of at most the first few minutes, cached per
  file. Playing it is the main window's job (``play_reference(path)``): this panel never opens
  an audio device.
* The seed box is a `QDoubleSpinBox` with no decimals: `QSpinBox` is 32-bit signed and cannot
  hold the seed range (0 .. 2**32 - 1).
* Model and device are application settings, not layer fields: the pickers are filled from the
  engine's registry and device detection, read with ``model()`` / ``device()``, and announce
  changes with ``model_changed`` / ``device_changed``.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.audio.io import audio_info, read_audio
from foleystudio.engine import device as devices
from foleystudio.engine import registry
from foleystudio.engine.builder import PRESET_PREFIX
from foleystudio.engine.config import PRESETS
from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.layer import (
    ADHERENCE_RANGE,
    GUIDANCE_RANGE,
    MAX_PROMPT_LENGTH,
    SEED_RANGE,
    STEPS_RANGE,
    VARIATIONS_RANGE,
    Layer,
)
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

AUDIO_FILE_FILTER = "Audio files (*.wav *.bwf *.flac *.aif *.aiff *.caf *.ogg *.opus *.mp3 *.m4a *.aac *.w64);;All files (*)"
WAVEFORM_BINS = 240
WAVEFORM_MAX_S = 300.0  # the picture of a long file only needs its first minutes
_drag_numbers = itertools.count(1)


# ---- small widgets --------------------------------------------------------------------------------
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
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName(f"{name}_slider")
        self.slider.setRange(round(low / step), round(high / step))
        self.slider.setPageStep(max(1, round((high - low) / step / 20)))
        if decimals == 0:
            self.spin = QSpinBox(self)
            self.spin.setRange(int(low), int(high))
        else:
            self.spin = QDoubleSpinBox(self)
            self.spin.setRange(low, high)
            self.spin.setDecimals(decimals)
        self.spin.setObjectName(f"{name}_spin")
        self.spin.setSingleStep(step)
        self.spin.setKeyboardTracking(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.sliderPressed.connect(self._on_pressed)
        self.slider.sliderReleased.connect(self._on_released)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)

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


class Waveform(QWidget):
    """A tiny peak-envelope picture of the reference sound."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.envelope: np.ndarray | None = None
        self.setMinimumSize(120, 28)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_envelope(self, envelope: np.ndarray | None) -> None:
        self.envelope = envelope
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self.envelope is None or len(self.envelope) == 0:
            return
        painter.setPen(QPen(QColor(self.palette().highlight().color()), 1))
        width, middle = self.width(), self.height() / 2
        step = width / len(self.envelope)
        for index, peak in enumerate(self.envelope):
            x = index * step + step / 2
            half = max(0.5, float(peak) * (middle - 1))
            painter.drawLine(QPointF(x, middle - half), QPointF(x, middle + half))


def reference_envelope(path: str | Path, bins: int = WAVEFORM_BINS) -> np.ndarray:
    """Peak amplitude (0..1) of ``bins`` equal stretches of the file's first minutes (mono mix)."""
    audio, _rate = read_audio(path, channels=1, duration_s=min(audio_info(path).duration_s, WAVEFORM_MAX_S) or None)
    samples = np.abs(audio[0])
    if len(samples) == 0:
        return np.zeros(bins, np.float32)
    edges = np.linspace(0, len(samples), bins + 1).astype(int)
    peaks = np.array([samples[a:b].max() if b > a else 0.0 for a, b in itertools.pairwise(edges)], np.float32)
    return np.clip(peaks, 0.0, 1.0)


# ---- the panel ----------------------------------------------------------------------------------
_TEXT_FIELDS = {
    "on_screen_prompt": "on-screen prompt",
    "off_screen_prompt": "off-screen prompt",
    "negative_prompt": "negative prompt",
}
_SLIDERS = (
    # field, label, range, step, decimals, tooltip
    ("video_guidance", "Video guidance", GUIDANCE_RANGE, 0.1, 1,
     ("How strongly the take follows the picture (classifier-free guidance scale for video). "
      "Higher: tighter sync, less variety; 0 ignores the video.")),
    ("text_guidance", "Text guidance", GUIDANCE_RANGE, 0.1, 1,
     "How strongly the take follows the prompts. Higher: closer to the words, less natural; 0 ignores them."),
    ("audio_guidance", "Reference guidance", GUIDANCE_RANGE, 0.1, 1,
     "How strongly the take resembles the reference sound (only with a reference sound set)."),
    ("steps", "Steps", STEPS_RANGE, 1, 0,
     "Sampling steps: more steps take longer and refine detail; 25 is a good start."),
    ("loudness_adherence", "Loudness adherence", ADHERENCE_RANGE, 0.01, 2,
     ("How strictly the take is conformed to the drawn loudness curve: 1 follows it exactly, "
      "0 leaves the take's own dynamics.")),
)


class PromptPanel(QWidget):
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
        self._envelopes: dict[tuple, np.ndarray | None] = {}
        self._build()
        self.refresh_models()
        self.refresh_devices()
        session.edited.connect(self._on_edited)
        session.selection_changed.connect(self._on_selection_changed)
        session.project_replaced.connect(self._on_project_replaced)
        self.refresh()

    # ---- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.hint = QLabel("Select a layer to edit what it asks the generator for.", self)
        self.hint.setObjectName("prompt_hint")
        self.hint.setWordWrap(True)

        self.form_widget = QWidget(self)
        self.form_widget.setObjectName("prompt_form")
        form = QFormLayout(self.form_widget)

        self.on_screen_prompt = self._prompt_edit(
            "on_screen_prompt", "What is seen making sound, e.g. 'boots on wet gravel'. Synced to the picture.")
        self.off_screen_prompt = self._prompt_edit(
            "off_screen_prompt", "Sounds not seen, described in words, e.g. 'distant church bells'.")
        self.negative_prompt = QLineEdit(self)
        self.negative_prompt.setObjectName("negative_prompt")
        self.negative_prompt.setPlaceholderText("e.g. music, speech")
        self.negative_prompt.setToolTip("What the take should avoid (steers guidance away from it).")
        self.negative_prompt.setMaxLength(MAX_PROMPT_LENGTH)
        self.negative_prompt.editingFinished.connect(lambda: self.commit_text("negative_prompt"))
        form.addRow("On-screen prompt", self.on_screen_prompt)
        form.addRow("Off-screen prompt", self.off_screen_prompt)
        form.addRow("Negative prompt", self.negative_prompt)
        form.addRow("Reference sound", self._build_reference())

        self.follow_video = QCheckBox("Follow the picture", self)
        self.follow_video.setObjectName("follow_video")
        self.follow_video.setToolTip("Condition the take on the video, so sounds land on what is seen. "
                                     "Off for ambiences and off-screen sounds that need not sync.")
        self.follow_video.clicked.connect(lambda on: self._edit("Follow video" if on else "Ignore video",
                                                                follow_video=on))
        form.addRow("Video", self.follow_video)

        self.sliders: dict[str, SliderField] = {}
        for field, label, (low, high), step, decimals, tip in _SLIDERS:
            slider = SliderField(field, low, high, step, decimals, self)
            slider.setToolTip(tip)
            slider.edited.connect(lambda value, key, field=field, label=label: self._edit(
                label, merge_key=key, **{field: value}))
            self.sliders[field] = slider
            form.addRow(label, slider)

        form.addRow("Seed", self._build_seed())
        self.variations = QSpinBox(self)
        self.variations.setObjectName("variations")
        self.variations.setRange(*VARIATIONS_RANGE)
        self.variations.setKeyboardTracking(False)
        self.variations.setToolTip("How many takes one Generate makes (each with the next seed).")
        self.variations.valueChanged.connect(lambda value: self._edit("Variations", variations=value))
        form.addRow("Variations", self.variations)

        self.model_combo = QComboBox(self)
        self.model_combo.setObjectName("model")
        self.model_combo.setToolTip("The generation model. Presets are untrained and make noise: for testing only.")
        self.model_combo.currentIndexChanged.connect(lambda _index: self._announce(self.model_changed, self.model()))
        self.model_hint = QLabel("No trained model installed.", self)
        self.model_hint.setObjectName("model_hint")
        self.model_hint.setWordWrap(True)
        self.device_combo = QComboBox(self)
        self.device_combo.setObjectName("device")
        self.device_combo.setToolTip("Where generation runs: a GPU is much faster; auto picks CUDA, then Apple "
                                     "Metal, then the CPU.")
        self.device_combo.currentIndexChanged.connect(lambda _index: self._announce(self.device_changed, self.device()))

        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setObjectName("generate")
        self.generate_button.setToolTip("Generate takes for this layer with these settings (in the background).")
        self.generate_button.clicked.connect(self.request_generation)

        self.message_label = QLabel(self)
        self.message_label.setObjectName("prompt_message")
        self.message_label.setWordWrap(True)

        settings = QFormLayout()
        settings.addRow("Model", self.model_combo)
        settings.addRow("", self.model_hint)
        settings.addRow("Device", self.device_combo)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form_widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(settings)
        layout.addWidget(self.generate_button)

    def _prompt_edit(self, name: str, tip: str) -> PromptEdit:
        edit = PromptEdit(self)
        edit.setObjectName(name)
        edit.setToolTip(tip)
        edit.setTabChangesFocus(True)
        edit.setFixedHeight(edit.fontMetrics().lineSpacing() * 3 + 12)
        edit.committed.connect(lambda: self.commit_text(name))
        return edit

    def _build_reference(self) -> QWidget:
        box = QWidget(self)
        self.reference_name = QLabel("None: drop an audio file here", box)
        self.reference_name.setObjectName("reference_name")
        self.reference_waveform = Waveform(box)
        self.reference_waveform.setObjectName("reference_waveform")
        self.reference_choose = _tool_button(box, "Choose…", "reference_choose",
                                             "Pick a sound from your library as an audio prompt (or drop a file here)")
        self.reference_play = _tool_button(box, "Play", "reference_play", "Listen to the reference sound")
        self.reference_clear = _tool_button(box, "Clear", "reference_clear", "Stop using a reference sound")
        self.reference_choose.clicked.connect(self.choose_reference)
        self.reference_play.clicked.connect(self._play_reference)
        self.reference_clear.clicked.connect(lambda: self._edit("Clear reference sound", reference_audio=None))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.reference_choose, self.reference_play, self.reference_clear):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reference_name)
        layout.addWidget(self.reference_waveform)
        layout.addLayout(buttons)
        box.setToolTip("An audio prompt: the take will sound like this (weighted by reference guidance).")
        return box

    def _build_seed(self) -> QWidget:
        box = QWidget(self)
        self.seed = QDoubleSpinBox(box)
        self.seed.setObjectName("seed")
        self.seed.setDecimals(0)
        self.seed.setRange(*SEED_RANGE)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("The random seed: the same seed and settings make the same take again.")
        self.seed.valueChanged.connect(lambda value: self._edit("Seed", seed=int(value)))
        self.seed_lock = _tool_button(box, "Lock", "seed_lock",
                                      "Keep this seed for every generation (unlocked, each Generate uses new seeds)")
        self.seed_lock.setCheckable(True)
        self.seed_lock.clicked.connect(lambda on: self._edit("Lock seed" if on else "Unlock seed", seed_locked=on))
        self.seed_randomise = _tool_button(box, "Randomise", "seed_randomise", "Pick a new random seed")
        self.seed_randomise.clicked.connect(self.randomise_seed)
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.seed, 1)
        layout.addWidget(self.seed_lock)
        layout.addWidget(self.seed_randomise)
        return box

    # ---- app settings: model and device -----------------------------------------------------------
    def model(self) -> str | None:
        """The model to generate with: a registry name or ``preset:NAME``."""
        return self.model_combo.currentData()

    def device(self) -> str:
        """The device to generate on: ``auto``, ``cpu``, ``cuda:N`` or ``mps``."""
        return self.device_combo.currentData() or devices.AUTO

    def set_model(self, name: str) -> bool:
        """Choose ``name`` if it is listed and usable (e.g. restoring a saved setting)."""
        return _choose(self.model_combo, name)

    def set_device(self, name: str) -> bool:
        return _choose(self.device_combo, name)

    def refresh_models(self) -> None:
        """Fill the model picker from the registry: installed models, then the untrained presets."""
        previous = self.model()
        blocked = self.model_combo.blockSignals(True)
        try:
            self.model_combo.clear()
            entries = {entry.name: entry for entry in registry.list_models()}  # user copies win
            usable = [entry for entry in entries.values() if entry.valid]
            if not usable:
                self.model_combo.addItem("no trained model installed", None)
                _disable_item(self.model_combo, self.model_combo.count() - 1)
            for entry in entries.values():
                self.model_combo.addItem(entry.name if entry.valid else f"{entry.name} (broken)", entry.name)
                tip = entry.description if entry.valid else entry.problem
                self.model_combo.setItemData(self.model_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
                if not entry.valid:
                    _disable_item(self.model_combo, self.model_combo.count() - 1)
            self.model_combo.insertSeparator(self.model_combo.count())
            for name, config in PRESETS.items():
                self.model_combo.addItem(f"{PRESET_PREFIX}{name} (untrained)", f"{PRESET_PREFIX}{name}")
                self.model_combo.setItemData(self.model_combo.count() - 1, config.description,
                                             Qt.ItemDataRole.ToolTipRole)
            preferred = [previous, registry.DEFAULT_MODEL_NAME, *(entry.name for entry in usable),
                         f"{PRESET_PREFIX}tiny"]
            for name in preferred:
                if name and _choose(self.model_combo, name):
                    break
        finally:
            self.model_combo.blockSignals(blocked)
        self.model_hint.setVisible(not usable)
        self.model_hint.setText("No trained model installed: the untrained presets only make noise. Install a "
                                f"model folder in {registry.user_models_dir()}.")

    def refresh_devices(self) -> None:
        """Fill the device picker with what this machine has (auto first)."""
        previous = self.device()
        blocked = self.device_combo.blockSignals(True)
        try:
            self.device_combo.clear()
            self.device_combo.addItem(f"auto ({devices.select_device(devices.AUTO)})", devices.AUTO)
            for info in devices.available_devices():
                self.device_combo.addItem(f"{info.name}: {info.description}", info.name)
            _choose(self.device_combo, previous)
        finally:
            self.device_combo.blockSignals(blocked)

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
        text = widget.toPlainText() if isinstance(widget, PromptEdit) else widget.text()
        try:
            text = checks.check_text(text, _TEXT_FIELDS[field], MAX_PROMPT_LENGTH)
        except UserInputError as error:
            self._tell(f"{error}.")
            return
        # Unmodified before the push: the push refreshes this panel, which must not commit again.
        if isinstance(widget, PromptEdit):
            widget.document().setModified(False)
        else:
            widget.setModified(False)
        self._edit(f"Edit {_TEXT_FIELDS[field]}", **{field: text})

    def _commit_pending_text(self) -> None:
        for field in _TEXT_FIELDS:
            widget = getattr(self, field)
            if widget.is_modified() if isinstance(widget, PromptEdit) else widget.isModified():
                self.commit_text(field)

    def randomise_seed(self) -> None:
        layer = self._shown_layer()
        if layer is None:
            return
        if layer.seed_locked:
            self._tell("The seed is locked: unlock it to pick a new one.")
            return
        low, high = SEED_RANGE
        self._edit("Randomise seed", seed=low + secrets.randbelow(high - low + 1))

    def choose_reference(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Choose a reference sound", "", AUDIO_FILE_FILTER)
        if path:
            self.set_reference_file(path)

    def set_reference_file(self, path: str | Path) -> bool:
        """Use the audio file at ``path`` as the layer's reference sound; refuse what is not audio."""
        if self._shown_layer() is None:
            return False
        path = Path(path)
        try:
            info = audio_info(path)
            if info.frames <= 0:
                raise UserInputError(f"{path.name} holds no audio samples")
            reference = self._session.project.reference_to(path)
        except UserInputError as error:
            self._tell(f"Not usable as a reference sound: {error}")
            return False
        self._tell("")
        self._edit(f"Reference sound {reference.name}", reference_audio=reference)
        return True

    def _play_reference(self) -> None:
        layer = self._shown_layer()
        path = None if layer is None or layer.reference_audio is None else self._session.project.resolve(
            layer.reference_audio)
        if path is not None:
            self.play_reference.emit(str(path))

    def request_generation(self) -> None:
        """Ask the main window to generate takes for the shown layer (typed text committed first)."""
        self._commit_pending_text()
        layer = self._shown_layer()
        if layer is not None:
            self.generate_requested.emit(layer.id)

    # ---- drag and drop of a reference sound ----------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if self._shown_layer() is not None and _dropped_file(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = _dropped_file(event.mimeData())
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
        self._envelopes.clear()
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
        for field in _TEXT_FIELDS:
            widget = getattr(self, field)
            value = "" if layer is None else getattr(layer, field)
            if isinstance(widget, PromptEdit):
                if switching or not widget.is_modified():
                    _quietly(widget, lambda widget=widget, value=value: widget.set_text(value))
            elif switching or not widget.isModified():
                _quietly(widget, lambda widget=widget, value=value: widget.setText(value))
        if layer is None:
            self._show_reference(None)
            return
        _quietly(self.follow_video, lambda: self.follow_video.setChecked(layer.follow_video))
        for field, slider in self.sliders.items():
            if slider.value() != getattr(layer, field):
                slider.set_value(getattr(layer, field))
        if int(self.seed.value()) != layer.seed:
            _quietly(self.seed, lambda: self.seed.setValue(layer.seed))
        _quietly(self.seed_lock, lambda: self.seed_lock.setChecked(layer.seed_locked))
        self.seed_randomise.setEnabled(not layer.seed_locked)
        _quietly(self.variations, lambda: self.variations.setValue(layer.variations))
        self._show_reference(layer)

    def _show_reference(self, layer: Layer | None) -> None:
        reference = None if layer is None else layer.reference_audio
        path = None if reference is None else self._session.project.resolve(reference)
        if reference is None:
            self.reference_name.setText("None: drop an audio file here")
            self.reference_name.setToolTip("")
        elif path is None:
            self.reference_name.setText(f"{reference.name} (missing)")
            self.reference_name.setToolTip(f"Not found at {reference.absolute}")
        else:
            self.reference_name.setText(reference.name)
            self.reference_name.setToolTip(str(path))
        self.reference_waveform.set_envelope(None if path is None else self._envelope(path))
        self.reference_play.setEnabled(path is not None)
        self.reference_clear.setEnabled(reference is not None)

    def _envelope(self, path: Path) -> np.ndarray | None:
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return None
        if key not in self._envelopes:
            try:
                self._envelopes[key] = reference_envelope(path)
            except UserInputError as error:
                logger.warning("no waveform for %s: %s", path, error)
                self._envelopes[key] = None
        return self._envelopes[key]


# ---- helpers ---------------------------------------------------------------------------------------
def _tool_button(parent: QWidget, text: str, name: str, tip: str) -> QToolButton:
    button = QToolButton(parent)
    button.setText(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    return button


def _quietly(widget: QWidget, setter) -> None:
    blocked = widget.blockSignals(True)
    try:
        setter()
    finally:
        widget.blockSignals(blocked)


def _disable_item(combo: QComboBox, index: int) -> None:
    item = combo.model().item(index)
    item.setEnabled(False)


def _choose(combo: QComboBox, data) -> bool:
    index = combo.findData(data)
    if index < 0 or not combo.model().item(index).isEnabled():
        return False
    combo.setCurrentIndex(index)
    return True


def _dropped_file(mime) -> Path | None:
    """The one local file being dragged, or None."""
    if not mime.hasUrls():
        return None
    files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    return Path(files[0]) if len(files) == 1 else None
