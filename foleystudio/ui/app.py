"""Starting the desktop application: the QApplication, logging of Qt's messages, the last-resort
error dialog, the demo project, and the main window.

Qt's own messages go to our log (``qInstallMessageHandler``), so a user's log holds everything. An
exception that escapes a slot is logged with its traceback and shown in a dialog that names the
log file, and the app keeps running: it is never a silent crash, and the project stays open (the
autosave keeps it safe if the app is then closed).

The window icon is read from ``resources/icons`` beside the package, which is where both the
checkout and the frozen bundle keep it. Once the event loop runs with the window shown, a
"FoleyStudio <version> ready" line is logged: the packaging smoke test waits for it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from foleystudio import __version__
from foleystudio.logs import APP_NAME, log_dir

logger = logging.getLogger(__name__)
qt_logger = logging.getLogger("foleystudio.qt")

# The icons beside the package (the checkout's resources/, or the frozen bundle's _internal/resources).
ICON_DIR = Path(__file__).resolve().parents[2] / "resources" / "icons"
# The .desktop file's name without its suffix: lets Wayland compositors match our windows to it.
DESKTOP_FILE_NAME = "foleystudio"

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(kind, context, message) -> None:
    qt_logger.log(_QT_LEVELS.get(kind, logging.WARNING), "%s", message)


def _excepthook(kind, value, trace) -> None:
    logger.error("unhandled error:\n%s", "".join(traceback.format_exception(kind, value, trace)))
    if QApplication.instance() is not None:
        QMessageBox.critical(None, "FoleyStudio — internal error",
                             f"Something went wrong inside FoleyStudio:\n{kind.__name__}: {value}\n\n"
                             f"Your project is still open. Details are in the log:\n{log_dir()}")


def install_error_handling() -> None:
    qInstallMessageHandler(_qt_message)
    sys.excepthook = _excepthook


def window_icon() -> QIcon:
    """The app icon at every size we ship (the window manager picks one); empty if none is found."""
    icon = QIcon()
    for png in sorted(ICON_DIR.glob("foleystudio-*.png")):
        icon.addFile(str(png))
    return icon


def application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    app.setWindowIcon(window_icon())
    app.setStyle("Fusion")
    return app


def run(project_path: Path | None = None, demo: bool = True) -> int:
    """Open the main window on ``project_path`` (or the demo project) and run the event loop."""
    from foleystudio.demo_project import ensure_demo_project
    from foleystudio.project.store import load_project
    from foleystudio.ui.main_window import MainWindow
    from foleystudio.ui.session import Session
    from foleystudio.ui.theme import apply_theme

    app = application()
    install_error_handling()
    apply_theme(app)
    path = project_path or (ensure_demo_project() if demo else None)
    window = MainWindow(Session(load_project(path)) if path else Session())
    if path is not None:
        window.settings.add_recent(path)
        window.files.offer_relink()
    else:
        window.files.offer_startup_recovery()
    window.show()
    logger.info("FoleyStudio %s window open on %s", __version__, path or "a new project")
    # "ready" once the event loop runs with the window shown: what the packaging smoke test waits for.
    QTimer.singleShot(0, lambda: logger.info("FoleyStudio %s ready", __version__))
    return app.exec()
