"""What the packaged app relies on in foleystudio/ui/app.py: the "ready" log line the smoke test
waits for (logged once the event loop runs with the window up) and the window icon."""

import logging
import sys

from PySide6.QtWidgets import QApplication

from foleystudio import __version__
from foleystudio.ui import app
from tests.packaging._load import load

smoke = load("smoke_test")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_the_window_icon_has_every_shipped_size(qapp):
    icon = app.window_icon()
    sizes = {(size.width(), size.height()) for size in icon.availableSizes()}
    assert {(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256), (512, 512)} <= sizes


def test_run_logs_ready_after_the_window_is_shown_with_the_icon(qapp, qtbot, monkeypatch):
    from foleystudio.ui.main_window import MainWindow

    records = _Records()
    app_logger = logging.getLogger("foleystudio.ui.app")
    app_logger.addHandler(records)
    monkeypatch.setattr(app_logger, "level", logging.DEBUG)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run() installs its own
    monkeypatch.setattr("foleystudio.ui.theme.apply_theme", lambda application: None)  # keep other tests' look
    saved = (qapp.applicationName(), qapp.applicationVersion(), qapp.organizationName(),
             qapp.desktopFileName(), qapp.windowIcon(), qapp.style().name())
    seen = {}

    def event_loop():
        # Stands in for QApplication.exec: lets queued events run until the app says it is ready.
        window = next(w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow))
        seen["shown_before_ready"] = window.isVisible() and not any("ready" in m for m in records.messages)
        qtbot.waitUntil(lambda: any(smoke.READY.search(m) for m in records.messages), timeout=5000)
        seen["icon_sizes"] = len(qapp.windowIcon().availableSizes())
        seen["desktop_file"] = qapp.desktopFileName()
        window.files.ask_discard = lambda doing: "discard"
        window.shutdown()
        window.hide()
        window.deleteLater()
        return 0

    monkeypatch.setattr(QApplication, "exec", staticmethod(event_loop))
    try:
        assert app.run(None, demo=False) == 0
    finally:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(None)
        app_logger.removeHandler(records)
        name, version, organisation, desktop_file, icon, style = saved
        qapp.setApplicationName(name)
        qapp.setApplicationVersion(version)
        qapp.setOrganizationName(organisation)
        qapp.setDesktopFileName(desktop_file)
        qapp.setWindowIcon(icon)
        qapp.setStyle(style)
    assert seen["shown_before_ready"]
    ready = [m for m in records.messages if smoke.READY.search(m)]
    assert len(ready) == 1 and smoke.READY.search(ready[0]).group(1) == __version__
    assert seen["icon_sizes"] >= 8 and seen["desktop_file"] == app.DESKTOP_FILE_NAME
