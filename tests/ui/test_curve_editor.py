"""The loudness-curve editor driven like a designer would: real mouse and key events, offscreen.

Positions are given in data coordinates (seconds, LUFS) and mapped to the lane's pixels with the
plot's ViewBox, so the tests do not depend on the window size. One pixel is about 0.3 LU and 0.01 s
here, hence the tolerances where a value comes from a mouse position.
"""

from fractions import Fraction

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolBar

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import loudness_curve
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.take import Take
from foleystudio.ui.commands import AddTake, LayerEdit
from foleystudio.ui.curve_editor import CurveEditor
from foleystudio.ui.session import Session
from tests.media import make_audio

LEFT, RIGHT = 0, 1
FRAMES = np.arange(60) / 6  # a 10 s project's curve frames


def v_curve(left_low=-40.0, right_low=-40.0):
    """-23 LUFS at the ends, a dip at 5 s: breakpoints at 0, 5, 59/6 s on each channel."""
    corners = [0.0, 5.0, FRAMES[-1]]
    return LoudnessCurve(FRAMES, np.interp(FRAMES, corners, [-23, left_low, -23]),
                         np.interp(FRAMES, corners, [-23, right_low, -23]))


@pytest.fixture
def setup(qtbot):
    project = Project(frame_rate=Fraction(24), video_duration_s=10.0)
    layer = project.new_layer("Steps")
    project.new_layer("Door")
    session = Session(project)
    editor = CurveEditor(session)
    qtbot.addWidget(editor)
    editor.resize(1000, 640)
    editor.show()
    qtbot.waitExposed(editor)
    return editor, session, layer


def pixel(editor, channel, time_s, lufs):
    plot = editor.plot(channel)
    return plot.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(time_s, lufs)))


def drag(editor, channel, points, modifiers=Qt.KeyboardModifier.NoModifier):
    """Press at the first (time, LUFS) point, move through the others, release at the last."""
    viewport = editor.plot(channel).viewport()
    positions = [pixel(editor, channel, t, v) for t, v in points]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifiers, positions[0])
    for position in positions[1:]:
        QTest.mouseMove(viewport, position)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifiers, positions[-1])


def click(editor, channel, time_s, lufs, modifiers=Qt.KeyboardModifier.NoModifier):
    QTest.mouseClick(editor.plot(channel).viewport(), Qt.MouseButton.LeftButton, modifiers,
                     pixel(editor, channel, time_s, lufs))


def key(editor, channel, key_code, modifiers=Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(editor.plot(channel), key_code, modifiers)


def markers_of(editor, channel):
    return next(item for item in editor.plot(channel).getPlotItem().items if isinstance(item, pg.ScatterPlotItem))


def lufs_per_pixel(editor):
    return editor.plot(LEFT).getViewBox().viewPixelSize()[1]


def test_a_new_layer_shows_two_flat_lanes_of_two_points(setup):
    editor, session, layer = setup
    for channel in (LEFT, RIGHT):
        times, values = editor.breakpoints(channel)
        assert times.tolist() == [0.0, layer.curve.times[-1]] and values.tolist() == [-23.0, -23.0]
    assert editor.tool == "select" and editor.snap_to_frames and not editor.snap_to_grid


def test_double_click_adds_a_breakpoint_snapped_to_a_frame(setup):
    editor, session, layer = setup
    QTest.mouseDClick(editor.plot(LEFT).viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      pixel(editor, LEFT, 4.01, -10.0))
    times, values = editor.breakpoints(LEFT)
    assert len(times) == 3 and editor.selected_indices(LEFT).tolist() == [1]
    assert times[1] == float(Fraction(96, 24)) and abs(values[1] + 10.0) < 2 * lufs_per_pixel(editor)
    assert layer.curve.left[24] == pytest.approx(values[1]) and layer.curve.right[24] == pytest.approx(values[1])
    assert session.undo_stack.count() == 1


def test_dragging_a_point_is_one_undo_step_that_restores_the_exact_samples(setup):
    editor, session, layer = setup
    layer.update(curve=v_curve())
    original = layer.curve
    drag(editor, LEFT, [(5.0, -40.0), (5.2, -37.0), (5.5, -33.0), (5.8, -28.0), (6.0, -25.0), (6.0, -20.0)])
    times, values = editor.breakpoints(LEFT)
    assert times[1] == 6.0 and abs(values[1] + 20.0) < 2 * lufs_per_pixel(editor)
    assert layer.curve != original and layer.curve.left[36] == pytest.approx(values[1])
    assert session.undo_stack.count() == 1
    session.undo_stack.undo()
    assert layer.curve == original and np.array_equal(layer.curve.left, original.left)
    assert editor.breakpoints(LEFT)[0].tolist() == [0.0, 5.0, FRAMES[-1]]
    session.undo_stack.redo()
    assert editor.breakpoints(LEFT)[0][1] == 6.0


def test_a_second_drag_is_a_second_undo_step(setup):
    editor, session, layer = setup
    layer.update(curve=v_curve())
    drag(editor, LEFT, [(5.0, -40.0), (5.0, -35.0), (5.0, -30.0)])
    drag(editor, LEFT, [(5.0, -30.0), (3.0, -30.0), (2.0, -30.0)])
    assert session.undo_stack.count() == 2
    assert editor.breakpoints(LEFT)[0][1] == 2.0


def test_delete_removes_selected_points_but_never_the_ends(setup):
    editor, session, layer = setup
    layer.update(curve=v_curve())
    click(editor, LEFT, 5.0, -40.0)
    assert editor.selected_indices(LEFT).tolist() == [1] and editor.selected_indices(RIGHT).tolist() == [1]
    key(editor, LEFT, Qt.Key.Key_Delete)
    assert len(editor.breakpoints(LEFT)[0]) == 2 and np.all(layer.curve.left == -23.0)
    key(editor, LEFT, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    key(editor, LEFT, Qt.Key.Key_Backspace)
    assert len(editor.breakpoints(LEFT)[0]) == 2 and session.undo_stack.count() == 1


def test_shift_click_and_rubber_band_multi_select_then_arrow_keys_offset(setup):
    editor, session, layer = setup
    corners = [0.0, 2.0, 4.0, 6.0, 8.0, FRAMES[-1]]
    levels = [-23.0, -30.0, -40.0, -30.0, -40.0, -23.0]
    layer.update(curve=LoudnessCurve(FRAMES, np.interp(FRAMES, corners, levels), np.interp(FRAMES, corners, levels)))
    click(editor, LEFT, 2.0, -30.0)
    click(editor, LEFT, 6.0, -30.0, Qt.KeyboardModifier.ShiftModifier)
    assert editor.selected_indices(LEFT).tolist() == [1, 3]
    key(editor, LEFT, Qt.Key.Key_Up)
    key(editor, LEFT, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert editor.breakpoints(LEFT)[1].tolist() == pytest.approx([-23, -29.1, -40, -29.1, -40, -23])
    assert editor.breakpoints(RIGHT)[1].tolist() == pytest.approx([-23, -29.1, -40, -29.1, -40, -23])
    assert session.undo_stack.count() == 2
    drag(editor, LEFT, [(3.0, -45.0), (5.0, -35.0), (9.0, -35.0)])  # a band around the -40 points
    assert editor.selected_indices(LEFT).tolist() == [2, 4]
    editor.scale_selection(0.0)  # both to their mean: unchanged, -40
    editor.offset_selection(-5.0)
    assert editor.breakpoints(LEFT)[1][[2, 4]].tolist() == [-45.0, -45.0]
    assert layer.curve.left[24] == -45.0 and session.undo_stack.count() == 3


def test_pencil_stroke_replaces_the_curve_under_it_only(setup):
    editor, session, layer = setup
    key(editor, LEFT, Qt.Key.Key_P)
    assert editor.tool == "pencil"
    before = layer.curve
    stroke = [(2.0 + 0.25 * i, -40.0 + 3.0 * i) for i in range(9)]  # 2 s .. 4 s, -40 .. -16 LUFS
    drag(editor, LEFT, stroke)
    inside, outside = (FRAMES > 2.05) & (FRAMES < 3.95), (FRAMES < 1.9) | (FRAMES > 4.1)
    expected = -40.0 + 12.0 * (FRAMES[inside] - 2.0)
    assert np.allclose(layer.curve.left[inside], expected, atol=3 * lufs_per_pixel(editor) + 0.2)
    assert np.array_equal(layer.curve.left[outside], before.left[outside])
    assert np.array_equal(layer.curve.right, layer.curve.left)  # linked
    assert session.undo_stack.count() == 1
    session.undo_stack.undo()
    assert layer.curve == before


def test_line_tool_draws_a_ramp_between_press_and_release(setup):
    editor, session, layer = setup
    layer.update(curve=v_curve())
    before = layer.curve
    editor.set_tool("line")
    drag(editor, LEFT, [(2.0, -60.0), (4.0, -50.0), (6.0, -30.0), (8.0, -10.0)])
    times, values = editor.breakpoints(LEFT)
    # The ramp's ends, and the old curve pinned on the frames just outside it; the dip at 5 s is gone.
    assert np.allclose(times, [0.0, 2.0 - 1 / 6, 2.0, 8.0, 8.0 + 1 / 6, FRAMES[-1]])
    ramp = values[2:4]
    between = (FRAMES >= 2.0) & (FRAMES <= 8.0)
    assert np.allclose(layer.curve.left[between], np.interp(FRAMES[between], [2, 8], ramp))
    assert abs(ramp[0] + 60) < 2 * lufs_per_pixel(editor) and abs(ramp[1] + 10) < 2 * lufs_per_pixel(editor)
    outside = (FRAMES < 2.0) | (FRAMES > 8.0)
    assert np.allclose(layer.curve.left[outside], before.left[outside], rtol=0, atol=1e-9)
    assert session.undo_stack.count() == 1


def test_snapping_to_frames_and_to_the_grid_while_moving(setup):
    editor, session, layer = setup
    layer.update(curve=v_curve())
    drag(editor, LEFT, [(5.0, -40.0), (5.5, -40.0), (6.07, -40.0)])
    moved = editor.breakpoints(LEFT)[0][1]
    assert moved == float(Fraction(round(moved * 24), 24)) and abs(moved - 6.07) < 1 / 48 + 0.02
    key(editor, LEFT, Qt.Key.Key_F)  # frames off
    key(editor, LEFT, Qt.Key.Key_G)  # 0.1 s grid on
    assert not editor.snap_to_frames and editor.snap_to_grid
    drag(editor, LEFT, [(moved, -40.0), (6.5, -40.0), (7.13, -40.0)])
    assert editor.breakpoints(LEFT)[0][1] == 7.1
    editor.set_snapping(grid=False)
    drag(editor, LEFT, [(7.1, -40.0), (7.13, -40.0)])
    free = editor.breakpoints(LEFT)[0][1]
    assert free != 7.1 and abs(free - 7.13) < 0.03


def test_copy_and_paste_a_time_range_with_keys_at_the_playhead(setup):
    editor, session, layer = setup
    corners = [0.0, 1.0, 2.0, 3.0, FRAMES[-1]]
    levels = [-23.0, -10.0, -50.0, -23.0, -23.0]
    layer.update(curve=LoudnessCurve(FRAMES, np.interp(FRAMES, corners, levels), np.interp(FRAMES, corners, levels)))
    click(editor, LEFT, 1.0, -10.0)
    click(editor, LEFT, 3.0, -23.0, Qt.KeyboardModifier.ShiftModifier)
    key(editor, LEFT, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    session.set_playhead(6.0)
    key(editor, LEFT, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    pasted, source = (FRAMES >= 6.0) & (FRAMES <= 8.0), (FRAMES >= 1.0) & (FRAMES <= 3.0)
    assert np.allclose(layer.curve.left[pasted], layer.curve.left[source])
    assert np.allclose(layer.curve.right[pasted], layer.curve.right[source])
    assert np.array_equal(layer.curve.left[FRAMES < 5.9], np.interp(FRAMES, corners, levels)[FRAMES < 5.9])
    assert session.undo_stack.count() == 1
    editor.copy_range(0.0, 2.0)
    editor.paste_at(9.0)  # runs past the end: cut at the last frame
    assert layer.curve.left[-1] == pytest.approx(np.interp(FRAMES[-1] - 9.0, corners, levels))
    assert session.undo_stack.count() == 2


def test_unlinked_lanes_edit_one_channel_and_linking_is_undoable(setup, qtbot):
    editor, session, layer = setup
    layer.update(curve=v_curve(-40.0, -30.0))
    toolbar = editor.findChild(QToolBar)
    link = next(action for action in toolbar.actions() if action.text() == "Link L/R")
    qtbot.mouseClick(toolbar.widgetForAction(link), Qt.MouseButton.LeftButton)
    assert layer.curves_linked is False and session.undo_stack.count() == 1
    before = layer.curve
    drag(editor, RIGHT, [(5.0, -30.0), (5.0, -20.0), (5.0, -15.0)])
    assert np.array_equal(layer.curve.left, before.left)  # untouched channel: bit-identical
    assert layer.curve.right[30] == pytest.approx(-15.0, abs=2 * lufs_per_pixel(editor))
    session.undo_stack.undo()
    session.undo_stack.undo()
    assert layer.curves_linked is True and layer.curve == before
    drag(editor, RIGHT, [(5.0, -30.0), (5.0, -20.0)])  # linked: the same move on both lanes
    assert layer.curve.left[30] - before.left[30] == pytest.approx(layer.curve.right[30] - before.right[30])
    assert layer.curve.left[30] > before.left[30] + 5


def test_linked_lanes_with_different_points_move_what_matches(setup):
    editor, session, layer = setup
    corners_right = [0.0, 4.0, FRAMES[-1]]
    right = np.interp(FRAMES, corners_right, [-23, -50, -23])
    layer.update(curve=LoudnessCurve(FRAMES, v_curve().left, right))
    drag(editor, LEFT, [(5.0, -40.0), (5.5, -40.0), (6.0, -40.0)])
    assert editor.breakpoints(LEFT)[0][1] == 6.0  # the right lane has no point at 5 s ...
    assert np.array_equal(layer.curve.right, right)  # ... so its own shape stays
    assert editor.selected_indices(RIGHT).size == 0


def test_undo_and_redo_refresh_the_view_and_selection_follows_the_layer(setup):
    editor, session, layer = setup
    editor.set_snapping(frames=False)
    QTest.mouseDClick(editor.plot(RIGHT).viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      pixel(editor, RIGHT, 3.33, -30.0))
    added = editor.breakpoints(RIGHT)[0]
    assert len(added) == 3 and added[1] not in FRAMES  # an off-frame time
    session.undo_stack.undo()
    assert len(editor.breakpoints(RIGHT)[0]) == 2 and editor.selected_indices(RIGHT).size == 0
    session.undo_stack.redo()
    assert np.array_equal(editor.breakpoints(RIGHT)[0], added)  # the very points, not only the samples
    door = session.project.layers[1]
    door.update(curve=v_curve(-60.0, -60.0))
    session.select_layer(door.id)
    assert editor.breakpoints(LEFT)[1].tolist() == [-23.0, -60.0, -23.0]
    session.replace_project(Project())
    assert editor.breakpoints(LEFT)[0].size == 0


def test_loading_any_curve_round_trips_and_an_edit_leaves_the_rest_identical(setup):
    editor, session, layer = setup
    rng = np.random.default_rng(7)
    walk = np.clip(np.cumsum(rng.normal(0, 1.1, 60)) - 25, -70, 0)
    curve = LoudnessCurve(FRAMES, walk, np.round(rng.uniform(-70, -5, 60), 2))
    layer.update(curve=curve)
    for channel, values in ((LEFT, curve.left), (RIGHT, curve.right)):
        times, levels = editor.breakpoints(channel)
        assert np.array_equal(np.interp(FRAMES, times, levels), values)
    layer.update(curves_linked=False)
    editor.set_selection(LEFT, [30])
    editor.offset_selection(-3.0)
    changed = np.flatnonzero(layer.curve.left != curve.left)
    assert set(changed) <= {29, 30, 31} and 30 in changed
    assert np.array_equal(layer.curve.right, curve.right)


def test_a_ten_minute_curve_loads_and_drags(setup):
    editor, session, layer = setup
    session.project.update(video_duration_s=600.0)
    rng = np.random.default_rng(1)
    curve = LoudnessCurve.uniform(rng.uniform(-60, -10, 3600), rng.uniform(-60, -10, 3600))
    layer.update(curve=curve)
    assert len(editor.breakpoints(LEFT)[0]) == 3600
    assert np.array_equal(editor.plot(LEFT).getPlotItem().listDataItems()[1].getData()[1], curve.left)
    markers = markers_of(editor, LEFT)
    assert len(markers.data) == 0  # 3600 markers in 1000 px would be a smear: the curve alone shows
    editor.plot(LEFT).setXRange(100.0, 110.0, padding=0)
    assert 55 <= len(markers.data) <= 70  # zoomed in to 10 s: the points in view get markers
    editor.plot(LEFT).setXRange(0.0, 600.0, padding=0)
    key(editor, LEFT, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    items = editor.plot(LEFT).getPlotItem().items
    ticks = next(item for item in items if isinstance(item, pg.PlotCurveItem) and item.opts["connect"] == "pairs")
    assert len(ticks.getData()[0]) == 2 * 3600  # too dense for markers: the selection shows as ticks
    key(editor, LEFT, Qt.Key.Key_Escape)
    editor.plot(LEFT).setXRange(100.0, 110.0, padding=0)
    time_s, lufs = curve.times[620], curve.left[620]
    drag(editor, LEFT, [(time_s, lufs), (time_s, lufs + 3), (time_s, lufs + 6)])
    assert layer.curve.left[620] == pytest.approx(lufs + 6, abs=2 * lufs_per_pixel(editor))
    assert session.undo_stack.count() == 1


def test_fill_reset_and_measure_from_an_audio_file(setup, tmp_path):
    editor, session, layer = setup
    session.project.update(video_duration_s=3.0)
    messages = []
    editor.status_message.connect(messages.append)
    wav = make_audio(tmp_path / "ref.wav", seconds=2.0, rate=48000, channels=2, amplitude=0.25)
    editor.fill_from_audio_file(wav)
    measured = loudness_curve(*_stereo(wav))
    assert len(layer.curve) == 18 and np.allclose(layer.curve.left[:11], measured.left[:11])
    assert np.all(layer.curve.left[12:] == -70.0) and "ref.wav" in messages[-1]
    predicted = LoudnessCurve.uniform(np.full(18, -30.0), np.full(18, 3.0))
    editor.fill_from_curve(predicted, "Predicted from video")
    assert np.all(layer.curve.right == 0.0) and session.undo_stack.undoText() == "Predicted from video"
    editor.reset_curve()
    assert np.all(layer.curve.left == -23.0) and session.undo_stack.count() == 3
    with pytest.raises(ValueError):
        editor.fill_from_audio_file(tmp_path / "missing.wav")
    assert session.undo_stack.count() == 3


def _stereo(path):
    return read_audio(path, channels=2)


def test_the_selected_takes_measured_curve_is_overlaid(setup):
    editor, session, layer = setup
    overlay = editor.plot(RIGHT).getPlotItem().listDataItems()[0]
    assert overlay.getData()[0] is None or len(overlay.getData()[0]) == 0
    measured = v_curve(-50.0, -45.0)
    take = Take(name="Take 1", audio=MediaReference("/media/take.wav"), measured_curve=measured, model_id="tiny")
    session.push(AddTake(session.project, layer.id, take))
    assert np.array_equal(overlay.getData()[1], measured.right)
    session.undo_stack.undo()
    assert overlay.getData()[0] is None or len(overlay.getData()[0]) == 0


def test_tools_and_bad_arguments(setup):
    editor, session, layer = setup
    messages = []
    editor.status_message.connect(messages.append)
    for key_code, tool in ((Qt.Key.Key_R, "line"), (Qt.Key.Key_P, "pencil"), (Qt.Key.Key_V, "select")):
        key(editor, LEFT, key_code)
        assert editor.tool == tool
    with pytest.raises(ValueError, match="unknown curve tool"):
        editor.set_tool("eraser")
    with pytest.raises(ValueError, match="channel"):
        editor.selected_indices(2)
    editor.offset_selection(1.0)
    assert messages[-1] == "No breakpoints selected" and session.undo_stack.count() == 0
    session.push(LayerEdit(session.project, layer.id, "Rename", name="Feet"))  # other fields: no reload
    assert editor.breakpoints(LEFT)[0].size == 2
