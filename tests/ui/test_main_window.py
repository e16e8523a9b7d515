"""The main window assembled on the demo project: transport, in/out, generation, closing, drops."""

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDoubleSpinBox, QLineEdit, QPlainTextEdit

from foleystudio.demo_project import ensure_demo_project
from foleystudio.project.store import load_project
from foleystudio.ui.main_window import MainWindow
from foleystudio.ui.session import Session
from foleystudio.ui.settings import AppSettings
from tests.media import make_video


@pytest.fixture
def window(qtbot, tmp_path):
    project = load_project(ensure_demo_project(tmp_path / "demo"))
    window = MainWindow(Session(project), AppSettings(tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.errors = []
    window.files.show_error = lambda message: window.errors.append(message)
    window.files.ask_discard = lambda doing: "discard"  # no modal question when the test closes it
    window.show_error = lambda message: window.errors.append(message)
    window.show()
    yield window
    window.shutdown()


def test_it_opens_on_the_demo_with_every_panel(window):
    assert window.windowTitle() == "FoleyStudio Demo[*] — FoleyStudio"
    assert len(window.timeline._lanes) == 3
    menus = [action.text() for action in window.menuBar().actions()]
    assert menus == ["&File", "&Edit", "&Curve", "&Layer", "&Transport", "&View", "&Help"]
    assert window.timecode.text() == "00:00:00:00"


def test_a_new_layer_takes_the_steps_of_the_chosen_model(window):
    from foleystudio.engine.config import preset
    from foleystudio.project.layer import LayerRole

    window.prompt_panel.set_model("foley-small")
    assert window.prompt_panel.recommended_steps() == 16  # the bundled model's config
    assert window.layers_panel.add_layer(LayerRole.AMBIENCE).steps == 16
    window.prompt_panel.set_model("preset:tiny")
    assert window.layers_panel.add_layer(LayerRole.AMBIENCE).steps == preset("tiny").sampler.steps
    # The demo's layers were made as the bundled model recommends too.
    assert {layer.steps for layer in window.session.project.layers[:3]} == {16}


def test_frame_steps_and_in_out_points_follow_the_playhead(window, qtbot):
    window.next_frame_action.trigger()
    window.next_frame_action.trigger()
    assert window.session.playhead_s == pytest.approx(2 / 24)
    assert window.timecode.text() == "00:00:00:02"
    window.session.set_playhead(1.0)
    window.in_action.trigger()
    window.session.set_playhead(3.0)
    window.out_action.trigger()
    assert window.in_out() == (1.0, 3.0) and "In 00:00:01:00" in window.range_label.text()
    window.loop_action.trigger()
    assert window.player.loop is not None


def test_space_plays_and_pauses(window, qtbot):
    window.play_action.trigger()
    qtbot.waitUntil(lambda: window.session.playhead_s > 0.05, timeout=3000)
    window.play_action.trigger()
    assert not window.player.playing


def _generate_over(window, qtbot, layer, in_s: float, out_s: float):
    """Generate ``layer`` between in and out points as the user would; returns the new take."""
    window.session.set_playhead(in_s)
    window.in_action.trigger()
    window.session.set_playhead(out_s)
    window.out_action.trigger()
    window.session.select_layer(layer.id)
    takes = len(layer.takes)
    with qtbot.waitSignal(window.generation.worker.job_finished, timeout=60000):
        window.generate_action.trigger()
    qtbot.waitUntil(lambda: len(layer.takes) == takes + 1, timeout=5000)
    return layer.selected_take


def test_generating_over_the_in_out_range_adds_a_take(window, qtbot):
    window.prompt_panel.set_model("preset:tiny")
    layer = window.session.project.layers[0]
    layer.update(steps=2, variations=1)
    take = _generate_over(window, qtbot, layer, 2.0, 3.5)
    assert take.parameters["video_start_s"] == 2.0 and take.parameters["duration_s"] == pytest.approx(1.5)
    assert window.errors == []


def test_the_demo_footsteps_generate_with_their_bank_sound_kept(window, qtbot):
    window.prompt_panel.set_model("foley-small")
    layer = window.session.project.layers[0]
    layer.update(variations=1)
    assert layer.reference_likeness == 1.0  # the demo's layers keep their bank sounds
    parameters = _generate_over(window, qtbot, layer, 2.0, 3.5).parameters
    assert parameters["reference_likeness"] == 1.0 and parameters["bank_reference"] == "leather footsteps"
    assert window.errors == []


def test_closing_with_unsaved_work_asks_first(window):
    window.session.project.new_layer("Rain")
    window.files.ask_discard = lambda doing: "cancel"
    assert not window.close()
    window.files.ask_discard = lambda doing: "discard"
    assert window.close()


def test_dropping_a_video_uses_it(window, tmp_path):
    video = make_video(tmp_path / "other.mp4", seconds=3.0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(video))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                                              Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    project = window.session.project
    assert project.resolve(project.video).name == "other.mp4"
    assert project.video_duration_s == pytest.approx(3.0, abs=0.05)


def test_space_plays_even_from_a_focused_spin_box_but_types_in_a_prompt(window, qtbot):
    gain = window.layers_panel.findChild(QDoubleSpinBox, f"gain_{window.session.project.layers[0].id}")
    gain.setFocus()
    qtbot.waitUntil(gain.hasFocus)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert window.player.playing
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not window.player.playing
    prompt = window.prompt_panel.findChild(QPlainTextEdit, "negative_prompt") or \
        window.prompt_panel.findChild(QLineEdit, "negative_prompt")
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    qtbot.keyClicks(prompt, "no music")
    assert not window.player.playing and "no music" in (getattr(prompt, "toPlainText", None) or prompt.text)()


def test_the_curve_menu_predicts_a_curve_from_the_picture_as_one_undo_step(window):
    window.prompt_panel.set_model("preset:tiny")
    layer = window.session.project.layers[0]
    before = layer.curve
    assert window.curve_from_video()
    assert layer.curve != before and len(layer.curve) == 60
    assert layer.curve.left.min() >= -70.0 and layer.curve.left.max() <= 0.0
    window.session.undo_stack.undo()
    assert layer.curve == before
    window.reset_curve_action.trigger()
    assert np.allclose(layer.curve.left, -23.0)


def test_the_reference_play_button_auditions_the_file_and_says_why_it_is_silent(window, tmp_path):
    from tests.media import make_audio

    reference = make_audio(tmp_path / "ref.wav", seconds=1.0, rate=44100)
    window.prompt_panel.play_reference.emit(str(reference))
    audition = window.audition
    assert audition is not None and audition.transport.playing
    assert audition.transport.buffer.duration_s == pytest.approx(1.0, abs=0.01)
    assert "ref.wav" in window.statusBar().currentMessage()
    if audition.reason is not None:  # no sound card (as on CI): said, not hidden
        assert audition.reason in window.statusBar().currentMessage()
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("text")
    window.prompt_panel.play_reference.emit(str(not_audio))
    assert window.audition is None and "notes.wav" in window.errors[-1]


def test_the_chosen_model_and_device_come_back_next_time(qtbot, tmp_path):
    project = load_project(ensure_demo_project(tmp_path / "demo"))
    settings = AppSettings(tmp_path / "settings.ini")
    first = MainWindow(Session(project), settings)
    qtbot.addWidget(first)
    panel = first.prompt_panel
    assert panel.device() == "auto"
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    panel.model_combo.setCurrentIndex(panel.model_combo.findData("preset:small"))
    first.shutdown()
    second = MainWindow(Session(load_project(ensure_demo_project(tmp_path / "demo"))), AppSettings(tmp_path / "settings.ini"))
    qtbot.addWidget(second)
    assert (second.prompt_panel.device(), second.prompt_panel.model()) == ("cpu", "preset:small")
    second.shutdown()
    # A device this machine no longer has leaves the picker on auto.
    AppSettings(tmp_path / "settings.ini").set_value("generation/device", "cuda:3")
    third = MainWindow(Session(load_project(ensure_demo_project(tmp_path / "demo"))), AppSettings(tmp_path / "settings.ini"))
    qtbot.addWidget(third)
    assert third.prompt_panel.device() == "auto"
    third.shutdown()
