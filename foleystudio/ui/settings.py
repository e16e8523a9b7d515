"""Per-user application settings: window layout and recent projects.

Stored with QSettings in INI format in the platform's config folder (platformdirs), not in the
registry or a plist, so the file is easy to find, back up and delete, and tests isolate it by
pointing the XDG folders elsewhere.
"""

from __future__ import annotations

import logging
from pathlib import Path

import platformdirs
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMainWindow

from foleystudio.logs import APP_NAME

logger = logging.getLogger(__name__)

MAX_RECENT = 10


def settings_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "foleystudio.ini"


class AppSettings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or settings_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._store = QSettings(str(self.path), QSettings.Format.IniFormat)

    # ---- window layout --------------------------------------------------------------------------
    def save_window(self, window: QMainWindow) -> None:
        self._store.setValue("window/geometry", window.saveGeometry())
        self._store.setValue("window/state", window.saveState())
        self._store.sync()

    def restore_window(self, window: QMainWindow) -> bool:
        """Restore geometry and dock layout; False (defaults kept) when nothing usable is stored."""
        geometry, state = self._store.value("window/geometry"), self._store.value("window/state")
        if geometry is None:
            window.resize(1400, 900)
            return False
        restored = window.restoreGeometry(geometry)
        if state is not None:
            restored = window.restoreState(state) and restored
        return bool(restored)

    # ---- recent projects -------------------------------------------------------------------------
    def recent_projects(self) -> list[Path]:
        """Recently opened or saved projects that still exist, newest first."""
        value = self._store.value("recent/projects", [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(item) for item in items if Path(item).is_file()]

    def add_recent(self, path: Path) -> None:
        path = Path(path).resolve()
        items = [str(path)] + [str(p) for p in self.recent_projects() if p.resolve() != path]
        self._store.setValue("recent/projects", items[:MAX_RECENT])
        self._store.sync()

    # ---- generic values ---------------------------------------------------------------------------
    def value(self, key: str, default=None):
        return self._store.value(key, default)

    def set_value(self, key: str, value) -> None:
        self._store.setValue(key, value)
        self._store.sync()
