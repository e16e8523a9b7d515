"""The layers panel: layer and take edits through the real widgets, each one undoable."""

from datetime import UTC, datetime

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QToolButton

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.wav import write_wav
from foleystudio.project.document import Project
from foleystudio.project.layer import DEFAULT_STEPS, LayerRole
from foleystudio.project.media import MediaReference
from foleystudio.project.take import FrozenMapping, Take
from foleystudio.ui.layers_panel import (
    COLUMN_NAME,
    LayersPanel,
    approximate_integrated_lufs,
    take_tooltip,
)
from foleystudio.ui.session import Session

RATE = 44100


def make_take(tmp_path, name, value=0.1, **parameters):
    path = tmp_path / f"{name}.wav"
    write_wav(path, np.full((2, RATE // 4), value, dtype=np.float32), RATE, bit_depth=32)
    return Take(name=name, audio=MediaReference.for_file(path), parameters=FrozenMapping(parameters), model_id="test")


@pytest.fixture
def session(tmp_path):
    project = Project()
    project.update(video_duration_s=3.0)
    steps = project.new_layer("Steps")
    project.new_layer("Door", role=LayerRole.OFF_SCREEN)
    for index, name in enumerate(("Take 1", "Take 2", "Take 3")):
        steps.add_take(make_take(tmp_path, name, seed=40 + index, text_guidance=3.5, on_screen_prompt="boots on gravel"))
    session = Session(project)
    session.select_layer(steps.id)
    return session


@pytest.fixture
def panel(qtbot, session):
    panel = LayersPanel(session)
    qtbot.addWidget(panel)
    panel.resize(600, 500)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def names(session):
    return [layer.name for layer in session.project.layers]


def tree_names(panel):
    return [panel.tree.topLevelItem(i).text(COLUMN_NAME) for i in range(panel.tree.topLevelItemCount())]


def undo(session):
    session.undo_stack.undo()


def click_take(qtbot, panel, take_id):
    item = panel.take_item(take_id)
    qtbot.mouseClick(panel.takes_list.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.takes_list.visualItemRect(item).center())


def test_rows_show_the_layers_and_selection_follows_the_session(panel, session):
    assert tree_names(panel) == ["Steps", "Door"]
    door = session.project.layers[1]
    assert panel.row(door.id).role.currentData() is LayerRole.OFF_SCREEN
    session.select_layer(door.id)
    assert panel.tree.currentItem() is panel.row(door.id).item


def test_clicking_a_row_selects_the_layer(qtbot, panel, session):
    door = session.project.layers[1]
    rect = panel.tree.visualItemRect(panel.row(door.id).item)
    qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))
    assert session.selected_layer_id == door.id


def test_add_a_layer_of_each_role_and_undo(qtbot, panel, session):
    panel.add_role_actions[LayerRole.AMBIENCE].trigger()
    new = session.project.layers[-1]
    assert new.role is LayerRole.AMBIENCE and new.name == "Ambience 1"
    assert new.curve.end_s == pytest.approx(3.0, abs=1 / 6)
    assert session.selected_layer_id == new.id and tree_names(panel)[-1] == "Ambience 1"
    qtbot.mouseClick(panel.findChild(QToolButton, "add_layer_button"), Qt.MouseButton.LeftButton)
    assert session.project.layers[-1].role is LayerRole.ON_SCREEN
    undo(session)
    undo(session)
    assert names(session) == ["Steps", "Door"] and tree_names(panel) == ["Steps", "Door"]


def test_a_new_layer_starts_with_the_steps_the_model_recommends(panel, session):
    panel.add_role_actions[LayerRole.ON_SCREEN].trigger()
    assert session.project.layers[-1].steps == DEFAULT_STEPS  # nothing recommended: the layer default
    panel.new_layer_steps = lambda: 16
    panel.add_role_actions[LayerRole.AMBIENCE].trigger()
    assert session.project.layers[-1].steps == 16
    assert session.project.layers[0].steps == DEFAULT_STEPS  # existing layers keep theirs


def test_rename_a_layer_refuses_an_empty_name_and_undoes(panel, session):
    steps = session.project.layers[0]
    panel.row(steps.id).item.setText(COLUMN_NAME, "Footsteps")  # what the inline editor commits
    assert steps.name == "Footsteps"
    panel.row(steps.id).item.setText(COLUMN_NAME, "   ")
    assert steps.name == "Footsteps" and tree_names(panel)[0] == "Footsteps"
    assert "must not be empty" in panel.message_label.text()
    assert session.undo_stack.count() == 1
    undo(session)
    assert steps.name == "Steps" and tree_names(panel)[0] == "Steps"


def test_rename_action_edits_the_name_in_place(qtbot, panel, session):
    panel.activateWindow()
    panel.rename_action.trigger()
    qtbot.waitUntil(lambda: isinstance(QApplication.focusWidget(), QLineEdit))
    editor = QApplication.focusWidget()
    editor.selectAll()
    qtbot.keyClicks(editor, "Gravel steps")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # the delegate commits in a queued call
    qtbot.waitUntil(lambda: session.project.layers[0].name == "Gravel steps")
    assert session.undo_stack.count() == 1 and tree_names(panel)[0] == "Gravel steps"


def test_delete_and_undo_brings_the_layer_back_with_its_takes(panel, session):
    steps = session.project.layers[0]
    panel.delete_action.trigger()
    assert names(session) == ["Door"] and tree_names(panel) == ["Door"]
    assert session.selected_layer_id == session.project.layers[0].id
    undo(session)
    assert names(session) == ["Steps", "Door"] and len(session.project.layers[0].takes) == 3
    assert session.project.layers[0] is steps and tree_names(panel) == ["Steps", "Door"]


def test_duplicate_puts_a_copy_below_and_undoes(panel, session):
    steps = session.project.layers[0]
    panel.duplicate_action.trigger()
    assert names(session) == ["Steps", "Steps copy", "Door"]
    copy = session.project.layers[1]
    assert copy.id != steps.id and copy.takes == steps.takes and session.selected_layer_id == copy.id
    assert session.undo_stack.count() == 1
    undo(session)
    assert names(session) == ["Steps", "Door"] and tree_names(panel) == ["Steps", "Door"]


def test_move_up_and_down_and_undo(panel, session):
    assert not panel.move_up_action.isEnabled() and panel.move_down_action.isEnabled()
    panel.move_down_action.trigger()
    assert names(session) == ["Door", "Steps"] and tree_names(panel) == ["Door", "Steps"]
    assert panel.move_up_action.isEnabled() and not panel.move_down_action.isEnabled()
    panel.move_up_action.trigger()
    assert names(session) == ["Steps", "Door"]
    undo(session)
    assert names(session) == ["Door", "Steps"]
    undo(session)
    assert names(session) == ["Steps", "Door"]


def test_drag_and_drop_reorders_through_the_undo_stack(qtbot, panel, session):
    session.project.new_layer("Wind")
    steps = session.project.layers[0]
    panel.tree.setCurrentItem(panel.row(steps.id).item)
    target = panel.tree.visualItemRect(panel.row(session.project.layers[2].id).item)
    mime = panel.tree.model().mimeData([panel.tree.currentIndex()])
    drop_at = QPointF(target.center().x(), target.bottom() - 1)  # lower half of "Wind": after it
    # A real drag needs a platform drag loop; the drop it ends with is what the tree handles.
    event = _DropFromTree(drop_at, mime, panel.tree)
    panel.tree.dropEvent(event)
    qtbot.waitUntil(lambda: names(session) == ["Door", "Wind", "Steps"])
    assert tree_names(panel) == ["Door", "Wind", "Steps"]
    assert event.dropAction() == Qt.DropAction.IgnoreAction  # Qt must not delete the dragged row
    undo(session)
    assert names(session) == ["Steps", "Door", "Wind"]


def test_a_drop_whose_layer_went_away_before_it_landed_does_nothing(qtbot, panel, session):
    steps_id = session.project.layers[0].id
    panel._on_row_dropped(steps_id, 1)  # lands on the next turn of the event loop...
    session.project.remove_layer(steps_id)  # ...after the layer was removed
    before = session.undo_stack.count()
    qtbot.wait(20)
    assert session.undo_stack.count() == before and names(session) == ["Door"]


def test_renaming_a_take_with_no_layer_selected_is_refused_quietly(panel, session):
    session.select_layer(None)
    assert panel.rename_take("missing", "New name") is False


class _DropFromTree(QDropEvent):
    """A drop whose source() is the tree, as in an internal drag (a synthetic event has none)."""

    def __init__(self, position: QPointF, mime: QMimeData, tree) -> None:
        super().__init__(position, Qt.DropAction.MoveAction, mime, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
        self._tree = tree

    def source(self):
        return self._tree


def test_mute_solo_and_gain_edits_are_undoable(qtbot, panel, session):
    steps = session.project.layers[0]
    row = panel.row(steps.id)
    qtbot.mouseClick(row.mute, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(row.solo, Qt.MouseButton.LeftButton)
    assert steps.mute and steps.solo
    row.gain.lineEdit().selectAll()
    qtbot.keyClicks(row.gain.lineEdit(), "-6")
    assert steps.gain_db == 0.0  # not per keystroke
    qtbot.keyClick(row.gain.lineEdit(), Qt.Key.Key_Return)
    assert steps.gain_db == -6.0 and session.undo_stack.count() == 3
    undo(session)
    assert steps.gain_db == 0.0 and row.gain.value() == 0.0
    undo(session)
    assert not steps.solo and not row.solo.isChecked()
    undo(session)
    assert not steps.mute and not row.mute.isChecked()
    assert session.undo_stack.count() == 3  # refreshing the widgets pushed no edits


def test_role_change_through_the_combo_and_undo(qtbot, panel, session):
    steps = session.project.layers[0]
    combo = panel.row(steps.id).role
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert steps.role is LayerRole.OFF_SCREEN
    undo(session)
    assert steps.role is LayerRole.ON_SCREEN and combo.currentData() is LayerRole.ON_SCREEN


def test_takes_list_shows_the_selected_layers_takes(panel, session):
    door = session.project.layers[1]
    assert [panel.takes_list.item(i).text() for i in range(panel.takes_list.count())] == ["Take 1", "Take 2", "Take 3"]
    assert "Steps" in panel.takes_label.text()
    session.select_layer(door.id)
    assert panel.takes_list.count() == 0 and "Door" in panel.takes_label.text()


def test_clicking_takes_selects_them_and_ab_toggles_between_the_last_two(qtbot, panel, session):
    steps = session.project.layers[0]
    first, _second, third = steps.takes
    click_take(qtbot, panel, first.id)
    assert steps.selected_take_id == first.id
    click_take(qtbot, panel, third.id)
    assert steps.selected_take_id == third.id
    panel.ab_action.trigger()
    assert steps.selected_take_id == first.id
    panel.takes_list.setFocus()
    panel.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is panel.takes_list)
    qtbot.keyClick(panel.takes_list, Qt.Key.Key_T)
    assert steps.selected_take_id == third.id
    assert panel.takes_list.currentItem().data(Qt.ItemDataRole.UserRole) == third.id
    assert panel.take_item(third.id).font().bold() and not panel.take_item(first.id).font().bold()
    undo(session)
    assert steps.selected_take_id == first.id
    assert panel.takes_list.currentItem().data(Qt.ItemDataRole.UserRole) == first.id


def test_ab_with_no_history_steps_to_the_next_take(panel, session):
    steps = session.project.layers[0]
    panel.ab_action.trigger()
    assert steps.selected_take_id == steps.takes[0].id
    panel.ab_action.trigger()
    assert steps.selected_take_id == steps.takes[1].id


def test_rename_and_delete_a_take_then_undo(panel, session):
    steps = session.project.layers[0]
    first = steps.takes[0]
    panel.take_item(first.id).setText("Gravel A")  # what the inline editor commits
    assert steps.takes[0].name == "Gravel A" and steps.takes[0].created == first.created
    panel.take_item(first.id).setText("")
    assert steps.takes[0].name == "Gravel A" and "must not be empty" in panel.message_label.text()
    assert panel.take_item(first.id).text() == "Gravel A"
    undo(session)
    assert steps.takes[0] == first and panel.take_item(first.id).text() == "Take 1"

    panel.takes_list.setCurrentItem(panel.take_item(first.id))
    panel.delete_take_action.trigger()
    assert [take.name for take in steps.takes] == ["Take 2", "Take 3"]
    assert panel.takes_list.count() == 2
    while session.undo_stack.canUndo():
        undo(session)
    assert steps.takes[0] == first and steps.selected_take_id is None and panel.takes_list.count() == 3


def test_take_tooltip_lists_the_parameters_that_made_it(panel, session):
    take = session.project.layers[0].takes[1]
    tip = panel.take_item(take.id).toolTip()
    assert "Seed: 41" in tip and "Text guidance: 3.5" in tip and "boots on gravel" in tip
    assert "Model: test" in tip and "Created:" in tip
    assert "heard as" not in tip  # a take made without a text category head says nothing of it


def test_take_tooltip_leaves_out_guidance_that_steered_nothing(tmp_path):
    text_only = take_tooltip(make_take(tmp_path, "a", text_guidance=3.0, audio_guidance=2.5, video_guidance=2.5,
                                       follow_video=False, video="scene.mp4", reference_audio=None))
    assert "Text guidance: 3" in text_only
    assert "Reference guidance" not in text_only and "Video guidance" not in text_only
    full = take_tooltip(make_take(tmp_path, "b", audio_guidance=2.5, video_guidance=2.0, follow_video=True,
                                  video="scene.mp4", reference_audio="/sounds/boots.wav"))
    assert "Reference guidance: 2.5" in full and "Video guidance: 2" in full


def test_take_tooltip_says_what_the_model_heard_the_prompt_as(tmp_path):
    take = make_take(tmp_path, "x", on_screen_prompt="boots on gravel", heard_as="footsteps (91%)")
    lines = take_tooltip(take).splitlines()
    assert lines[1:3] == ["On-screen prompt: boots on gravel", "Prompt heard as: footsteps (91%)"]


def test_take_tooltip_says_how_many_recordings_a_likened_take_was_laid_out_from(tmp_path):
    tip = take_tooltip(make_take(tmp_path, "x", bank_reference="leather footsteps", reference_likeness=1.0,
                                 reference_recordings=4))
    assert "Reference from the model's bank: leather footsteps" in tip and "Recordings laid out: 4" in tip
    assert "Recordings laid out" not in take_tooltip(make_take(tmp_path, "y", reference_recordings=None))


def test_tooltip_shows_the_measured_integrated_loudness(tmp_path):
    curve = LoudnessCurve.uniform(np.full(12, -20.0), np.full(12, -20.0))
    take = Take(name="x", audio=MediaReference.for_file(make_take(tmp_path, "x").audio.absolute),
                measured_curve=curve, model_id="m", created=datetime(2025, 1, 1, tzinfo=UTC))
    # Two equal channels at -20 LUFS each add as powers: +3.01 dB.
    assert approximate_integrated_lufs(curve) == pytest.approx(-16.99, abs=0.01)
    assert "about -17.0 LUFS" in take_tooltip(take)
    silent = LoudnessCurve.uniform(np.full(6, -70.0), np.full(6, -70.0))
    assert "silent" in take_tooltip(Take(name="y", audio=take.audio, measured_curve=silent, model_id="m"))


def test_panel_follows_undo_and_another_project(panel, session):
    steps = session.project.layers[0]
    session.project.layers[1].update(mute=True)  # an edit from elsewhere
    assert panel.row(session.project.layers[1].id).mute.isChecked()
    steps.update(name="Feet")
    assert tree_names(panel)[0] == "Feet"
    session.replace_project(Project())
    assert panel.tree.topLevelItemCount() == 0 and panel.takes_list.count() == 0
    assert not panel.delete_action.isEnabled()
    panel.add_action.trigger()
    assert names(session) == ["On-screen 1"] and tree_names(panel) == ["On-screen 1"]
