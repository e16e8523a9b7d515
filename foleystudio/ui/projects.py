"""Project files in the app: new, open, save, save as, autosave, crash recovery, missing media.

Every question to the user goes through one replaceable method (``ask_*``), so tests answer them
without modal dialogs and the flow itself is what is tested. Errors from the store (a truncated
file, a newer schema, an unwritable folder) become a dialog; the open project is never lost: a
failed open keeps the current one, a failed save keeps the document dirty.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from foleystudio.errors import MediaError, OutputError, ProjectError, UserInputError
from foleystudio.project.autosave import (
    autosave,
    find_recovery,
    list_recoveries,
    restore_recovery,
)
from foleystudio.project.document import Project
from foleystudio.project.paths import PROJECT_SUFFIX
from foleystudio.project.store import load_project, save_project
from foleystudio.ui.commands import ProjectEdit
from foleystudio.ui.session import Session
from foleystudio.ui.settings import AppSettings
from foleystudio.video.probe import probe_media, require_video

logger = logging.getLogger(__name__)

AUTOSAVE_INTERVAL_MS = 60_000
PROJECT_FILTER = f"FoleyStudio project (*{PROJECT_SUFFIX})"
_USER_ERRORS = (UserInputError, MediaError, ProjectError, OutputError)


class ProjectFiles(QObject):
    """File operations on the session's project. Signal ``status_message(str)``."""

    status_message = Signal(str)

    def __init__(self, session: Session, window: QWidget, settings: AppSettings) -> None:
        super().__init__(window)
        self.session, self.window, self.settings = session, window, settings
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()

    # ---- questions (replaced in tests) ---------------------------------------------------------
    def ask_discard(self, doing: str) -> str:
        """'save', 'discard' or 'cancel' for unsaved changes before ``doing``."""
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"“{self.session.project.name}” has unsaved changes. Save them before {doing}?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        )
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def ask_open_path(self) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open project", "", PROJECT_FILTER)
        return Path(path) if path else None

    def ask_save_path(self) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project as", self.session.project.name + PROJECT_SUFFIX,
                                              PROJECT_FILTER)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix == PROJECT_SUFFIX else path.with_name(path.name + PROJECT_SUFFIX)

    def ask_recover(self, autosave_path: Path) -> bool:
        answer = QMessageBox.question(
            self.window, "Recover unsaved work?",
            f"An autosave newer than the project was found:\n{autosave_path}\n\nRecover it?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def ask_relink_folder(self, missing: list[str]) -> Path | None:
        listed = "\n".join(f"• {item}" for item in missing[:12]) + ("\n…" if len(missing) > 12 else "")
        answer = QMessageBox.question(
            self.window, "Missing media",
            f"These files are not where the project says:\n{listed}\n\nSearch a folder for them?",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return None
        folder = QFileDialog.getExistingDirectory(self.window, "Folder to search for missing media")
        return Path(folder) if folder else None

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self.window, "FoleyStudio", message)

    # ---- operations ------------------------------------------------------------------------------
    def confirm_discard(self, doing: str) -> bool:
        """True when it is fine to drop the open project (saved, or the user said so)."""
        if not self.session.project.dirty:
            return True
        answer = self.ask_discard(doing)
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_project(self) -> bool:
        if not self.confirm_discard("starting a new project"):
            return False
        self.session.replace_project(Project())
        self.status_message.emit("New project")
        return True

    def open_dialog(self) -> bool:
        if not self.confirm_discard("opening another project"):
            return False
        path = self.ask_open_path()
        return False if path is None else self.open_path(path, confirmed=True)

    def open_path(self, path: Path, confirmed: bool = False) -> bool:
        """Open ``path`` (offering its autosave and relinking missing media); keeps the current
        project when it cannot be opened."""
        if not confirmed and not self.confirm_discard("opening another project"):
            return False
        try:
            project = self._load_or_recover(Path(path))
        except _USER_ERRORS as error:
            self.show_error(f"Could not open {Path(path).name}: {error}")
            return False
        self.session.replace_project(project)
        self.settings.add_recent(Path(path))
        self.offer_relink()
        self.status_message.emit(f"Opened {Path(path).name}")
        return True

    def _load_or_recover(self, path: Path) -> Project:
        recovery = find_recovery(path)
        if recovery is not None and self.ask_recover(recovery):
            logger.info("recovering %s from %s", path, recovery)
            return restore_recovery(recovery)
        return load_project(path)

    def offer_relink(self) -> int:
        """Ask for a folder to search when media is missing; relink what is found. Returns the count."""
        project = self.session.project
        missing = project.missing_media()
        if not missing:
            return 0
        folder = self.ask_relink_folder([f"{use.kind}: {use.reference.name}" for use in missing])
        if folder is None:
            self.status_message.emit(f"{len(missing)} media file(s) missing")
            return 0
        found = project.find_missing_media(folder)
        for reference, new_path in found.items():
            project.relink(reference, new_path)
        self.status_message.emit(f"Relinked {len(found)} of {len(missing)} missing file(s)")
        return len(found)

    def save(self) -> bool:
        project = self.session.project
        if project.path is None:
            return self.save_as()
        return self._save_to(project.path, overwrite=True)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        return False if path is None else self._save_to(path, overwrite=True)

    def _save_to(self, path: Path, overwrite: bool) -> bool:
        try:
            saved = save_project(self.session.project, path, overwrite=overwrite)
        except _USER_ERRORS as error:
            self.show_error(f"Could not save: {error}")
            return False
        self.session.undo_stack.setClean()
        self.settings.add_recent(saved)
        self.status_message.emit(f"Saved {saved.name}")
        return True

    def autosave_now(self) -> Path | None:
        project = self.session.project
        if not project.dirty:
            return None
        try:
            return autosave(project)
        except _USER_ERRORS as error:
            logger.warning("autosave failed: %s", error)
            self.status_message.emit(f"Autosave failed: {error}")
            return None

    def offer_startup_recovery(self) -> bool:
        """At start-up: offer the newest autosave of a never-saved project left by a crash."""
        recoveries = [item for item in list_recoveries() if item.problem is None]
        if not recoveries:
            return False
        newest = recoveries[0]
        if not self.ask_recover(newest.path):
            return False
        self.session.replace_project(restore_recovery(newest.path))
        self.status_message.emit("Recovered unsaved work")
        return True

    def use_video(self, path: Path) -> bool:
        """Make ``path`` the project's video (undoable); the frame rate and length follow it."""
        try:
            info = probe_media(path)
            video = require_video(info)
        except _USER_ERRORS as error:
            self.show_error(str(error))
            return False
        project = self.session.project
        self.session.push(ProjectEdit(project, f"Use video {Path(path).name}", video=project.reference_to(path),
                                      frame_rate=video.frame_rate, video_duration_s=video.duration_s))
        self.status_message.emit(f"Video: {Path(path).name}")
        return True

    def stop(self) -> None:
        self.autosave_timer.stop()
