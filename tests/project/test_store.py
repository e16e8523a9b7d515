"""Saving and opening .foley files: round trip, errors, migrations, atomic and refused saves."""

import copy
import errno
import json
import os
from pathlib import Path

import pytest

from foleystudio.errors import OutputError, ProjectError, UserInputError
from foleystudio.project import Project, load_project, save_project
from foleystudio.project import migrations
from foleystudio.project.paths import takes_folder_for


def saved_document(tmp_path, project=None) -> tuple[Path, dict]:
    path = save_project(project or Project(), tmp_path / "Scene.foley")
    return path, json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, document) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# ---- round trip ----------------------------------------------------------------------------
def test_round_trip_keeps_every_field(tmp_path, full_project):
    path = save_project(full_project, tmp_path / "Scène 1.foley")
    loaded = load_project(path)
    assert loaded == full_project  # dataclass equality: every field, layers, takes, curves
    assert loaded.path == path and not loaded.dirty
    footsteps = loaded.layers[0]
    assert footsteps.curve == full_project.layers[0].curve
    assert footsteps.takes[0].measured_curve == full_project.layers[0].takes[0].measured_curve
    assert footsteps.takes[0].parameters == full_project.layers[0].takes[0].parameters
    assert footsteps.takes[1].measured_curve is None
    assert footsteps.selected_take.name == "take 2"
    assert loaded.layers[1].curve.times[0] == 0.5
    assert loaded.missing_media() == []


def test_saved_json_layout(tmp_path, full_project):
    path = save_project(full_project, tmp_path / "Scene.foley")
    text = path.read_text(encoding="utf-8")
    document = json.loads(text)
    assert document["schema_version"] == migrations.SCHEMA_VERSION == 2
    assert document["app_version"] == __import__("foleystudio").__version__
    assert document["frame_rate"] == "24000/1001"
    assert document["layers"][0]["role"] == "on-screen"
    assert document["layers"][0]["takes"][0]["created"] == "2025-03-01T09:30:00.250000Z"
    assert document["layers"][0]["takes"][0]["parameters"]["curve"]["$curve"]["left"][0] == -20.0
    assert "boots on gravel, 🥾" in text  # readable, not \u-escaped
    assert '"left": [-23.123456789, -70.0, ' in text  # number lists stay on one line


def test_saving_marks_the_project_clean_and_emits_saved(tmp_path):
    project = Project()
    project.new_layer("A")
    saved = []
    project.saved.connect(saved.append)
    path = save_project(project, tmp_path / "A.foley")
    assert saved == [path] and not project.dirty and project.path == path
    project.layers[0].update(steps=10)
    assert save_project(project) == path  # its own path needs no overwrite permission
    assert load_project(path).layers[0].steps == 10


def test_save_without_a_path_needs_one():
    with pytest.raises(UserInputError, match="never been saved"):
        save_project(Project())


# ---- refusing to overwrite -----------------------------------------------------------------
def test_save_as_onto_another_existing_file_needs_overwrite(tmp_path):
    other = tmp_path / "Other.foley"
    other.write_text("someone else's work", encoding="utf-8")
    project = Project()
    with pytest.raises(OutputError, match="Other.foley: a file with this name exists"):
        save_project(project, other)
    assert other.read_text(encoding="utf-8") == "someone else's work"
    save_project(project, other, overwrite=True)
    assert json.loads(other.read_text(encoding="utf-8"))["id"] == project.id


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Scene.json", "must end in .foley"),
        ("missing folder/Scene.foley", "does not exist"),
    ],
)
def test_bad_save_targets(tmp_path, name, message):
    with pytest.raises(OutputError, match=message):
        save_project(Project(), tmp_path / name)


def test_a_folder_named_like_the_project_is_refused(tmp_path):
    (tmp_path / "Scene.foley").mkdir()
    with pytest.raises(OutputError, match="a folder has that name"):
        save_project(Project(), tmp_path / "Scene.foley", overwrite=True)


# ---- atomic saves ------------------------------------------------------------------------------
def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_a_failed_save_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch, failing):
    project = Project()
    project.new_layer("Original")
    path = save_project(project, tmp_path / "Scene.foley")
    before = path.read_bytes()
    project.layers[0].update(name="Changed")

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OutputError, match="Scene.foley: could not be written \\(the disk is full\\)"):
        save_project(project)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["Scene.foley"]  # no temporary file left
    assert project.dirty  # still unsaved


def test_a_keyboard_interrupt_mid_write_also_cleans_up(tmp_path, monkeypatch):
    def interrupt(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_project(Project(), tmp_path / "Scene.foley")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_permission_denied_gives_a_clear_message(tmp_path, monkeypatch):
    real_open = os.open

    def refuse(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(OutputError, match=r"not writable \(permission denied\)"):
        save_project(Project(), tmp_path / "Scene.foley")
    monkeypatch.undo()
    assert listing(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            save_project(Project(), folder / "Scene.foley")
    finally:
        folder.chmod(0o755)


def test_saving_keeps_the_file_permissions(tmp_path):
    path = save_project(Project(), tmp_path / "Scene.foley")
    path.chmod(0o640)
    save_project(load_project(path))
    assert path.stat().st_mode & 0o777 == 0o640


# ---- opening bad files ---------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(ProjectError, match=r"Nope.foley: no such file"):
        load_project(tmp_path / "Nope.foley")


def test_truncated_json_names_the_file(tmp_path, full_project):
    path = save_project(full_project, tmp_path / "Scene.foley")
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    message = str(caught.value)
    assert str(path) in message and "not valid JSON at line" in message and "truncated" in message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"{nope", "not valid JSON at line 1, column 2"),
        (b"[1, 2, 3]", "not a FoleyStudio project (expected a JSON object, got a list)"),
        (b'"text"', "expected a JSON object, got a str"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"{}", "not a FoleyStudio project (it has no schema_version)"),
        (b'{"schema_version": "1"}', "schema_version must be a whole number"),
        (b'{"schema_version": 3}', "made by a newer FoleyStudio (schema 3, this version reads up to 2)"),
    ],
)
def test_unreadable_documents(tmp_path, content, message):
    path = tmp_path / "Bad.foley"
    path.write_bytes(content)
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_folder_is_not_a_project(tmp_path):
    (tmp_path / "Dir.foley").mkdir()
    with pytest.raises(ProjectError, match="is a folder"):
        load_project(tmp_path / "Dir.foley")


def edit(document: dict, dotted: str, value):
    """Set (or delete, with ...) a field addressed like 'layers.0.steps'."""
    *parents, last = dotted.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    else:
        target[int(last) if isinstance(target, list) else last] = value
    return document


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("layers", {"a": 1}, "layers must be a list, got an object"),
        ("layers.0", "Footsteps", "layers[0] must be an object, got text"),
        ("layers.0.steps", "ten", "layers[0].steps must be a whole number, got text 'ten'"),
        ("layers.0.steps", 12.5, "layers[0].steps must be a whole number, got a number 12.5"),
        ("layers.0.steps", ..., "layers[0].steps is missing"),
        ("layers.0.mute", "no", "layers[0].mute must be true or false"),
        ("layers.0.role", "narration", "layers[0].role 'narration' is unknown"),
        ("layers.0.variations", 9, "layers[0]: layer 'Footsteps': variations must be between 1 and 8, got 9"),
        ("layers.0.curve.left", [-23, "loud"], "layers[0].curve.left must be a list of numbers"),
        ("layers.0.curve.left", [-23], "layers[0].curve: loudness curve lengths differ"),
        ("layers.0.curve", None, "layers[0].curve must be an object, got null"),
        ("layers.0.selected_take_id", "ghost", "selected take 'ghost' is not one of its takes"),
        ("layers.0.takes.0.created", "yesterday", "layers[0].takes[0].created: not an ISO 8601 time"),
        ("layers.0.takes.0.audio.size", "big", "layers[0].takes[0].audio.size must be a whole number"),
        ("layers.0.takes.0.parameters", [], "layers[0].takes[0].parameters must be an object"),
        ("layers.0.reference_audio.absolute", 5, "layers[0].reference_audio.absolute must be text"),
        ("frame_rate", "fast", "frame_rate must be a fraction such as 24000/1001, got 'fast'"),
        ("frame_rate", "0/1", "frame rate must be above 0"),
        ("frame_rate", 24, "frame_rate must be text"),
        ("export.sample_rate", 22050, "export: export sample rate must be one of 44100, 48000"),
        ("export.stem_naming", "odd", "unknown stem naming 'odd'"),
        ("video_duration_s", -1, "video duration (s) must be between 0"),
        ("id", None, "id must be text, got null"),
    ],
)
def test_wrong_types_and_values_name_the_field(tmp_path, full_project, field, value, message):
    path = save_project(full_project, tmp_path / "Scene.foley")
    document = json.loads(path.read_text(encoding="utf-8"))
    write_json(path, edit(document, field, value))
    with pytest.raises(ProjectError) as caught:
        load_project(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_unknown_fields_are_ignored_with_a_warning(tmp_path, caplog):
    path, document = saved_document(tmp_path, _one_layer())
    document["layers"][0]["colour"] = "red"
    write_json(path, document)
    assert load_project(path).layers[0].name == "A"
    assert "ignoring unknown fields colour" in caplog.text


def _one_layer() -> Project:
    project = Project()
    project.new_layer("A")
    return project


# ---- migrations --------------------------------------------------------------------------------
def version_0_document(tmp_path) -> dict:
    """A made-up schema 0: 'tracks' instead of 'layers', the frame rate as a float and a 'title'."""
    _, current = saved_document(tmp_path, _one_layer())
    old = dict(current)
    old["schema_version"] = 0
    old["tracks"] = old.pop("layers")
    old["fps"] = 23.976
    del old["frame_rate"]
    return old


def upgrade_0_to_1(document: dict) -> dict:
    document["layers"] = document.pop("tracks")
    document["frame_rate"] = "24000/1001" if document.pop("fps") == 23.976 else "24/1"
    return document


def test_old_documents_are_upgraded_in_order(tmp_path, monkeypatch):
    calls = []

    def recorded(document):
        calls.append(document["schema_version"])
        return upgrade_0_to_1(document)

    monkeypatch.setitem(migrations.MIGRATIONS, 0, recorded)
    path = write_json(tmp_path / "Old.foley", version_0_document(tmp_path))
    project = load_project(path)
    assert calls == [0]
    assert str(project.frame_rate) == "24000/1001"
    assert [layer.name for layer in project.layers] == ["A"]
    save_project(project)
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == migrations.SCHEMA_VERSION


def test_a_schema_1_project_opens_with_no_reference_likeness_and_saves_as_schema_2(tmp_path):
    _, current = saved_document(tmp_path, _one_layer())
    old = copy.deepcopy(current)
    old["schema_version"] = 1
    for layer in old["layers"]:
        del layer["reference_likeness"]
    path = write_json(tmp_path / "One.foley", old)
    project = load_project(path)
    assert [layer.reference_likeness for layer in project.layers] == [0.0]
    project.layers[0].update(reference_likeness=0.9)
    save_project(project)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["schema_version"] == 2 and saved["layers"][0]["reference_likeness"] == 0.9
    assert load_project(path).layers[0].reference_likeness == 0.9


def test_migrations_chain_and_leave_the_input_alone(monkeypatch):
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    migrations.migration(1)(lambda d: {**d, "steps": d.get("steps", []) + ["1->2"]})
    migrations.migration(2)(lambda d: {**d, "steps": d["steps"] + ["2->3"]})
    with pytest.raises(ValueError, match="already registered"):
        migrations.migration(2)(lambda d: d)
    original = {"schema_version": 1}
    upgraded = migrations.migrate(original, "x.foley")
    assert upgraded == {"schema_version": 3, "steps": ["1->2", "2->3"]}
    assert original == {"schema_version": 1}


def test_no_migration_from_a_version_means_too_old(tmp_path):
    path = write_json(tmp_path / "Ancient.foley", version_0_document(tmp_path))
    with pytest.raises(ProjectError, match="schema 0 is too old for this FoleyStudio to read"):
        load_project(path)


def test_a_failing_migration_becomes_a_project_error(tmp_path, monkeypatch):
    def broken(document):
        return document["no such key"]

    monkeypatch.setitem(migrations.MIGRATIONS, 0, broken)
    path = write_json(tmp_path / "Old.foley", version_0_document(tmp_path))
    with pytest.raises(ProjectError, match=r"Old.foley: cannot upgrade from schema 0 to 1 \(KeyError"):
        load_project(path)


def test_the_takes_folder_is_named_after_the_project():
    assert takes_folder_for(Path("/x/Scene 12.foley")) == Path("/x/Scene 12 Takes")


def test_duplicate_ids_in_a_file_are_refused(tmp_path, full_project):
    path, document = saved_document(tmp_path, full_project)
    document["layers"][1]["id"] = document["layers"][0]["id"]
    write_json(path, document)
    with pytest.raises(ProjectError, match=f"{path.name}: two layers have the id"):
        load_project(path)
    document = json.loads(json.dumps(document))
    document["layers"][1]["id"] = "fresh"
    takes = document["layers"][0]["takes"]
    takes[1]["id"] = takes[0]["id"]
    document["layers"][0]["selected_take_id"] = takes[0]["id"]
    write_json(path, document)
    with pytest.raises(ProjectError, match=r"layers\[0\]: layer 'Footsteps': two takes have the id"):
        load_project(path)
