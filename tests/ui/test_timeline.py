"""The timeline: ruler and thumbnails, one lane group per layer, selection, scrubbing, redraws."""

from fractions import Fraction

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.demo_project import ensure_demo_project
from foleystudio.project.layer import Layer
from foleystudio.project.store import load_project
from foleystudio.ui.commands import AddLayer, LayerEdit
from foleystudio.ui.session import Session
from foleystudio.ui.timeline import TimecodeAxis, Timeline


@pytest.fixture
def timeline(qtbot, tmp_path):
    session = Session(load_project(ensure_demo_project(tmp_path)))
    view = Timeline(session)
    qtbot.addWidget(view)
    view.resize(1000, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def widget_point(view, plot, x, y):
    scene = plot.vb.mapViewToScene(QPointF(x, y))
    return view.graphics.mapFromScene(scene)


def curve_items(plot):
    return [item for item in plot.items if isinstance(item, pg.PlotDataItem)]


def test_every_layer_has_a_waveform_and_two_loudness_lanes_and_the_ruler_thumbnails(timeline):
    layers = timeline.session.project.layers
    assert [set(timeline.lanes(layer.id)) for layer in layers] == [{"wave", "left", "right"}] * 3
    assert sum(isinstance(item, pg.ImageItem) for item in timeline.ruler.items) == 20
    wave = timeline.lanes(layers[0].id)["wave"]
    assert any(isinstance(item, pg.FillBetweenItem) for item in wave.items)
    left = timeline.lanes(layers[0].id)["left"]
    drawn, measured = curve_items(left)
    assert len(drawn.getData()[0]) == 60 and len(measured.getData()[0]) == 60


def test_lanes_follow_layers_added_and_undone(timeline):
    session = timeline.session
    session.push(AddLayer(session.project, Layer.new("Rain", duration_s=10.0)))
    assert len(timeline._lanes) == 4
    session.undo_stack.undo()
    assert len(timeline._lanes) == 3


def test_a_curve_edit_redraws_its_lane(timeline):
    session = timeline.session
    layer = session.project.layers[2]
    flat = LoudnessCurve.constant(10.0, -12.0)
    session.push(LayerEdit(session.project, layer.id, "curve", curve=flat))
    drawn = curve_items(timeline.lanes(layer.id)["right"])[0]
    assert np.allclose(drawn.getData()[1], (-12.0 + 70.0) / 70.0 * 2.0 - 1.0)


def test_clicking_a_lane_selects_its_layer_and_clicking_the_ruler_moves_the_playhead(timeline):
    session = timeline.session
    door = session.project.layers[1]
    lane = timeline.lanes(door.id)["left"]
    QTest.mouseClick(timeline.graphics.viewport(), Qt.MouseButton.LeftButton, pos=widget_point(timeline, lane, 5.0, 0.0))
    assert session.selected_layer_id == door.id
    QTest.mouseClick(timeline.graphics.viewport(), Qt.MouseButton.LeftButton,
                     pos=widget_point(timeline, timeline.ruler, 6.0, 0.5))
    assert session.playhead_s == pytest.approx(6.0, abs=0.05)
    assert timeline._playheads[0].value() == pytest.approx(session.playhead_s)


def test_dragging_the_playhead_scrubs(timeline, qtbot):
    session = timeline.session
    viewport = timeline.graphics.viewport()
    start, end = (widget_point(timeline, timeline.ruler, t, 0.5) for t in (0.0, 3.0))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start + QPoint(1, 0))
    for fraction in (0.25, 0.5, 0.75, 1.0):
        point = start + (end - start) * fraction
        QTest.mouseMove(viewport, point)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    assert session.playhead_s == pytest.approx(3.0, abs=0.05)


def test_ruler_labels_are_timecode_at_the_project_rate():
    axis = TimecodeAxis(Fraction(30000, 1001))
    assert axis.tickStrings([0.0, 60.06], 1.0, 1.0) == ["00:00:00;00", "00:01:00;02"]
