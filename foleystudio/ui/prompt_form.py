"""The prompt panel's widgets: built once, in on-screen order, and wired to the panel's edits.

Design choices:

* ``PromptPanelWidgets`` is a mixin of ``PromptPanel`` that only constructs: it creates every
  control, names it (tests and styles find controls by object name), lays the form out and
  connects each control to the panel's edit methods (``_edit``, ``commit_text``,
  ``choose_reference``, ``randomise_seed``, ``request_generation``, ``_announce``...). What an
  edit does lives in ``prompt_panel``; keeping construction here keeps both halves short.
* Widgets are created in on-screen order: Qt's default Tab order follows creation order.
* The controls are attributes of the panel itself (``panel.seed``, ``panel.reference_play``...),
  also where a row widget from another ``prompt_*`` module owns them, so callers and tests reach
  every control the same way.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from foleystudio.ui import prompt_engine_pickers as pickers
from foleystudio.ui import prompt_text as text_fields
from foleystudio.ui.prompt_reference import ReferencePicker
from foleystudio.ui.prompt_seed import SeedRow, new_variations_box
from foleystudio.ui.prompt_sliders import SLIDER_SPECS, SliderField, new_slider_field
from foleystudio.ui.prompt_text import PromptEdit


class PromptPanelWidgets:
    """Builds the prompt panel's controls (mixed into ``PromptPanel``, a ``QWidget``)."""

    def _build(self) -> None:
        # Creation order is on-screen order, which is also Qt's default Tab order.
        self.hint = QLabel("Select a layer to edit what it asks the generator for.", self)
        self.hint.setObjectName("prompt_hint")
        self.hint.setWordWrap(True)
        self.form_widget = QWidget(self)
        self.form_widget.setObjectName("prompt_form")
        form = QFormLayout(self.form_widget)
        self._build_prompts(form)
        form.addRow("Reference sound", self._build_reference())
        form.addRow("", self.reference_hint)
        self._build_follow_video(form)
        self._build_sliders(form)
        form.addRow("Seed", self._build_seed())
        self._build_variations(form)
        self._build_pickers()
        self._build_footer()
        self._lay_out()

    def _build_prompts(self, form: QFormLayout) -> None:
        self.on_screen_prompt = self._prompt_edit(
            "on_screen_prompt", "What is seen making sound, e.g. 'boots on wet gravel'. Synced to the picture.")
        self.off_screen_prompt = self._prompt_edit(
            "off_screen_prompt", "Sounds not seen, described in words, e.g. 'distant church bells'.")
        self.negative_prompt = text_fields.new_negative_prompt(self)
        self.negative_prompt.editingFinished.connect(lambda: self.commit_text("negative_prompt"))
        form.addRow("On-screen prompt", self.on_screen_prompt)
        form.addRow("Off-screen prompt", self.off_screen_prompt)
        form.addRow("Negative prompt", self.negative_prompt)

    def _prompt_edit(self, name: str, tip: str) -> PromptEdit:
        edit = text_fields.new_prompt_edit(self, name, tip)
        edit.committed.connect(lambda: self.commit_text(name))
        return edit

    def _build_reference(self) -> QWidget:
        self.reference_picker = ReferencePicker(self)
        self.reference_name = self.reference_picker.name_label
        self.reference_waveform = self.reference_picker.waveform
        self.reference_choose = self.reference_picker.choose_button
        self.reference_play = self.reference_picker.play_button
        self.reference_clear = self.reference_picker.clear_button
        self.reference_choose.clicked.connect(self.choose_reference)
        self.reference_play.clicked.connect(self._play_reference)
        self.reference_clear.clicked.connect(lambda: self._edit("Clear reference sound", reference_audio=None))
        self.reference_hint = QLabel("This model was not trained with reference sounds, so it cannot use one.", self)
        self.reference_hint.setObjectName("reference_hint")
        self.reference_hint.setWordWrap(True)
        self.reference_hint.setVisible(False)
        return self.reference_picker

    def takes_reference_sounds(self) -> bool:
        return pickers.takes_reference_sounds(self.model_combo)

    def show_reference_support(self) -> None:
        """For a model never trained with a reference sound (the pipeline would refuse the request,
        `pipeline.check_prompts_trained`): no choosing one, its guidance greyed out, and a line
        saying why (its likeness too). Clear stays usable, so a reference set under another model can be removed."""
        usable = self.takes_reference_sounds()
        self.reference_choose.setEnabled(usable)
        self.reference_picker.set_accepting(usable)
        self.sliders["audio_guidance"].setEnabled(usable)
        self.sliders["reference_likeness"].setEnabled(usable)
        self.reference_hint.setVisible(not usable)

    def _build_follow_video(self, form: QFormLayout) -> None:
        self.follow_video = QCheckBox("Follow the picture", self)
        self.follow_video.setObjectName("follow_video")
        self.follow_video.setToolTip("Condition the take on the video, so sounds land on what is seen. "
                                     "Off for ambiences and off-screen sounds that need not sync.")
        self.follow_video.clicked.connect(lambda on: self._edit("Follow video" if on else "Ignore video",
                                                                follow_video=on))
        form.addRow("Video", self.follow_video)

    def _build_sliders(self, form: QFormLayout) -> None:
        self.sliders: dict[str, SliderField] = {}
        for spec in SLIDER_SPECS:
            slider = new_slider_field(spec, self)
            slider.edited.connect(lambda value, key, field=spec.field, label=spec.label: self._edit(
                label, merge_key=key, **{field: value}))
            self.sliders[spec.field] = slider
            form.addRow(spec.label, slider)

    def _build_seed(self) -> QWidget:
        self.seed_row = SeedRow(self)
        self.seed = self.seed_row.spin
        self.seed_lock = self.seed_row.lock_button
        self.seed_randomise = self.seed_row.randomise_button
        self.seed.valueChanged.connect(lambda value: self._edit("Seed", seed=int(value)))
        self.seed_lock.clicked.connect(lambda on: self._edit("Lock seed" if on else "Unlock seed", seed_locked=on))
        self.seed_randomise.clicked.connect(self.randomise_seed)
        return self.seed_row

    def _build_variations(self, form: QFormLayout) -> None:
        self.variations = new_variations_box(self)
        self.variations.valueChanged.connect(lambda value: self._edit("Variations", variations=value))
        form.addRow("Variations", self.variations)

    def _build_pickers(self) -> None:
        self.model_combo = pickers.new_model_combo(self)
        self.model_combo.currentIndexChanged.connect(lambda _index: self._announce(self.model_changed, self.model()))
        self.model_combo.currentIndexChanged.connect(lambda _index: self.show_reference_support())
        self.model_hint = QLabel("No trained model installed.", self)
        self.model_hint.setObjectName("model_hint")
        self.model_hint.setWordWrap(True)
        self.device_combo = pickers.new_device_combo(self)
        self.device_combo.currentIndexChanged.connect(lambda _index: self._announce(self.device_changed, self.device()))

    def _build_footer(self) -> None:
        self.generate_button = QPushButton("Generate", self)
        self.generate_button.setObjectName("generate")
        self.generate_button.setToolTip("Generate takes for this layer with these settings (in the background).")
        self.generate_button.clicked.connect(self.request_generation)
        self.message_label = QLabel(self)
        self.message_label.setObjectName("prompt_message")
        self.message_label.setWordWrap(True)

    def _lay_out(self) -> None:
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
