"""Autosave and crash recovery.

A saved project autosaves to a hidden ``.<name>.foley.autosave`` beside its file (so relative media
paths stay valid); a never-saved project autosaves to ``<user state dir>/recovery/<id>.foley.autosave``
with absolute media paths. Autosaves are written atomically and never touch the dirty flag or the
project file. Saving the project removes its autosaves (``store.save_project``).

On opening a project, ``find_recovery`` tells whether an autosave newer than the file exists, so the
app can offer ``restore_recovery`` (the restored project keeps the original path and is dirty) or
``discard_recovery``. At start-up, ``list_recoveries`` lists autosaves of never-saved projects left
behind by a crash.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from foleystudio.errors import UserInputError
from foleystudio.project.document import Project
from foleystudio.project.migrations import migrate
from foleystudio.project.paths import (
    AUTOSAVE_SUFFIX,
    PROJECT_SUFFIX,
    autosave_path_for,
    recovery_folder,
    recovery_path_for,
    state_folder,
    unsaved_takes_folder,
)
from foleystudio.project.serialize import document_to_project, project_to_document
from foleystudio.project.store import read_document, write_document
from foleystudio.project.take import format_utc, utc_now

logger = logging.getLogger(__name__)


def autosave(project: Project, project_path: str | Path | None = None) -> Path:
    """Write the project's autosave (beside ``project_path``, default ``project.path``); returns it."""
    project_path = project.path if project_path is None else Path(os.path.abspath(project_path))
    if project_path is None:
        target, folder = recovery_path_for(project.id), None
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        target, folder = autosave_path_for(project_path), project_path.parent
    document = project_to_document(project, lambda reference: reference.rebased(project.folder, folder))
    document["autosaved_at"] = format_utc(utc_now())
    write_document(target, document)
    logger.debug("autosaved %s", target)
    return target


def find_recovery(project_path: str | Path) -> Path | None:
    """The project's autosave when it is newer than the project file (or that file is gone)."""
    project_path = Path(project_path)
    candidate = autosave_path_for(project_path)
    try:
        autosaved_ns = candidate.stat().st_mtime_ns
    except OSError:
        return None
    try:
        saved_ns = project_path.stat().st_mtime_ns
    except OSError:
        return candidate
    return candidate if autosaved_ns > saved_ns else None


def project_path_of(autosave_path: Path) -> Path | None:
    """The project an autosave belongs to; None for a never-saved project's recovery file."""
    name = autosave_path.name
    if name.startswith(".") and name.endswith(PROJECT_SUFFIX + AUTOSAVE_SUFFIX):
        return autosave_path.with_name(name[1 : -len(AUTOSAVE_SUFFIX)])
    return None


def restore_recovery(autosave_path: str | Path) -> Project:
    """The project as autosaved: its path is the original project's (None if never saved); dirty."""
    autosave_path = Path(os.path.abspath(autosave_path))
    document = migrate(read_document(autosave_path), str(autosave_path))
    project = document_to_project(document, str(autosave_path), path=project_path_of(autosave_path))
    project.mark_dirty()
    return project


def discard_recovery(path: str | Path) -> None:
    """Delete an autosave, given it or its project file; a never-saved project's takes go too."""
    path = Path(os.path.abspath(path))
    if path.name.endswith(AUTOSAVE_SUFFIX):
        autosave_path = path
    elif path.suffix.lower() == PROJECT_SUFFIX:
        autosave_path = autosave_path_for(path)
    else:
        raise UserInputError(f"{path}: neither a project file nor an autosave")
    autosave_path.unlink(missing_ok=True)
    if project_path_of(autosave_path) is None and autosave_path.parent == recovery_folder():
        project_id = autosave_path.name[: -len(PROJECT_SUFFIX + AUTOSAVE_SUFFIX)]
        takes = unsaved_takes_folder(project_id)
        if takes.is_dir() and takes.parent.parent == state_folder():
            shutil.rmtree(takes)


@dataclass(frozen=True)
class Recovery:
    """An autosave of a never-saved project; ``problem`` says why it cannot be restored, if so."""

    path: Path
    project_id: str
    autosaved_at: datetime
    layer_names: tuple[str, ...]
    problem: str | None = None


def list_recoveries() -> list[Recovery]:
    """Autosaves of never-saved projects, newest first (the app filters out its own project)."""
    folder = recovery_folder()
    if not folder.is_dir():
        return []
    found = [_describe(path) for path in folder.glob(f"*{PROJECT_SUFFIX}{AUTOSAVE_SUFFIX}") if path.is_file()]
    return sorted(found, key=lambda recovery: recovery.autosaved_at, reverse=True)


def _describe(path: Path) -> Recovery:
    project_id = path.name[: -len(PROJECT_SUFFIX + AUTOSAVE_SUFFIX)]
    moment = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    try:
        project = restore_recovery(path)
    except UserInputError as error:
        return Recovery(path, project_id, moment, (), problem=str(error))
    return Recovery(path, project.id, moment, tuple(layer.name for layer in project.layers))
