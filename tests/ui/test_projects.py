"""Project files in the app: save/open/new with the user's answers, autosave recovery, relinking."""

from fractions import Fraction

import pytest
from PySide6.QtWidgets import QWidget

from foleystudio.project.document import Project
from foleystudio.project.store import save_project
from foleystudio.ui.projects import ProjectFiles
from foleystudio.ui.session import Session
from foleystudio.ui.settings import AppSettings
from tests.media import make_video


@pytest.fixture
def files(qtbot, tmp_path):
    window = QWidget()
    qtbot.addWidget(window)
    session = Session(Project())
    files = ProjectFiles(session, window, AppSettings(tmp_path / "settings.ini"))
    files.errors = []
    files.show_error = files.errors.append
    yield files
    files.stop()


def test_save_as_then_save_and_recent_projects(files, tmp_path):
    files.session.project.new_layer("Steps")
    files.ask_save_path = lambda: tmp_path / "scene.foley"
    assert files.save() and not files.session.project.dirty
    assert files.settings.recent_projects() == [tmp_path / "scene.foley"]
    files.session.project.new_layer("Door")
    assert files.save() and (tmp_path / "scene.foley").read_text().count('"name": "Door"') == 1


def test_unsaved_work_is_never_dropped_without_asking(files, tmp_path):
    files.session.project.new_layer("Steps")
    files.ask_discard = lambda doing: "cancel"
    assert not files.new_project()
    assert [layer.name for layer in files.session.project.layers] == ["Steps"]
    files.ask_discard = lambda doing: "discard"
    assert files.new_project() and files.session.project.layers == ()


def test_a_broken_file_keeps_the_open_project(files, tmp_path):
    files.session.project.new_layer("Keep me")
    files.ask_discard = lambda doing: "discard"
    broken = tmp_path / "broken.foley"
    broken.write_text('{"schema_version": 1, "lay')
    assert not files.open_path(broken)
    assert [layer.name for layer in files.session.project.layers] == ["Keep me"]
    assert "broken.foley" in files.errors[0]


def test_an_autosave_newer_than_the_file_is_offered_and_restored(files, tmp_path):
    project = Project()
    project.new_layer("Steps")
    path = save_project(project, tmp_path / "scene.foley")
    files.open_path(path)
    files.session.project.new_layer("Unsaved layer")
    assert files.autosave_now() is not None
    files.ask_discard = lambda doing: "discard"
    files.ask_recover = lambda autosave: True
    assert files.new_project() and files.open_path(path)
    names = [layer.name for layer in files.session.project.layers]
    assert names == ["Steps", "Unsaved layer"] and files.session.project.dirty


def test_missing_media_is_flagged_and_relinked_from_a_folder(files, tmp_path):
    video = make_video(tmp_path / "clip.mp4", seconds=1.0)
    project = Project()
    project.update(video=project.reference_to(video))
    (tmp_path / "project").mkdir()
    path = save_project(project, tmp_path / "project" / "scene.foley")
    moved = tmp_path / "moved"
    moved.mkdir()
    video.rename(moved / "clip.mp4")
    asked = []
    files.ask_relink_folder = lambda missing: asked.append(missing) or moved
    assert files.open_path(path)
    assert asked == [["video: clip.mp4"]]
    assert files.session.project.resolve(files.session.project.video).resolve() == moved / "clip.mp4"


def test_using_a_video_sets_rate_and_length_and_undoes(files, tmp_path):
    video = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=Fraction(24000, 1001))
    assert files.use_video(video)
    project = files.session.project
    assert project.frame_rate == Fraction(24000, 1001) and project.video_duration_s == pytest.approx(2.0, abs=0.05)
    files.session.undo_stack.undo()
    assert project.video is None


def test_a_text_file_is_not_a_video(files, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("hello")
    assert not files.use_video(fake)
    assert "notes.mp4" in files.errors[0] and files.session.project.video is None
