"""The video viewer shows the exact frame at the playhead, decoded off the GUI thread."""

from fractions import Fraction

import numpy as np
import pytest

from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.ui.session import Session
from foleystudio.ui.video_view import MISSING_TEXT, PLACEHOLDER_TEXT, VideoView
from tests.media import DEFAULT_SIZE, decode_frame_index, make_video


def image_array(image):
    """A QImage as an RGB uint8 (H, W, 3) array."""
    image = image.convertToFormat(image.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    data = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return data[:, : width * 3].reshape(height, width, 3).copy()


def video_project(path, fps=Fraction(24), seconds=2.0):
    project = Project()
    project.update(video=MediaReference.for_file(path), frame_rate=fps, video_duration_s=seconds)
    return project


@pytest.fixture
def make_view(qtbot):
    views = []

    def make(session):
        view = VideoView(session)
        qtbot.addWidget(view)
        views.append(view)
        return view

    yield make
    for view in views:
        view.close()


def test_the_shown_frame_follows_the_playhead(qtbot, tmp_path, make_view):
    fps = Fraction(24000, 1001)
    path = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=fps, gop=12)
    session = Session(video_project(path, fps))
    view = make_view(session)
    qtbot.waitUntil(lambda: view.shown_key == 0)
    assert view.message == ""
    # Forward, backwards across a keyframe, to the last frame, and mid-frame times.
    for index in (5, 30, 13, 47, 1, 24):
        time_s = float(index / fps) + 0.3 / float(fps)
        session.set_playhead(time_s)
        assert view.frame_key(time_s) == index
        qtbot.waitUntil(lambda: view.shown_key == index)  # noqa: B023 (waited on right here)
        assert decode_frame_index(image_array(view.current_image())) == index


def test_the_painted_picture_is_the_frame(qtbot, tmp_path, make_view):
    path = make_video(tmp_path / "clip.mp4", seconds=1.0)
    session = Session(video_project(path, seconds=1.0))
    view = make_view(session)
    view.resize(DEFAULT_SIZE[0] * 2, DEFAULT_SIZE[1] * 2)  # same aspect: the picture fills the widget
    session.set_playhead(11 / 24)
    qtbot.waitUntil(lambda: view.shown_key == 11)
    assert decode_frame_index(image_array(view.grab().toImage())) == 11


def test_placeholder_without_a_video(qtbot, make_view):
    view = make_view(Session(Project()))
    assert view.message == PLACEHOLDER_TEXT and view.current_image() is None


def test_a_missing_video_is_named(qtbot, tmp_path, make_view):
    path = make_video(tmp_path / "gone.mp4", seconds=0.5)
    project = video_project(path, seconds=0.5)
    path.unlink()
    view = make_view(Session(project))
    assert view.message == MISSING_TEXT.format(name="gone.mp4") == "Video file missing: gone.mp4"


def test_opening_a_video_replaces_the_placeholder(qtbot, tmp_path, make_view):
    session = Session(Project())
    view = make_view(session)
    path = make_video(tmp_path / "late.mp4", seconds=0.5)
    session.project.update(video=MediaReference.for_file(path), video_duration_s=0.5)
    qtbot.waitUntil(lambda: view.shown_key == 0)
    session.replace_project(Project())
    assert view.message == PLACEHOLDER_TEXT
