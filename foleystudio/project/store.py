"""Saving and opening ``.foley`` project files.

A project file is a JSON document (``serialize``) written atomically (``foleystudio.atomic``: a
temporary file in the same folder, fsynced, then renamed over the old one). Take audio lives
in ``<stem> Takes/`` beside it: on save, takes whose audio is elsewhere (a never-saved project's
working folder, or the takes folder of the project this one was saved from) are copied in, so each
project file owns its takes and "Save As" gives an independent project. Video and reference audio
are the user's library media and are never copied, only referred to.

Saving onto an existing file other than the project's own needs ``overwrite=True``. A successful
save removes the project's autosaves. Opening never fails because media is missing; see
``Project.missing_media``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from pathlib import Path

from foleystudio.atomic import atomic_output
from foleystudio.errors import OutputError, ProjectError, UserInputError
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.migrations import migrate
from foleystudio.project.paths import PROJECT_SUFFIX, autosave_path_for, recovery_path_for, takes_folder_for
from foleystudio.project.serialize import document_to_project, project_to_document

logger = logging.getLogger(__name__)


# ---- opening ------------------------------------------------------------------------------------
def load_project(path: str | Path) -> Project:
    """Open a project file; ProjectError says which file and what is wrong with it."""
    path = Path(os.path.abspath(path))
    document = migrate(read_document(path), str(path))
    project = document_to_project(document, str(path), path=path)
    missing = project.missing_media()
    if missing:
        logger.warning("%s: %d media files are missing", path, len(missing))
    return project


def read_document(path: Path) -> dict:
    """The decoded JSON object in ``path`` (no schema checks yet)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ProjectError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ProjectError(f"{path}: is a folder, not a project file") from None
    except PermissionError:
        raise ProjectError(f"{path}: cannot be read (permission denied)") from None
    except OSError as error:
        raise ProjectError(f"{path}: cannot be read ({error.strerror or error})") from None
    return parse_document(data, str(path))


def parse_document(data: bytes, source: str) -> dict:
    if not data.strip():
        raise ProjectError(f"{source}: the file is empty (it may have been truncated)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ProjectError(f"{source}: not a FoleyStudio project (not UTF-8 text)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProjectError(
            f"{source}: not valid JSON at line {error.lineno}, column {error.colno} ({error.msg}); "
            "the file may be truncated or damaged"
        ) from None
    except RecursionError:
        raise ProjectError(f"{source}: not a FoleyStudio project (JSON nested too deeply)") from None
    if not isinstance(document, dict):
        kind = type(document).__name__.replace("dict", "object")
        raise ProjectError(f"{source}: not a FoleyStudio project (expected a JSON object, got a {kind})")
    return document


# ---- saving -------------------------------------------------------------------------------------
def save_project(project: Project, path: str | Path | None = None, *, overwrite: bool = False) -> Path:
    """Write ``project`` to ``path`` (default: where it was last saved); returns the path.

    Raises OutputError when ``path`` is another existing file and ``overwrite`` is false, when
    the folder is missing or not writable, or when the disk is full; the previous file is then
    intact.
    """
    target = _target_path(project, path, overwrite)
    old_folder, new_folder = project.folder, target.parent
    mapping = _gather_takes(project, old_folder, target)
    for use in project.media_uses():
        if use.reference not in mapping:
            mapping[use.reference] = use.reference.rebased(old_folder, new_folder)
    document = project_to_document(project, lambda reference: mapping[reference])
    write_document(target, document)
    project.replace_references_quietly(mapping)
    _remove_autosaves(project, target)
    project.mark_saved(target)
    logger.info("saved %s", target)
    return target


def write_document(path: Path, document: dict) -> None:
    """Write ``document`` to ``path`` atomically (see `foleystudio.atomic`).

    On failure the previous file is intact, no temporary file is left, and OutputError says why.
    """
    with atomic_output(path, overwrite=True) as temporary:
        temporary.write_bytes(document_text(document).encode("utf-8"))


def document_text(document: dict) -> str:
    """Indented JSON, except that lists of numbers (curves) stay on one line each."""
    marker = f"numbers-{secrets.token_hex(8)}-"
    lists: list[str] = []

    def inline_number_lists(value):
        if isinstance(value, dict):
            return {key: inline_number_lists(item) for key, item in value.items()}
        if isinstance(value, list):
            if value and all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
                lists.append(json.dumps(value, allow_nan=False))
                return f"{marker}{len(lists) - 1}"
            return [inline_number_lists(item) for item in value]
        return value

    try:
        text = json.dumps(inline_number_lists(document), indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as error:  # a NaN slipped past validation: refuse rather than write bad JSON
        raise UserInputError(f"the project holds a value JSON cannot store ({error})") from None
    text = re.sub(f'"{marker}(\\d+)"', lambda match: lists[int(match.group(1))], text)
    return text + "\n"


def _target_path(project: Project, path, overwrite: bool) -> Path:
    if path is None:
        if project.path is None:
            raise UserInputError("this project has never been saved: choose where to save it")
        path = project.path
    target = Path(os.path.abspath(path))
    if target.suffix.lower() != PROJECT_SUFFIX:
        raise OutputError(f"{target}: a project file name must end in {PROJECT_SUFFIX}")
    if not target.parent.is_dir():
        raise OutputError(f"{target}: cannot save, the folder {target.parent} does not exist")
    if target.is_dir():
        raise OutputError(f"{target}: cannot save, a folder has that name")
    if target.exists() and not overwrite and not _is_projects_own_file(project, target):
        raise OutputError(f"{target}: a file with this name exists; choose another name or allow overwriting it")
    return target


def _is_projects_own_file(project: Project, target: Path) -> bool:
    if project.path is None:
        return False
    try:
        return os.path.samefile(project.path, target)
    except OSError:
        return False


def _gather_takes(project: Project, old_folder: Path | None, target: Path) -> dict[MediaReference, MediaReference]:
    """Copy take audio that lives outside ``target``'s takes folder into it."""
    takes_folder = takes_folder_for(target)
    mapping: dict[MediaReference, MediaReference] = {}
    for layer in project.layers:
        for take in layer.takes:
            if take.audio in mapping:
                continue
            source = take.audio.resolve(old_folder)
            if source is None or _is_inside(source, takes_folder):
                continue  # missing files are kept as referenced; files already home stay
            copied = _copy_into(source, takes_folder)
            mapping[take.audio] = MediaReference.for_file(copied, target.parent)
    return mapping


def _is_inside(path: Path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _copy_into(source: Path, folder: Path) -> Path:
    destination = _free_name(folder, source)
    if destination.exists():
        return destination  # copied by an earlier save
    try:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
    except OSError as error:
        _remove_partial(destination)
        raise OutputError(
            f"{destination}: cannot copy take audio into the takes folder ({error.strerror or error})"
        ) from None
    logger.info("copied take %s into %s", source, folder)
    return destination


def _remove_partial(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        logger.warning("could not remove partial copy %s: %s", path, error)


def _free_name(folder: Path, source: Path) -> Path:
    """``folder/<name>``; an existing file there is reused only when it is this one's copy."""
    candidate, number = folder / source.name, 2
    while candidate.exists() and not _same_content_stamp(candidate, source):
        candidate = folder / f"{source.stem} ({number}){source.suffix}"
        number += 1
    return candidate


def _same_content_stamp(a: Path, b: Path) -> bool:
    first, second = a.stat(), b.stat()
    return first.st_size == second.st_size and first.st_mtime_ns == second.st_mtime_ns


def _remove_autosaves(project: Project, target: Path) -> None:
    stale = {autosave_path_for(target), recovery_path_for(project.id)}
    if project.path is not None:
        stale.add(autosave_path_for(project.path))
    for autosave in stale:
        try:
            autosave.unlink(missing_ok=True)
        except OSError as error:
            logger.warning("could not remove autosave %s: %s", autosave, error)
