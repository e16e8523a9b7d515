"""Models on disk: a folder that describes itself, written atomically and loaded strictly.

A model folder holds

- ``config.json``: a small manifest around the model's frozen config::

      {"format": "foleystudio-model", "format_version": 1,
       "config_type": "foleystudio.engine.config.EngineConfig",
       "components": ["codec", "dit", ...], "config": {...}}

  ``config`` is `config_to_dict` of the config dataclass; ``components`` names the weight files.
- one ``<component>.safetensors`` per component (``dit``, ``codec``, ``lufs_predictor``, ...): the
  module's state dict, with metadata ``format``, ``format_version``, ``component`` (its own name, so
  swapped or renamed files are caught) and ``foleystudio_version``.
- ``MODEL_CARD.md``: how the model was trained and measured; plus any extra files (a lexicon, ...).

Loading is strict: every tensor the module has must be in the file with the same shape, and the
file may hold nothing else. Any mismatch, a missing or damaged file raises `ModelError` naming the
model, the file, the tensor and the shapes, so a wrong or corrupt model never runs half-loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import shutil
import tempfile
import types
import typing
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

import foleystudio
from foleystudio.engine.config_io import ConfigError, ConfigT, count_of, quoted_names, config_from_dict, config_to_dict
from foleystudio.errors import OutputError, UserInputError

logger = logging.getLogger(__name__)

FORMAT_NAME = "foleystudio-model"
FORMAT_VERSION = 1  # bump when a reader of the old version could not read the new folders
CONFIG_FILE = "config.json"
CARD_FILE = "MODEL_CARD.md"
WEIGHTS_SUFFIX = ".safetensors"

_COMPONENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]*$")


class ModelError(UserInputError):
    """A model folder that is missing, incomplete, damaged or does not fit the model it is loaded into."""


# ---------------------------------------------------------------------------------------------
# Reading a model folder


@dataclasses.dataclass(frozen=True)
class ModelManifest:
    """What a model folder's config.json says about it (the config itself still as a dict)."""

    folder: Path
    format_version: int
    config_type: str  # the dataclass that wrote it, for messages; not enforced (classes move)
    components: tuple[str, ...]
    config: Mapping[str, Any]

    @property
    def name(self) -> str:
        return model_name(self.folder)


def model_name(folder: str | Path) -> str:
    """A model's name: its folder's name (also for "." and relative paths)."""
    return Path(os.path.abspath(folder)).name


def component_path(folder: str | Path, component: str) -> Path:
    return Path(folder) / f"{component}{WEIGHTS_SUFFIX}"


def read_manifest(folder: str | Path) -> ModelManifest:
    """Read and check a model folder's config.json; any problem raises `ModelError`."""
    folder = Path(folder)
    if not folder.is_dir():
        reason = "is not a folder" if folder.exists() else "does not exist"
        raise ModelError(f"{folder}: {reason} (a model is a folder with {CONFIG_FILE} and weights)")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{folder}: not a model folder (no {CONFIG_FILE})")
    document = _read_json(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ModelError(f"{path}: not a FoleyStudio model configuration (no \"format\": \"{FORMAT_NAME}\")")
    version = document.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{path}: is damaged: \"format_version\" must be a positive integer")
    if version > FORMAT_VERSION:
        raise ModelError(
            f"{path}: written by a newer FoleyStudio (model format {version}; this version reads up to "
            f"{FORMAT_VERSION}): update FoleyStudio to use this model"
        )
    return ModelManifest(
        folder=folder,
        format_version=version,
        config_type=str(document.get("config_type", "")),
        components=_manifest_components(document, path),
        config=_manifest_config(document, path),
    )


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ModelError(f"{path}: cannot be read ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path}: is damaged: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"{path}: is damaged: not valid JSON ({error.msg} at line {error.lineno})") from None


def _manifest_components(document: dict[str, Any], path: Path) -> tuple[str, ...]:
    components = document.get("components")
    if (
        not isinstance(components, list)
        or not components
        or not all(isinstance(name, str) and _COMPONENT_NAME.match(name) for name in components)
    ):
        raise ModelError(f"{path}: is damaged: \"components\" must be a non-empty list of component names")
    return tuple(components)


def _manifest_config(document: dict[str, Any], path: Path) -> Mapping[str, Any]:
    config = document.get("config")
    if not isinstance(config, dict):
        raise ModelError(f"{path}: is damaged: \"config\" must be an object")
    return types.MappingProxyType(config)


def load_config(folder: str | Path, cls: type[ConfigT]) -> ConfigT:
    """The model's config, rebuilt as ``cls``; a config that does not fit raises `ModelError`."""
    manifest = read_manifest(folder)
    source = f"model '{manifest.name}': {Path(folder) / CONFIG_FILE}"
    try:
        return config_from_dict(cls, manifest.config, source=source)
    except ConfigError as error:
        raise ModelError(str(error)) from None


def verify_model_folder(folder: str | Path) -> ModelManifest:
    """Check a folder without loading weights: manifest, and each component file's header.

    Reads only the small safetensors headers, so it is cheap enough for listing many models. A
    truncated file is caught too: safetensors checks that the header's offsets cover the file.
    """
    manifest = read_manifest(folder)
    for component in manifest.components:
        with _open_weights(folder, component):
            pass
    return manifest


# ---------------------------------------------------------------------------------------------
# Weights


@contextlib.contextmanager
def _open_weights(folder: str | Path, component: str) -> typing.Iterator[Any]:
    """safe_open a component's file (on CPU, memory-mapped) after checking it is ours and whole."""
    path = component_path(folder, component)
    model = model_name(folder)
    if not path.is_file():
        raise ModelError(f"model '{model}': {path} is missing (the model folder is incomplete)")
    try:
        handle = safe_open(str(path), framework="pt", device="cpu")
    except SafetensorError as error:
        raise ModelError(f"model '{model}': {path} is damaged: {error}") from None
    except OSError as error:
        raise ModelError(f"model '{model}': {path} cannot be read ({error.strerror or error})") from None
    with handle as weights:
        _check_metadata(weights.metadata() or {}, component, model, path)
        yield weights


def _check_metadata(metadata: dict[str, str], component: str, model: str, path: Path) -> None:
    written_for = metadata.get("component")
    if metadata.get("format") != FORMAT_NAME or written_for is None:
        raise ModelError(f"model '{model}': {path} is not a FoleyStudio weights file (no component metadata)")
    if written_for != component:
        raise ModelError(
            f"model '{model}': {path} holds the '{written_for}' component, not '{component}' "
            "(was a file renamed or copied over another?)"
        )
    version = metadata.get("format_version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise ModelError(
            f"model '{model}': {path} has weights format version '{version}'; this FoleyStudio reads up to "
            f"{FORMAT_VERSION}"
        )


# safetensors' names of the non-floating dtypes, whose values would change meaning if converted.
_EXACT_DTYPES = {
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}


def load_state(
    folder: str | Path,
    name: str,
    module: nn.Module,
    device: torch.device | str,
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Load component ``name`` of the model in ``folder`` into ``module``, strictly; return it.

    The module is moved to ``device`` and, if ``dtype`` is given, its floating-point parameters and
    buffers are cast to it (integer buffers keep theirs). Every tensor is read once from the
    memory-mapped file. Missing, unexpected or differently shaped tensors raise `ModelError`
    before anything is copied, so a failed load never leaves the module half-loaded.
    """
    expected = module.state_dict()
    path = component_path(folder, name)
    with _open_weights(folder, name) as weights:
        _check_tensors(weights, expected, model_name(folder), path)
        try:
            state = {key: weights.get_tensor(key) for key in expected}
        except SafetensorError as error:
            raise ModelError(f"model '{model_name(folder)}': {path} is damaged: {error}") from None
    # Moved only once the file is known to fit; load_state_dict then copies (and casts) in place,
    # which also keeps tied parameters tied.
    if dtype is None:
        module.to(torch.device(device))
    else:
        module.to(device=torch.device(device), dtype=dtype)
    module.load_state_dict(state, strict=True)
    logger.info("loaded %s (%d tensors) onto %s", path, len(state), device)
    return module


def _check_tensors(weights: Any, expected: dict[str, torch.Tensor], model: str, path: Path) -> None:
    stored = set(weights.keys())
    missing = [key for key in expected if key not in stored]
    unexpected = sorted(stored - set(expected))
    problems = []
    if missing:
        problems.append(f"lacks {count_of(missing, 'tensor')} the model expects: {quoted_names(missing)}")
    if unexpected:
        problems.append(
            f"has {count_of(unexpected, 'tensor')} the model does not know: {quoted_names(unexpected)}"
        )
    if problems:
        raise ModelError(
            f"model '{model}': {path} {'; '.join(problems)} (the weights do not match this model's configuration)"
        )
    for key, tensor in expected.items():
        stored_slice = weights.get_slice(key)
        shape = tuple(stored_slice.get_shape())
        if shape != tuple(tensor.shape):
            raise ModelError(
                f"model '{model}': {path}: tensor '{key}' has shape {list(shape)} in the file, "
                f"but the model expects {list(tensor.shape)}"
            )
        exact = _EXACT_DTYPES.get(tensor.dtype)
        if exact is not None and stored_slice.get_dtype() != exact:
            raise ModelError(
                f"model '{model}': {path}: tensor '{key}' has dtype {stored_slice.get_dtype()} in the file, "
                f"but the model expects {exact}"
            )


# ---------------------------------------------------------------------------------------------
# Writing a model folder


def save_model_folder(
    folder: str | Path,
    config: Any,
    components: Mapping[str, nn.Module],
    card_text: str,
    extra_files: Mapping[str, bytes | str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a complete model folder atomically; return its path.

    Everything is written into a hidden temporary folder beside ``folder`` and renamed into place
    only when complete, so a crash or a full disk never leaves a half-written model under the real
    name. An existing folder is kept (`OutputError`) unless ``overwrite``; even then a folder that
    is not a model folder (no config.json) and not empty is never replaced.
    """
    folder = Path(folder)
    extra_files = dict(extra_files or {})
    manifest_text = _manifest_text(config, components)
    _check_extra_names(extra_files, components)
    _check_destination(folder, overwrite)
    temporary = _make_temporary_folder(folder)
    try:
        _write_contents(temporary, manifest_text, components, card_text, extra_files)
        _publish_folder(temporary, folder, overwrite)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, (OSError, SafetensorError)):
            raise OutputError(f"{folder}: could not be written ({_describe_write_failure(error)})") from None
        raise
    _fsync_folder(folder.parent)
    logger.info("saved model folder %s (%s)", folder, ", ".join(components))
    return folder


def _manifest_text(config: Any, components: Mapping[str, nn.Module]) -> str:
    if not components:
        raise ValueError("a model folder needs at least one component")
    for name, module in components.items():
        if not isinstance(name, str) or not _COMPONENT_NAME.match(name):
            raise ValueError(f"component name {name!r} must be letters, digits, '_' or '-'")
        if not isinstance(module, nn.Module):
            raise TypeError(f"component '{name}' must be a torch.nn.Module, not {type(module).__name__}")
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config_type": f"{type(config).__module__}.{type(config).__qualname__}",
        "components": sorted(components),
        "config": config_to_dict(config),
    }
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def _check_extra_names(extra_files: Mapping[str, bytes | str], components: Mapping[str, nn.Module]) -> None:
    reserved = {CONFIG_FILE, CARD_FILE} | {f"{name}{WEIGHTS_SUFFIX}" for name in components}
    for name, content in extra_files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts or "\\" in name:
            raise ValueError(f"extra file name {name!r} must be a relative path inside the model folder")
        if str(relative) in reserved:
            raise ValueError(f"extra file name {name!r} would replace a file the model folder format defines")
        if not isinstance(content, (bytes, str)):
            raise TypeError(f"extra file {name!r} must be bytes or str, not {type(content).__name__}")


def _check_destination(folder: Path, overwrite: bool) -> None:
    if not folder.parent.is_dir():
        raise OutputError(f"{folder.parent}: output folder does not exist")
    if not folder.exists():
        return
    if not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a model folder")
    if not overwrite:
        raise OutputError(_already_exists(folder))
    if not (folder / CONFIG_FILE).is_file() and any(folder.iterdir()):
        raise OutputError(f"{folder}: exists and is not a model folder (no {CONFIG_FILE}); refusing to replace it")


def _already_exists(folder: Path) -> str:
    return f"{folder}: already exists (FoleyStudio does not overwrite models unless asked)"


def _make_temporary_folder(folder: Path) -> Path:
    try:
        temporary = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
        # mkdtemp makes an owner-only folder; give it the permissions of any new folder.
        os.chmod(temporary, 0o777 & ~_current_umask())
    except PermissionError:
        raise OutputError(f"{folder.parent}: folder is not writable (permission denied)") from None
    except OSError as error:
        raise OutputError(f"{folder.parent}: cannot write here ({_describe_write_failure(error)})") from None
    return temporary


def _current_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _write_contents(
    temporary: Path,
    manifest_text: str,
    components: Mapping[str, nn.Module],
    card_text: str,
    extra_files: Mapping[str, bytes | str],
) -> None:
    _write_synced(temporary / CONFIG_FILE, manifest_text.encode("utf-8"))
    _write_synced(temporary / CARD_FILE, card_text.encode("utf-8"))
    for name, module in components.items():
        path = component_path(temporary, name)
        save_file(_tensors_to_save(module), str(path), metadata=_weights_metadata(name))
        _fsync_file(path)
    for name, content in extra_files.items():
        path = temporary / PurePosixPath(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_synced(path, content.encode("utf-8") if isinstance(content, str) else content)


def _weights_metadata(component: str) -> dict[str, str]:
    return {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "component": component,
        "foleystudio_version": foleystudio.__version__,
    }


def _tensors_to_save(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's state dict on the CPU, contiguous, each tensor owning its memory.

    safetensors refuses tensors that share memory (tied weights, views of one buffer); those are
    cloned, and loading copies the same values into each name again, so the tie survives.
    """
    tensors: dict[str, torch.Tensor] = {}
    seen_storages: set[int] = set()
    for key, tensor in module.state_dict().items():
        tensor = tensor.detach().to("cpu").contiguous()
        storage = tensor.untyped_storage().data_ptr()
        if storage in seen_storages or tensor.untyped_storage().nbytes() != tensor.nbytes:
            tensor = tensor.clone()
        seen_storages.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    return tensors


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as output:
        output.write(data)
        output.flush()
        os.fsync(output.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as written:
        os.fsync(written.fileno())


def _fsync_folder(folder: Path) -> None:
    # Makes the renames durable; not possible on every platform (Windows), hence best effort.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _publish_folder(temporary: Path, folder: Path, overwrite: bool) -> None:
    if not (overwrite and folder.exists()):
        try:
            # POSIX rename refuses a non-empty target, so a model that appeared meanwhile is kept.
            os.rename(temporary, folder)
        except OSError as error:
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY) or isinstance(error, FileExistsError):
                raise OutputError(_already_exists(folder)) from None
            raise
        return
    # Folders cannot be swapped atomically on every platform: move the old one aside first, and
    # put it back if the new one cannot take its place, so one complete model is always there.
    retired = folder.with_name(f".{folder.name}.{uuid.uuid4().hex[:8]}.old")
    os.rename(folder, retired)
    try:
        os.rename(temporary, folder)
    except BaseException:
        os.rename(retired, folder)
        raise
    shutil.rmtree(retired, ignore_errors=True)


_WRITE_FAILURES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
}


def _describe_write_failure(error: BaseException) -> str:
    if isinstance(error, OSError):
        return _WRITE_FAILURES.get(error.errno) or error.strerror or str(error)
    return str(error)
