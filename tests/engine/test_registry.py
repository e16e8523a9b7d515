"""The model registry: bundled and user models, broken folders, resolving names and paths."""

import dataclasses
import os
from pathlib import Path

import pytest
from torch import nn

import foleystudio
from foleystudio.engine.checkpoint import ModelError, save_model_folder
from foleystudio.engine.registry import (
    DEFAULT_MODEL_NAME,
    MODELS_DIR_ENV,
    ModelSource,
    bundled_models_dir,
    default_model,
    list_models,
    resolve_model,
    user_models_dir,
)
from foleystudio.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    width: int
    description: str = ""


@pytest.fixture
def bundled(tmp_path, monkeypatch):
    folder = tmp_path / "bundled"
    folder.mkdir()
    monkeypatch.setenv(MODELS_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def user():
    folder = user_models_dir()
    folder.mkdir(parents=True)
    return folder


def make_model(root: Path, name: str, description: str = "", card: str = "# Card\n\nFrom the card.\n") -> Path:
    folder = root / name
    save_model_folder(folder, TinyConfig(width=4, description=description), {"dit": nn.Linear(4, 4)}, card)
    return folder


def folder_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def test_user_models_live_in_the_isolated_user_data_dir(isolated_user_dirs):
    assert user_models_dir() == isolated_user_dirs / "xdg_data_home" / "FoleyStudio" / "models"


def test_bundled_dir_is_the_repository_models_folder_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.delenv(MODELS_DIR_ENV, raising=False)
    assert bundled_models_dir() == Path(foleystudio.__file__).resolve().parents[1] / "models"
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "packaged"))
    assert bundled_models_dir() == tmp_path / "packaged"


def test_lists_bundled_then_user_models_with_details(bundled, user):
    small = make_model(bundled, "foley-small", description="Small Foley model, 10 s in real time")
    mine = make_model(user, "my-footsteps")
    (bundled / "README.md").write_text("not a model")
    entries = list_models()
    assert [(e.name, e.source, e.valid) for e in entries] == [
        ("foley-small", ModelSource.BUNDLED, True),
        ("my-footsteps", ModelSource.USER, True),
    ]
    assert entries[0].description == "Small Foley model, 10 s in real time"
    assert entries[1].description == "From the card."  # no description in the config: the card's first prose line
    assert entries[0].path == small and entries[1].path == mine
    assert entries[0].size_bytes == folder_size(small) > 0
    assert entries[0].problem == ""


def test_empty_registry_lists_nothing(bundled):
    assert list_models() == []  # and the missing user folder is not an error


def test_broken_folders_are_listed_invalid_with_the_reason(bundled, user):
    make_model(bundled, "good")
    (bundled / "no-config").mkdir()
    (bundled / "no-config" / "dit.safetensors").write_bytes(b"x")
    damaged = make_model(user, "damaged")
    weights = damaged / "dit.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    half_written = bundled / ".good.x1y2.part"
    half_written.mkdir()  # an interrupted save: hidden, never listed
    by_name = {entry.name: entry for entry in list_models()}
    assert sorted(by_name) == ["damaged", "good", "no-config"]
    assert by_name["good"].valid
    assert not by_name["no-config"].valid
    assert "not a model folder (no config.json)" in by_name["no-config"].problem
    assert not by_name["damaged"].valid
    assert "dit.safetensors is damaged" in by_name["damaged"].problem
    assert by_name["damaged"].description == "From the card."


def test_resolve_by_name(bundled, user):
    folder = make_model(bundled, "foley-small")
    entry = resolve_model("foley-small")
    assert entry.path == folder and entry.source == ModelSource.BUNDLED


def test_user_model_takes_precedence_over_bundled_one(bundled, user):
    make_model(bundled, "foley-small")
    updated = make_model(user, "foley-small", description="updated")
    assert [e.source for e in list_models()] == [ModelSource.BUNDLED, ModelSource.USER]
    assert resolve_model("foley-small").path == updated
    assert default_model().description == "updated"


def test_resolve_by_path(bundled, tmp_path):
    folder = make_model(tmp_path, "elsewhere")
    for given in (str(folder), folder):
        entry = resolve_model(given)
        assert entry.path == folder and entry.source == ModelSource.PATH and entry.valid
    inside = make_model(bundled, "inside")
    assert resolve_model(inside).source == ModelSource.BUNDLED


def test_resolve_bare_folder_name_in_the_working_directory(bundled, tmp_path, monkeypatch):
    make_model(tmp_path, "local-model")
    monkeypatch.chdir(tmp_path)
    assert resolve_model("local-model").path == Path("local-model")


def test_unknown_name_lists_the_installed_models(bundled, user):
    make_model(bundled, "foley-small")
    make_model(user, "my-footsteps")
    with pytest.raises(UserInputError, match=r"unknown model 'foley-large': installed models are 'foley-small', 'my-footsteps'"):
        resolve_model("foley-large")


def test_unknown_name_with_nothing_installed_says_where_it_looked(bundled):
    with pytest.raises(UserInputError) as raised:
        resolve_model("foley-large")
    assert "no usable model is installed" in str(raised.value)
    assert str(bundled) in str(raised.value)


def test_path_that_is_not_a_model_is_a_model_error(tmp_path, bundled):
    (tmp_path / "holiday-photos").mkdir()
    with pytest.raises(ModelError, match=r"holiday-photos: not a model folder \(no config\.json\)"):
        resolve_model(tmp_path / "holiday-photos")
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(str(tmp_path / "nowhere"))


def test_resolving_a_broken_model_explains_what_is_wrong(bundled):
    folder = make_model(bundled, "foley-small")
    os.remove(folder / "dit.safetensors")
    with pytest.raises(ModelError, match=r"dit\.safetensors is missing"):
        resolve_model("foley-small")
    with pytest.raises(ModelError, match=r"dit\.safetensors is missing"):
        default_model()


def test_default_model_is_foley_small(bundled):
    make_model(bundled, "other")
    with pytest.raises(ModelError, match=f"no generation model is installed.*'{DEFAULT_MODEL_NAME}'"):
        default_model()
    folder = make_model(bundled, DEFAULT_MODEL_NAME)
    assert default_model().path == folder
