"""Media references: relative resolution, missing media, relinking, searching, take gathering."""

import json
import os
import shutil
from pathlib import Path

import pytest

from foleystudio.errors import MediaError, UserInputError
from foleystudio.project import MediaReference, Project, load_project, save_project
from foleystudio.project.media import relative_path

from .conftest import make_full_project, make_take, write_file


def project_with_video(folder: Path, video_name: str = "clip.mp4") -> tuple[Project, Path]:
    video = write_file(folder / "media" / video_name, 1000)
    project = Project(video=MediaReference.for_file(video))
    project.new_layer("Steps")
    return project, save_project(project, folder / "Scene.foley")


def test_for_file_records_the_fingerprint(tmp_path):
    path = write_file(tmp_path / "a b" / "Füße.wav", 123)
    reference = MediaReference.for_file(path, tmp_path)
    assert reference.relative == "a b/Füße.wav"
    assert reference.absolute == str(path)
    assert reference.size == 123 and reference.mtime == path.stat().st_mtime
    assert reference.name == "Füße.wav"
    with pytest.raises(MediaError, match="nope.wav: no such file"):
        MediaReference.for_file(tmp_path / "nope.wav")
    with pytest.raises(MediaError, match="not a file"):
        MediaReference.for_file(tmp_path)


def test_name_of_a_reference_written_on_windows():
    assert MediaReference(r"C:\Users\jd\Footage\Shot 3.mov").name == "Shot 3.mov"


def test_references_are_stored_relative_to_the_project(tmp_path):
    _, path = project_with_video(tmp_path)
    video = json.loads(path.read_text(encoding="utf-8"))["video"]
    assert video["relative"] == "media/clip.mp4"
    assert video["absolute"] == str(tmp_path / "media" / "clip.mp4")
    assert video["size"] == 1000


def test_a_moved_project_folder_still_finds_its_media(tmp_path):
    project = make_full_project(tmp_path / "job" / "material")
    save_project(project, tmp_path / "job" / "Scene 1 – Café.foley")
    shutil.move(tmp_path / "job", tmp_path / "archive 2025")
    moved = load_project(tmp_path / "archive 2025" / "Scene 1 – Café.foley")
    assert moved.missing_media() == []
    assert moved.resolve(moved.video) == tmp_path / "archive 2025" / "material" / "media" / "Szene 1 – Café.mp4"
    take = moved.layers[0].takes[0]
    assert moved.resolve(take.audio) == tmp_path / "archive 2025" / "Scene 1 – Café Takes" / "take 1.wav"


def test_a_project_file_moved_alone_finds_media_by_absolute_path(tmp_path):
    project, path = project_with_video(tmp_path / "job")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(path, elsewhere / "Scene.foley")
    loaded = load_project(elsewhere / "Scene.foley")
    assert loaded.missing_media() == []
    save_project(loaded)
    video = json.loads((elsewhere / "Scene.foley").read_text(encoding="utf-8"))["video"]
    assert video["relative"] == "../job/media/clip.mp4"


def test_missing_video_opens_is_flagged_and_survives_a_re_save(tmp_path):
    _, path = project_with_video(tmp_path)
    stored = json.loads(path.read_text(encoding="utf-8"))["video"]
    shutil.move(tmp_path / "media" / "clip.mp4", tmp_path / "clip.mp4")

    project = load_project(path)
    missing = project.missing_media()
    assert [(use.kind, use.reference.name, use.description) for use in missing] == [("video", "clip.mp4", "video clip.mp4")]
    assert project.layers[0].name == "Steps"

    save_project(project)
    assert json.loads(path.read_text(encoding="utf-8"))["video"] == stored  # nothing lost
    (tmp_path / "sub").mkdir()
    save_project(load_project(path), tmp_path / "sub" / "Copy.foley")
    copied = json.loads((tmp_path / "sub" / "Copy.foley").read_text(encoding="utf-8"))["video"]
    assert copied == {**stored, "relative": "../media/clip.mp4"}  # re-expressed, still the same place


def test_relink_fixes_every_use_and_is_an_undoable_edit(tmp_path):
    project, path = project_with_video(tmp_path)
    (tmp_path / "media" / "clip.mp4").unlink()
    project = load_project(path)
    old = project.video
    new_file = write_file(tmp_path / "new place" / "clip v2.mp4", 1200)
    changes = []
    project.changed.connect(changes.append)

    assert project.relink(old, new_file) == 1
    assert project.missing_media() == []
    assert project.dirty
    assert changes[0].changes[0].name == "video" and changes[0].changes[0].old == old
    assert project.video.size == 1200 and project.video.relative == "new place/clip v2.mp4"

    save_project(project)
    assert load_project(path).resolve(load_project(path).video) == new_file


def test_relink_reference_audio_and_takes(tmp_path):
    project = make_full_project(tmp_path / "material")
    path = save_project(project, tmp_path / "Scene.foley")
    shutil.rmtree(tmp_path / "material" / "library")
    (tmp_path / "Scene Takes" / "take 1.wav").unlink()
    project = load_project(path)
    kinds = sorted(use.kind for use in project.missing_media())
    assert kinds == ["reference audio", "take"]

    layer = project.layers[0]
    replaced = []
    layer.take_replaced.connect(replaced.append)
    new_take_file = write_file(tmp_path / "found" / "take 1.wav", 100)
    assert project.relink(layer.takes[0].audio, new_take_file) == 1
    assert replaced[0].new.audio.absolute == str(new_take_file)
    assert replaced[0].new.parameters == replaced[0].old.parameters

    reference = layer.reference_audio
    seen = []
    layer.changed.connect(seen.append)
    project.relink(reference, write_file(tmp_path / "found" / "Füße auf Kies.wav", 321))
    assert seen[0].changes[0].name == "reference_audio"
    assert project.missing_media() == []


def test_relink_errors(tmp_path):
    project, _ = project_with_video(tmp_path)
    with pytest.raises(MediaError, match="no such file"):
        project.relink(project.video, tmp_path / "nowhere.mp4")
    with pytest.raises(UserInputError, match="other.mp4: the project does not use this file"):
        project.relink(MediaReference("/x/other.mp4"), tmp_path / "media" / "clip.mp4")
    assert not project.dirty


def test_find_missing_media_by_name_then_size(tmp_path):
    project = Project()
    library = tmp_path / "library"
    refs = {
        "unique": MediaReference("/gone/unique.wav", size=10),
        "by size": MediaReference("/gone/door.wav", size=20),
        "ambiguous": MediaReference("/gone/wind.wav", size=30),
        "absent": MediaReference("/gone/absent.wav", size=40),
    }
    project.update(video=MediaReference("/gone/Clip.MOV", size=50))
    for name, ref in refs.items():
        project.new_layer(name, reference_audio=ref)
    write_file(library / "a" / "unique.wav", 999)  # name unique: taken even with another size
    write_file(library / "a" / "door.wav", 21)
    write_file(library / "b" / "door.wav", 20)
    write_file(library / "a" / "wind.wav", 30)
    write_file(library / "b" / "wind.wav", 30, b"y")
    write_file(library / "clip.mov", 50)  # case differs: still found

    found = project.find_missing_media(library)
    assert found == {
        refs["unique"]: library / "a" / "unique.wav",
        refs["by size"]: library / "b" / "door.wav",
        project.video: library / "clip.mov",
    }
    for reference, path in found.items():
        project.relink(reference, path)
    assert sorted(use.reference.name for use in project.missing_media()) == ["absent.wav", "wind.wav"]


def test_find_missing_media_needs_a_folder(tmp_path):
    with pytest.raises(UserInputError, match="not a folder to search"):
        Project().find_missing_media(tmp_path / "nope")


def test_first_save_copies_takes_into_the_takes_folder_and_save_as_makes_an_independent_copy(tmp_path):
    project = Project()
    layer = project.new_layer("Steps")
    working = project.takes_folder()
    assert working.is_relative_to(os.environ["XDG_STATE_HOME"])  # per-user, until the first save
    layer.add_take(make_take(working, "take 1", None))

    first = save_project(project, tmp_path / "Scène 1.foley")
    assert (tmp_path / "Scène 1 Takes" / "take 1.wav").is_file()
    assert project.layers[0].takes[0].audio.relative == "Scène 1 Takes/take 1.wav"
    assert project.takes_folder() == tmp_path / "Scène 1 Takes"

    second = save_project(project, tmp_path / "Scène 2.foley")
    assert (tmp_path / "Scène 2 Takes" / "take 1.wav").is_file()
    again = load_project(first)
    assert again.layers[0].takes[0].audio.relative == "Scène 1 Takes/take 1.wav"
    assert load_project(second).layers[0].takes[0].audio.relative == "Scène 2 Takes/take 1.wav"
    assert again.layers[0].takes[0].parameters == load_project(second).layers[0].takes[0].parameters


def test_gathering_never_clobbers_a_different_file_of_the_same_name(tmp_path):
    project = Project()
    layer = project.new_layer("Steps")
    layer.add_take(make_take(tmp_path / "elsewhere", "take 1", None, size=64))
    write_file(tmp_path / "Scene Takes" / "take 1.wav", 10, b"z")
    save_project(project, tmp_path / "Scene.foley")
    assert (tmp_path / "Scene Takes" / "take 1.wav").read_bytes() == b"z" * 10
    assert project.layers[0].takes[0].audio.relative == "Scene Takes/take 1 (2).wav"
    assert (tmp_path / "Scene Takes" / "take 1 (2).wav").stat().st_size == 64


def test_missing_take_file_is_kept_as_referenced(tmp_path):
    project = Project()
    project.new_layer("Steps").add_take(make_take(tmp_path / "scratch", "take 1", None))
    (tmp_path / "scratch" / "take 1.wav").unlink()
    path = save_project(project, tmp_path / "Scene.foley")
    take = load_project(path).layers[0].takes[0]
    assert take.audio.absolute == str(tmp_path / "scratch" / "take 1.wav")
    assert [use.kind for use in load_project(path).missing_media()] == ["take"]


def test_relative_path_helper():
    assert relative_path(Path("/a/b/c.wav"), Path("/a")) == "b/c.wav"
    assert relative_path(Path("/a/b/c.wav"), None) is None
