"""Where project files, take folders, autosaves and recovery files live (names only, no I/O)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "FoleyStudio"
PROJECT_SUFFIX = ".foley"
# "<stem> Takes/" beside "<stem>.foley": reads well in a file browser next to the project.
TAKES_FOLDER_SUFFIX = " Takes"
AUTOSAVE_SUFFIX = ".autosave"


def takes_folder_for(project_path: Path) -> Path:
    """``Scene 12.foley`` -> ``Scene 12 Takes/`` beside it."""
    project_path = Path(project_path)
    return project_path.with_name(project_path.stem + TAKES_FOLDER_SUFFIX)


def autosave_path_for(project_path: Path) -> Path:
    """``Scene 12.foley`` -> the hidden ``.Scene 12.foley.autosave`` beside it."""
    project_path = Path(project_path)
    return project_path.with_name(f".{project_path.name}{AUTOSAVE_SUFFIX}")


def state_folder() -> Path:
    """The per-user folder for FoleyStudio's working state (recovery files, unsaved takes)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


def recovery_folder() -> Path:
    """Autosaves of projects that were never saved."""
    return state_folder() / "recovery"


def recovery_path_for(project_id: str) -> Path:
    return recovery_folder() / f"{project_id}{PROJECT_SUFFIX}{AUTOSAVE_SUFFIX}"


def unsaved_takes_folder(project_id: str) -> Path:
    """Where takes of a never-saved project are written until the first save gathers them."""
    return state_folder() / "unsaved takes" / project_id
