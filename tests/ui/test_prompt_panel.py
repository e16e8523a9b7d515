"""The prompt panel: the selected layer's prompts and settings, edited as one undo step per gesture."""

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from foleystudio.audio.wav import write_wav
from foleystudio.engine import registry
from foleystudio.engine.config import preset
from foleystudio.project.document import Project
from foleystudio.project.layer import DEFAULT_TEXT_GUIDANCE
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.prompt_panel import PromptPanel
from foleystudio.ui.session import Session

RATE = 44100


@pytest.fixture(autouse=True)
def no_installed_models(tmp_path, monkeypatch):
    models = tmp_path / "bundled-models"
    models.mkdir()
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(models))


@pytest.fixture
def session():
    project = Project()
    project.update(video_duration_s=3.0)
    project.new_layer("Steps")
    project.new_layer("Door", text_guidance=7.0, on_screen_prompt="door slam")
    session = Session(project)
    session.select_layer(project.layers[0].id)
    return session


@pytest.fixture
def panel(qtbot, session):
    panel = PromptPanel(session)
    qtbot.addWidget(panel)
    panel.resize(520, 1100)
    panel.show()
    qtbot.waitExposed(panel)
    panel.activateWindow()
    return panel


def steps(session):
    return session.project.layers[0]


def focus(qtbot, widget):
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget)


def handle_center(slider) -> QPoint:
    option = QStyleOptionSlider()
    option.initFrom(slider)
    option.orientation = slider.orientation()
    option.minimum, option.maximum = slider.minimum(), slider.maximum()
    option.sliderPosition = option.sliderValue = slider.value()
    option.singleStep, option.pageStep = slider.singleStep(), slider.pageStep()
    return slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                         QStyle.SubControl.SC_SliderHandle, slider).center()


def drag(qtbot, slider, dx_steps):
    start = handle_center(slider)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for dx in dx_steps:
        qtbot.mouseMove(slider, start + QPoint(dx, 0))
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=start + QPoint(dx_steps[-1], 0))


def drop(panel, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel, event)
    return event.isAccepted()


def test_no_layer_disables_the_panel_with_a_hint(qtbot):
    session = Session(Project())
    panel = PromptPanel(session)
    qtbot.addWidget(panel)
    assert not panel.hint.isHidden() and not panel.form_widget.isEnabled()
    assert not panel.generate_button.isEnabled()
    session.select_layer(session.project.new_layer("Rain").id)
    assert panel.hint.isHidden() and panel.form_widget.isEnabled() and panel.generate_button.isEnabled()


def test_prompt_edits_are_one_undo_step_each(qtbot, panel, session):
    layer = steps(session)
    focus(qtbot, panel.on_screen_prompt)
    qtbot.keyClicks(panel.on_screen_prompt, "boots on gravel")
    assert layer.on_screen_prompt == ""  # nothing per keystroke
    focus(qtbot, panel.negative_prompt)  # focus leaves: the prompt is committed
    assert layer.on_screen_prompt == "boots on gravel" and session.undo_stack.count() == 1
    qtbot.keyClicks(panel.negative_prompt, "music")
    qtbot.keyClick(panel.negative_prompt, Qt.Key.Key_Return)
    assert layer.negative_prompt == "music" and session.undo_stack.count() == 2
    focus(qtbot, panel.off_screen_prompt)
    qtbot.keyClicks(panel.off_screen_prompt, "distant dog")
    focus(qtbot, panel.on_screen_prompt)
    assert layer.off_screen_prompt == "distant dog" and session.undo_stack.count() == 3
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert layer.negative_prompt == "" and panel.negative_prompt.text() == ""
    assert panel.off_screen_prompt.toPlainText() == ""
    session.undo_stack.undo()
    assert layer.on_screen_prompt == "" and panel.on_screen_prompt.toPlainText() == ""
    assert session.undo_stack.count() == 3  # showing undone values pushed nothing


def test_typing_survives_unrelated_edits_and_is_kept_when_switching_layer(qtbot, panel, session):
    layer, door = session.project.layers
    focus(qtbot, panel.on_screen_prompt)
    qtbot.keyClicks(panel.on_screen_prompt, "shuffle")
    layer.update(gain_db=-3.0)  # another view edits the same layer
    assert panel.on_screen_prompt.toPlainText() == "shuffle"
    session.select_layer(door.id)
    assert layer.on_screen_prompt == "shuffle"
    assert panel.on_screen_prompt.toPlainText() == "door slam" and door.on_screen_prompt == "door slam"


def test_a_slider_drag_is_one_undo_step_and_the_box_follows(qtbot, panel, session):
    layer = steps(session)
    field = panel.sliders["text_guidance"]
    drag(qtbot, field.slider, [10, 20, 30, 40])
    assert layer.text_guidance > DEFAULT_TEXT_GUIDANCE
    assert field.spin.value() == pytest.approx(layer.text_guidance)
    assert field.slider.value() == round(layer.text_guidance * 10)
    assert session.undo_stack.count() == 1
    drag(qtbot, field.slider, [-10, -20])
    assert session.undo_stack.count() == 2
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert layer.text_guidance == DEFAULT_TEXT_GUIDANCE and field.spin.value() == DEFAULT_TEXT_GUIDANCE
    assert field.slider.value() == 25


def test_the_number_box_moves_the_slider_and_commits_once(qtbot, panel, session):
    layer = steps(session)
    field = panel.sliders["video_guidance"]
    line = field.spin.lineEdit()
    focus(qtbot, field.spin)
    line.selectAll()
    qtbot.keyClicks(line, "7.3")
    qtbot.keyClick(line, Qt.Key.Key_Return)
    assert layer.video_guidance == pytest.approx(7.3) and field.slider.value() == 73
    assert session.undo_stack.count() == 1
    qtbot.keyClick(field.slider, Qt.Key.Key_Right)  # keyboard steps: one undo step each
    assert layer.video_guidance == pytest.approx(7.4) and field.spin.value() == pytest.approx(7.4)
    steps_field = panel.sliders["steps"]
    steps_field.spin.setValue(50)
    assert layer.steps == 50 and steps_field.slider.value() == 50 and session.undo_stack.count() == 3


def test_seed_lock_and_randomise(qtbot, panel, session):
    layer = steps(session)
    qtbot.mouseClick(panel.seed_randomise, Qt.MouseButton.LeftButton)
    first = layer.seed
    qtbot.mouseClick(panel.seed_randomise, Qt.MouseButton.LeftButton)
    assert layer.seed != first  # 1 in 2**32 of a false failure
    assert int(panel.seed.value()) == layer.seed
    qtbot.mouseClick(panel.seed_lock, Qt.MouseButton.LeftButton)
    assert layer.seed_locked and not panel.seed_randomise.isEnabled()
    panel.randomise_seed()
    assert layer.seed != first and "locked" in panel.message_label.text()
    session.undo_stack.undo()
    assert not layer.seed_locked and not panel.seed_lock.isChecked() and panel.seed_randomise.isEnabled()
    panel.seed.setValue(2**32 - 1)  # the whole seed range fits
    assert layer.seed == 2**32 - 1


def test_variations_adherence_likeness_and_follow_video(qtbot, panel, session):
    layer = steps(session)
    panel.variations.setValue(5)
    panel.sliders["loudness_adherence"].spin.setValue(0.25)
    panel.sliders["reference_likeness"].spin.setValue(0.9)
    qtbot.mouseClick(panel.follow_video, Qt.MouseButton.LeftButton, pos=QPoint(8, panel.follow_video.height() // 2))
    assert layer.variations == 5 and layer.loudness_adherence == 0.25 and layer.follow_video is False
    assert layer.reference_likeness == 0.9
    assert session.undo_stack.count() == 4
    session.undo_stack.undo()
    assert panel.follow_video.isChecked()


def test_reference_sound_drop_play_and_clear(qtbot, panel, session, tmp_path):
    layer = steps(session)
    audio = np.zeros((2, RATE), np.float32)
    audio[:, RATE // 2:] = 0.5
    path = tmp_path / "gravel.wav"
    write_wav(path, audio, RATE, bit_depth=24)
    assert drop(panel, path)
    assert layer.reference_audio is not None and layer.reference_audio.name == "gravel.wav"
    assert panel.reference_name.text() == "gravel.wav"
    envelope = panel.reference_waveform.envelope
    assert envelope[: len(envelope) // 2 - 2].max() == 0.0
    assert envelope[len(envelope) // 2 + 2:].min() == pytest.approx(0.5, abs=1e-3)
    with qtbot.waitSignal(panel.play_reference, check_params_cb=lambda p: p == str(path)):
        qtbot.mouseClick(panel.reference_play, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.reference_clear, Qt.MouseButton.LeftButton)
    assert layer.reference_audio is None and not panel.reference_play.isEnabled()
    session.undo_stack.undo()
    assert layer.reference_audio.name == "gravel.wav" and panel.reference_play.isEnabled()


def test_a_text_file_is_refused_as_reference(panel, session, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("footsteps, then a door\n" * 20)
    drop(panel, path)
    assert steps(session).reference_audio is None and session.undo_stack.count() == 0
    assert "Not usable as a reference sound" in panel.message_label.text()
    assert "notes.txt" in panel.message_label.text()


def test_generate_emits_the_layer_id_with_typed_text_committed(qtbot, panel, session):
    layer = steps(session)
    focus(qtbot, panel.on_screen_prompt)
    qtbot.keyClicks(panel.on_screen_prompt, "creaky floor")
    with qtbot.waitSignal(panel.generate_requested, check_params_cb=lambda lid: lid == layer.id):
        panel.generate_button.click()
    assert layer.on_screen_prompt == "creaky floor"


def test_refreshes_on_undo_redo_and_selection(panel, session):
    layer, door = session.project.layers
    session.push(LayerEdit(session.project, layer.id, "Text guidance", text_guidance=11.0))
    assert panel.sliders["text_guidance"].spin.value() == 11.0
    session.undo_stack.undo()
    assert panel.sliders["text_guidance"].spin.value() == DEFAULT_TEXT_GUIDANCE
    session.select_layer(door.id)
    assert panel.sliders["text_guidance"].spin.value() == 7.0
    assert panel.on_screen_prompt.toPlainText() == "door slam"
    session.replace_project(Project())
    assert not panel.form_widget.isEnabled() and panel.on_screen_prompt.toPlainText() == ""
    assert session.undo_stack.count() == 0


def test_model_picker_says_when_no_trained_model_is_installed(panel):
    assert panel.model_combo.itemText(0) == "no trained model installed"
    assert not panel.model_hint.isHidden()
    assert panel.model() == "preset:tiny"
    assert panel.set_model("preset:small") and panel.model() == "preset:small"


def test_model_picker_lists_installed_models(qtbot, panel, monkeypatch, tmp_path):
    entry = registry.ModelEntry(name="foley-small", path=tmp_path, source=registry.ModelSource.USER,
                                description="trained", size_bytes=1, valid=True)
    broken = registry.ModelEntry(name="old", path=tmp_path, source=registry.ModelSource.USER,
                                 description="", size_bytes=1, valid=False, problem="weights missing")
    monkeypatch.setattr(registry, "list_models", lambda: [broken, entry])
    panel.model_combo.setCurrentIndex(-1)
    panel.refresh_models()
    assert panel.model() == "foley-small" and panel.model_hint.isHidden()
    assert not panel.set_model("old")
    with qtbot.waitSignal(panel.model_changed, check_params_cb=lambda name: name == "preset:tiny"):
        panel.model_combo.setCurrentIndex(panel.model_combo.findData("preset:tiny"))


def test_a_model_never_trained_with_reference_sounds_greys_them_out(qtbot, panel, session, monkeypatch, tmp_path):
    taught = registry.ModelEntry(name="foley-small", path=tmp_path, source=registry.ModelSource.USER,
                                 description="trained", size_bytes=1, valid=True, trained_prompts=("video", "text"))
    monkeypatch.setattr(registry, "list_models", lambda: [taught])
    panel.model_combo.setCurrentIndex(-1)
    panel.refresh_models()
    assert panel.model() == "foley-small"
    assert not panel.reference_choose.isEnabled() and not panel.sliders["audio_guidance"].isEnabled()
    assert not panel.sliders["reference_likeness"].isEnabled()
    assert not panel.reference_hint.isHidden() and "not trained with reference sounds" in panel.reference_hint.text()
    assert "drop" not in panel.reference_name.text()  # the empty picker no longer invites a drop
    assert panel.on_screen_prompt.isEnabled()  # only the reference is greyed out
    path = tmp_path / "gravel.wav"
    write_wav(path, np.full((2, RATE), 0.1, np.float32), RATE, bit_depth=24)
    assert not drop(panel, path) and steps(session).reference_audio is None  # nor can one be dropped
    panel.set_model("preset:tiny")  # presets record nothing: no check
    assert panel.reference_choose.isEnabled() and panel.sliders["audio_guidance"].isEnabled()
    assert panel.sliders["reference_likeness"].isEnabled()
    assert panel.reference_hint.isHidden() and "drop an audio file" in panel.reference_name.text()
    assert drop(panel, path) and steps(session).reference_audio is not None
    panel.set_model("foley-small")
    assert panel.reference_name.text() == "gravel.wav"  # a set reference keeps its name
    # A reference set under another model can still be removed here.
    assert not panel.reference_choose.isEnabled() and panel.reference_clear.isEnabled()
    qtbot.mouseClick(panel.reference_clear, Qt.MouseButton.LeftButton)
    assert steps(session).reference_audio is None


def test_installed_model_entries_carry_the_prompts_their_dit_was_trained_with():
    from pathlib import Path

    bundled = registry.inspect_model(Path(__file__).resolve().parents[2] / "models" / "foley-small")
    assert bundled.valid and bundled.trained_prompts == ("video", "text", "audio")


def test_the_picker_says_how_many_steps_the_chosen_model_recommends(panel, monkeypatch, tmp_path):
    tuned = registry.ModelEntry(name="foley-small", path=tmp_path, source=registry.ModelSource.USER,
                                description="trained", size_bytes=1, valid=True, recommended_steps=16)
    silent = registry.ModelEntry(name="mine", path=tmp_path, source=registry.ModelSource.USER,
                                 description="trained", size_bytes=1, valid=True)
    monkeypatch.setattr(registry, "list_models", lambda: [tuned, silent])
    panel.model_combo.setCurrentIndex(-1)
    panel.refresh_models()
    assert panel.model() == "foley-small" and panel.recommended_steps() == 16
    panel.set_model("mine")
    assert panel.recommended_steps() is None  # a folder that says nothing: new layers keep the default
    panel.set_model("preset:tiny")
    assert panel.recommended_steps() == preset("tiny").sampler.steps


def test_installed_model_entries_read_the_steps_their_config_recommends(tmp_path):
    import json
    import shutil
    from pathlib import Path

    bundled = Path(__file__).resolve().parents[2] / "models" / "foley-small"
    assert registry.inspect_model(bundled).recommended_steps == 16
    copy = tmp_path / "copy"
    shutil.copytree(bundled, copy)
    document = json.loads((copy / "config.json").read_text())
    for steps, expected in ((40, 40), (0, None), (True, None), ("16", None), (10**6, None)):
        document["config"]["sampler"]["steps"] = steps
        (copy / "config.json").write_text(json.dumps(document))
        assert registry.inspect_model(copy).recommended_steps == expected


def test_device_picker_lists_auto_and_the_cpu(qtbot, panel):
    assert panel.device() == "auto" and panel.device_combo.itemText(0).startswith("auto (")
    assert panel.device_combo.findData("cpu") > 0
    with qtbot.waitSignal(panel.device_changed, check_params_cb=lambda name: name == "cpu"):
        panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    assert panel.device() == "cpu"
