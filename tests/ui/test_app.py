"""App plumbing: Qt's messages reach our log; an escaped exception is logged and shown, not fatal."""

import logging
import sys

from PySide6.QtCore import qWarning

from foleystudio.ui import app


def test_qt_messages_go_to_the_log(qtbot, caplog, monkeypatch):
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    app.install_error_handling()
    try:
        with caplog.at_level(logging.INFO, logger="foleystudio.qt"):
            qWarning("a warning from Qt")
    finally:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(None)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("foleystudio.qt", logging.WARNING, "a warning from Qt")]


def test_an_escaped_exception_is_logged_and_shown_with_the_log_folder(qtbot, caplog, monkeypatch):
    shown = []
    monkeypatch.setattr(app.QMessageBox, "critical", lambda parent, title, text: shown.append(text))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        app._excepthook(*sys.exc_info())
    assert "RuntimeError: boom" in caplog.text and "Traceback" in caplog.text
    assert "RuntimeError: boom" in shown[0] and str(app.log_dir()) in shown[0]
