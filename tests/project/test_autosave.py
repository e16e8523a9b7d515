"""Autosave beside saved projects, recovery files for unsaved ones, restore and discard."""

import errno
import json
import os
from pathlib import Path

import pytest

from foleystudio.errors import OutputError, UserInputError
from foleystudio.project import (
    Project,
    autosave,
    discard_recovery,
    find_recovery,
    list_recoveries,
    load_project,
    restore_recovery,
    save_project,
)
from foleystudio.project.paths import recovery_folder

from .conftest import make_full_project, make_take


def set_mtime(path: Path, seconds: float) -> None:
    os.utime(path, (seconds, seconds))


def saved_project(tmp_path) -> tuple[Project, Path]:
    project = make_full_project(tmp_path / "material")
    return project, save_project(project, tmp_path / "Scene 1.foley")


def test_autosave_beside_a_saved_project_leaves_the_project_alone(tmp_path):
    project, path = saved_project(tmp_path)
    before = path.read_bytes()
    project.layers[0].update(name="Boots")
    target = autosave(project)
    assert target == tmp_path / ".Scene 1.foley.autosave"
    assert path.read_bytes() == before
    assert project.dirty  # an autosave is not a save
    assert json.loads(target.read_text(encoding="utf-8"))["layers"][0]["name"] == "Boots"
    assert json.loads(target.read_text(encoding="utf-8"))["autosaved_at"].endswith("Z")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_find_recovery_offers_only_a_newer_autosave(tmp_path):
    project, path = saved_project(tmp_path)
    assert find_recovery(path) is None
    target = autosave(project)
    set_mtime(path, 1_000_000)
    set_mtime(target, 1_000_100)
    assert find_recovery(path) == target
    set_mtime(target, 999_000)
    assert find_recovery(path) is None
    path.unlink()
    assert find_recovery(path) == target  # the project file is gone: the autosave is all there is


def test_restore_gives_the_autosaved_state_at_the_original_path_marked_dirty(tmp_path):
    project, path = saved_project(tmp_path)
    project.layers[1].update(gain_db=-12.0)
    target = autosave(project)
    restored = restore_recovery(target)
    assert restored == project
    assert restored.path == path and restored.dirty
    assert restored.missing_media() == []
    assert load_project(path).layers[1].gain_db == 0.0  # the project file still has the saved state


def test_saving_removes_the_autosave(tmp_path):
    project, path = saved_project(tmp_path)
    target = autosave(project)
    save_project(project)
    assert not target.exists()
    assert find_recovery(path) is None


def test_discard_by_project_path_or_autosave_path(tmp_path):
    project, path = saved_project(tmp_path)
    discard_recovery(autosave(project))
    assert find_recovery(path) is None and not (tmp_path / ".Scene 1.foley.autosave").exists()
    autosave(project)
    discard_recovery(path)
    assert not (tmp_path / ".Scene 1.foley.autosave").exists()
    assert path.exists()
    with pytest.raises(UserInputError, match="neither a project file nor an autosave"):
        discard_recovery(tmp_path / "notes.txt")


def test_unsaved_projects_autosave_into_the_per_user_recovery_folder(tmp_path):
    project = Project()
    project.new_layer("Steps")
    project.new_layer("Rain")
    target = autosave(project)
    assert target.parent == recovery_folder()
    assert target.is_relative_to(os.environ["XDG_STATE_HOME"])
    assert target.name == f"{project.id}.foley.autosave"

    recoveries = list_recoveries()
    assert [(r.path, r.project_id, r.layer_names, r.problem) for r in recoveries] == [
        (target, project.id, ("Steps", "Rain"), None)
    ]
    restored = restore_recovery(target)
    assert restored == project and restored.path is None and restored.dirty


def test_an_unreadable_recovery_is_listed_with_its_problem(tmp_path):
    recovery_folder().mkdir(parents=True)
    broken = recovery_folder() / "abc.foley.autosave"
    broken.write_text('{"schema_version": 1, "layers": [', encoding="utf-8")
    recovery = list_recoveries()[0]
    assert recovery.path == broken and recovery.layer_names == ()
    assert "not valid JSON" in recovery.problem


def test_discarding_an_unsaved_recovery_also_removes_its_working_takes(tmp_path):
    project = Project()
    project.new_layer("Steps").add_take(make_take(project.takes_folder(), "take 1", None))
    target = autosave(project)
    assert project.takes_folder().is_dir()
    discard_recovery(target)
    assert not target.exists() and not project.takes_folder().exists()
    assert list_recoveries() == []


def test_first_save_removes_the_unsaved_recovery(tmp_path):
    project = Project()
    project.new_layer("Steps")
    target = autosave(project)
    save_project(project, tmp_path / "Scene.foley")
    assert not target.exists()
    assert autosave(project) == tmp_path / ".Scene.foley.autosave"


def test_autosave_of_a_project_with_media_keeps_absolute_paths_when_unsaved(tmp_path):
    project = make_full_project(tmp_path / "material")
    document = json.loads(autosave(project).read_text(encoding="utf-8"))
    assert document["video"]["relative"] is None
    assert document["video"]["absolute"] == str(tmp_path / "material" / "media" / "Szene 1 – Café.mp4")


def test_a_failed_autosave_leaves_no_temporary_file(tmp_path, monkeypatch):
    project, _ = saved_project(tmp_path)

    def fail(*args):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OutputError, match="could not be written"):
        autosave(project)
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
