"""Logging set-up: one rotating log file in the platform's user log folder, warnings on stderr."""

from __future__ import annotations

import logging
import logging.handlers
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "FoleyStudio"
LOG_FILE_NAME = "foleystudio.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def _open_log_handler() -> logging.Handler:
    """A rotating file handler in the user log dir, or in the temp dir if that is not writable."""
    for folder in (log_dir(), Path(tempfile.gettempdir()) / APP_NAME):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                folder / LOG_FILE_NAME, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
            )
        except OSError:
            continue
        handler.setFormatter(logging.Formatter(_FORMAT))
        return handler
    return logging.NullHandler()


def setup_logging(verbose: bool = False) -> Path | None:
    """Send our package's log records to the log file (all levels) and stderr (warnings, or info).

    Returns the log file's path, or None when no file could be opened. Calling it again replaces
    the handlers it installed, so tests and repeated CLI calls do not stack handlers.
    """
    logger = logging.getLogger("foleystudio")
    for handler in list(logger.handlers):
        if getattr(handler, "_foleystudio", False):
            logger.removeHandler(handler)
            handler.close()
    file_handler = _open_log_handler()
    console = logging.StreamHandler()
    console.setLevel(logging.INFO if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("foleystudio: %(levelname)s: %(message)s"))
    # Tracebacks belong in the log file; the caller prints one plain line to the user instead.
    console.addFilter(lambda record: not record.exc_info)
    for handler in (file_handler, console):
        handler._foleystudio = True
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return Path(file_handler.baseFilename) if hasattr(file_handler, "baseFilename") else None
