"""The session: one open project, undoable edits, selection and playhead signals."""

from foleystudio.project.document import Project
from foleystudio.project.layer import Layer
from foleystudio.ui.commands import AddLayer, LayerEdit, MoveLayer, RemoveLayer
from foleystudio.ui.session import Session


def make_session(qtbot, layers=("Steps", "Door")):
    project = Project()
    for name in layers:
        project.new_layer(name)
    return Session(project)


def test_edits_are_undoable_and_a_drag_is_one_step(qtbot):
    session = make_session(qtbot)
    layer = session.project.layers[0]
    for value in (1.0, 2.0, 3.0):
        session.push(LayerEdit(session.project, layer.id, "Text guidance", merge_key="drag", text_guidance=value))
    assert layer.text_guidance == 3.0 and session.undo_stack.count() == 1
    session.undo_stack.undo()
    assert layer.text_guidance == 2.5
    session.undo_stack.redo()
    assert layer.text_guidance == 3.0


def test_layer_commands_undo_exactly(qtbot):
    session = make_session(qtbot)
    project = session.project
    names = lambda: [layer.name for layer in project.layers]  # noqa: E731
    session.push(AddLayer(project, Layer.new("Wind", duration_s=project.video_duration_s)))
    session.push(MoveLayer(project, project.layers[2].id, 0))
    session.push(RemoveLayer(project, project.layers[1].id))
    assert names() == ["Wind", "Door"]
    for _ in range(3):
        session.undo_stack.undo()
    assert names() == ["Steps", "Door"]


def test_signals_follow_the_document_and_survive_opening_another(qtbot):
    session = make_session(qtbot)
    with qtbot.waitSignal(session.edited):
        session.push(LayerEdit(session.project, session.project.layers[0].id, "Rename", name="Feet"))
    with qtbot.waitSignal(session.project_replaced):
        session.replace_project(Project())
    assert session.undo_stack.count() == 0 and session.selected_layer() is None
    with qtbot.waitSignal(session.dirty_changed, check_params_cb=lambda dirty: dirty):
        session.project.new_layer("Rain")


def test_removing_the_selected_layer_moves_the_selection(qtbot):
    session = make_session(qtbot)
    first, second = session.project.layers
    session.select_layer(first.id)
    with qtbot.waitSignal(session.selection_changed, check_params_cb=lambda layer_id: layer_id == second.id):
        session.push(RemoveLayer(session.project, first.id))


def test_playhead_is_clamped_to_the_project(qtbot):
    session = make_session(qtbot)
    session.set_playhead(-3)
    assert session.playhead_s == 0.0
    session.set_playhead(1e9)
    assert session.playhead_s == session.project.video_duration_s


def test_a_drag_that_ends_where_it_started_leaves_no_undo_step(qtbot):
    session = make_session(qtbot)
    layer = session.project.layers[0]
    for value in (3.0, 4.0, 2.5):
        session.push(LayerEdit(session.project, layer.id, "Text guidance", merge_key="drag", text_guidance=value))
    assert layer.text_guidance == 2.5 and session.undo_stack.count() == 0
