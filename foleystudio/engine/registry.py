"""Which models are installed, and finding one by name or path.

Models live in two places, each a folder of model folders:

- bundled: the repository's ``models/`` folder (beside the package), or the folder named by the
  ``FOLEYSTUDIO_MODELS_DIR`` environment variable, which packaged apps set to where they put it;
- user: ``<user data dir>/FoleyStudio/models``, where the user (or training) installs more.

A user model with the same name as a bundled one takes precedence, so a model can be updated
without reinstalling the app. Broken folders are listed as invalid with the reason, never raised
from `list_models`, so one damaged download does not hide every other model.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from foleystudio.engine.checkpoint import CARD_FILE, CONFIG_FILE, ModelError, model_name, verify_model_folder
from foleystudio.engine.request import MAX_STEPS
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

APP_NAME = "FoleyStudio"
MODELS_DIR_ENV = "FOLEYSTUDIO_MODELS_DIR"
DEFAULT_MODEL_NAME = "foley-small"
_DESCRIPTION_LIMIT = 200


class ModelSource(enum.Enum):
    BUNDLED = "bundled"
    USER = "user"
    PATH = "path"  # a folder given by path, outside both registry folders


@dataclass(frozen=True)
class ModelEntry:
    """One model folder, whether it can be used, and what to show about it."""

    name: str
    path: Path
    source: ModelSource
    description: str
    size_bytes: int
    valid: bool
    problem: str = ""  # why it cannot be used; empty when valid
    # The prompts its DiT was trained with (GeneratorConfig.trained_prompts); None = not recorded.
    trained_prompts: tuple[str, ...] | None = None
    # The sampling steps its folder recommends (config "sampler.steps"); None = not given. New layers
    # start with it: a model tuned at 16 steps should not cost 25 per take by default.
    recommended_steps: int | None = None


def bundled_models_dir() -> Path:
    """The bundled models folder: $FOLEYSTUDIO_MODELS_DIR if set, else ``models/`` beside the package."""
    override = os.environ.get(MODELS_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(__file__).resolve().parents[2] / "models"


def user_models_dir() -> Path:
    """Where the user's own models go (created by whoever installs one, not by reading)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "models"


def _roots() -> list[tuple[Path, ModelSource]]:
    return [(bundled_models_dir(), ModelSource.BUNDLED), (user_models_dir(), ModelSource.USER)]


def list_models() -> list[ModelEntry]:
    """Every model folder in the bundled and user folders, valid or not, bundled first, by name."""
    entries = []
    for root, source in _roots():
        for folder in _model_folders(root):
            entries.append(inspect_model(folder, source))
    return entries


def _model_folders(root: Path) -> list[Path]:
    try:
        children = sorted(root.iterdir())
    except OSError:
        # A registry folder that does not exist (no user models yet) or cannot be read holds none.
        return []
    # Hidden names are skipped: they are half-written (.name.xxxx.part) or retired (.old) folders.
    return [child for child in children if child.is_dir() and not child.name.startswith(".")]


def inspect_model(folder: str | Path, source: ModelSource = ModelSource.PATH) -> ModelEntry:
    """A registry entry for ``folder``, checked without loading weights; problems make it invalid."""
    folder = Path(folder)
    description, trained_prompts, steps = "", None, None
    try:
        manifest = verify_model_folder(folder)
        description = _config_description(manifest.config)
        trained_prompts = _trained_prompts(manifest.config)
        steps = _recommended_steps(manifest.config)
        problem = ""
    except ModelError as error:
        problem = str(error)
        logger.warning("model folder %s cannot be used: %s", folder, problem)
    return ModelEntry(
        name=model_name(folder),
        path=folder,
        source=source,
        description=description or _card_description(folder),
        size_bytes=_size_on_disk(folder),
        valid=not problem,
        problem=problem,
        trained_prompts=trained_prompts,
        recommended_steps=steps,
    )


def _trained_prompts(config: Mapping[str, object]) -> tuple[str, ...] | None:
    generator = config.get("generator")
    prompts = generator.get("trained_prompts") if isinstance(generator, Mapping) else None
    return tuple(str(name) for name in prompts) if isinstance(prompts, list | tuple) else None


def _recommended_steps(config: Mapping[str, object]) -> int | None:
    sampler = config.get("sampler")
    steps = sampler.get("steps") if isinstance(sampler, Mapping) else None
    valid = isinstance(steps, int) and not isinstance(steps, bool) and 1 <= steps <= MAX_STEPS
    return steps if valid else None


def _config_description(config: Mapping[str, object]) -> str:
    # Only a config that has a top-level "description" field carries one; the card is the fallback.
    description = config.get("description")
    return _shorten(description) if isinstance(description, str) else ""


def _card_description(folder: Path) -> str:
    """The model card's first line of prose (headings and blank lines skipped)."""
    try:
        text = (folder / CARD_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "---", "===", "<!--")):
            return _shorten(line)
    return ""


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DESCRIPTION_LIMIT else text[: _DESCRIPTION_LIMIT - 3] + "..."


def _size_on_disk(folder: Path) -> int:
    total = 0
    for directory, _folders, files in os.walk(folder):
        for name in files:
            try:
                total += (Path(directory) / name).stat().st_size
            except OSError:
                continue
    return total


def _usable(entry: ModelEntry) -> ModelEntry:
    if not entry.valid:
        raise ModelError(entry.problem)
    return entry


def _by_name(name: str) -> ModelEntry | None:
    # Later roots (the user's) win over earlier ones (bundled) for the same name.
    matches = [entry for entry in list_models() if entry.name == name]
    return matches[-1] if matches else None


def _looks_like_path(text: str) -> bool:
    separators = [os.sep] + ([os.altsep] if os.altsep else [])
    return any(separator in text for separator in separators) or text.startswith(("~", "."))


def resolve_model(name_or_path: str | Path) -> ModelEntry:
    """The usable model a user named: a registry name, or a path to a model folder.

    An unknown name raises `UserInputError` listing the installed models; a folder that is not a
    model, or a model that is broken, raises `ModelError` saying what is wrong.
    """
    text = str(name_or_path).strip()
    if not text:
        raise UserInputError("no model given: name an installed model or give a model folder's path")
    if isinstance(name_or_path, Path) or _looks_like_path(text):
        return _resolve_path(Path(text).expanduser())
    entry = _by_name(text)
    if entry is not None:
        return _usable(entry)
    if Path(text).is_dir():
        # A bare folder name in the current directory, e.g. `--model my-model`.
        return _resolve_path(Path(text))
    raise UserInputError(f"unknown model '{text}': {_installed_summary()}")


def _resolve_path(folder: Path) -> ModelEntry:
    if not folder.exists():
        raise ModelError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise ModelError(f"{folder}: is not a folder (a model is a folder with {CONFIG_FILE} and weights)")
    if not (folder / CONFIG_FILE).is_file():
        raise ModelError(f"{folder}: not a model folder (no {CONFIG_FILE})")
    return _usable(inspect_model(folder, _source_of(folder)))


def _source_of(folder: Path) -> ModelSource:
    parent = folder.resolve().parent
    for root, source in _roots():
        if root.exists() and parent == root.resolve():
            return source
    return ModelSource.PATH


def _installed_summary() -> str:
    entries = list_models()
    names = sorted({entry.name for entry in entries if entry.valid})
    if names:
        quoted = ", ".join(f"'{name}'" for name in names)
        return f"installed models are {quoted} (or give a model folder's path)"
    broken = sorted({entry.name for entry in entries})
    broken_text = f" (broken: {', '.join(broken)})" if broken else ""
    return f"no usable model is installed{broken_text}; looked in {bundled_models_dir()} and {user_models_dir()}"


def default_model() -> ModelEntry:
    """The model used when none is named: ``foley-small`` (a user copy wins over the bundled one)."""
    entry = _by_name(DEFAULT_MODEL_NAME)
    if entry is None:
        raise ModelError(
            f"no generation model is installed: FoleyStudio looks for a '{DEFAULT_MODEL_NAME}' model folder in "
            f"{bundled_models_dir()} or {user_models_dir()}; copy a model folder (config.json, *.safetensors, "
            f"MODEL_CARD.md) there, or pass a model folder's path (--model PATH)"
        )
    return _usable(entry)
