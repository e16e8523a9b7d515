"""The prompt panel's reference sound: its name, a small waveform, and Choose / Play / Clear.

Design choices:

* A file is checked before it is stored (``check_reference_file``): one FoleyStudio cannot read
  audio from is refused with a ``UserInputError`` the panel shows in place, never a modal dialog.
* The waveform is a peak envelope of at most the first few minutes (a long file's picture only
  needs its start), cached per file path and modification time so refreshing on every edit costs
  nothing and a file changed on disk is drawn anew.
* ``ReferencePicker`` only shows a reference and offers the buttons; what a click does (the undo
  step, playing, the file dialog) is the panel's business, so this widget needs no session.
* Dropping a file anywhere on the panel sets the reference: ``dropped_file`` reads the drag.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from foleystudio.audio.io import audio_info, read_audio
from foleystudio.errors import UserInputError
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.ui.prompt_helpers import tool_button

logger = logging.getLogger(__name__)

AUDIO_FILE_FILTER = "Audio files (*.wav *.bwf *.flac *.aif *.aiff *.caf *.ogg *.opus *.mp3 *.m4a *.aac *.w64);;All files (*)"
WAVEFORM_BINS = 240
WAVEFORM_MAX_S = 300.0  # the picture of a long file only needs its first minutes
NO_REFERENCE_TEXT = "None: drop an audio file here"
# What an empty picker says under a model that takes no reference sound (it accepts no drop).
NO_REFERENCE_UNUSABLE_TEXT = "None"


class Waveform(QWidget):
    """A tiny peak-envelope picture of the reference sound."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.envelope: np.ndarray | None = None
        self.setMinimumSize(120, 28)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_envelope(self, envelope: np.ndarray | None) -> None:
        self.envelope = envelope
        self.update()

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        if self.envelope is None or len(self.envelope) == 0:
            return
        painter.setPen(QPen(QColor(self.palette().highlight().color()), 1))
        width, middle = self.width(), self.height() / 2
        step = width / len(self.envelope)
        for index, peak in enumerate(self.envelope):
            x = index * step + step / 2
            half = max(0.5, float(peak) * (middle - 1))
            painter.drawLine(QPointF(x, middle - half), QPointF(x, middle + half))


def reference_envelope(path: str | Path, bins: int = WAVEFORM_BINS) -> np.ndarray:
    """Peak amplitude (0..1) of ``bins`` equal stretches of the file's first minutes (mono mix)."""
    audio, _rate = read_audio(path, channels=1, duration_s=min(audio_info(path).duration_s, WAVEFORM_MAX_S) or None)
    samples = np.abs(audio[0])
    if len(samples) == 0:
        return np.zeros(bins, np.float32)
    edges = np.linspace(0, len(samples), bins + 1).astype(int)
    peaks = np.array([samples[a:b].max() if b > a else 0.0 for a, b in itertools.pairwise(edges)], np.float32)
    return np.clip(peaks, 0.0, 1.0)


class EnvelopeCache:
    """Waveform envelopes by (path, modification time); None for a file that could not be read."""

    def __init__(self) -> None:
        self._envelopes: dict[tuple, np.ndarray | None] = {}

    def clear(self) -> None:
        self._envelopes.clear()

    def get(self, path: Path) -> np.ndarray | None:
        try:
            key = (str(path), path.stat().st_mtime_ns)
        except OSError:
            return None
        if key not in self._envelopes:
            try:
                self._envelopes[key] = reference_envelope(path)
            except UserInputError as error:
                logger.warning("no waveform for %s: %s", path, error)
                self._envelopes[key] = None
        return self._envelopes[key]


def check_reference_file(project: Project, path: Path) -> MediaReference:
    """A reference to the audio file at ``path``; ``UserInputError`` if it holds no readable audio."""
    info = audio_info(path)
    if info.frames <= 0:
        raise UserInputError(f"{path.name} holds no audio samples")
    return project.reference_to(path)


def dropped_file(mime) -> Path | None:
    """The one local file being dragged, or None."""
    if not mime.hasUrls():
        return None
    files = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    return Path(files[0]) if len(files) == 1 else None


class ReferencePicker(QWidget):
    """Shows the reference sound (name, waveform) with Choose, Play and Clear buttons."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.envelopes = EnvelopeCache()
        self._empty_text = NO_REFERENCE_TEXT
        self._empty = True
        self.name_label = QLabel(NO_REFERENCE_TEXT, self)
        self.name_label.setObjectName("reference_name")
        self.waveform = Waveform(self)
        self.waveform.setObjectName("reference_waveform")
        self.choose_button = tool_button(self, "Choose…", "reference_choose",
                                         "Pick a sound from your library as an audio prompt (or drop a file here)")
        self.play_button = tool_button(self, "Play", "reference_play", "Listen to the reference sound")
        self.clear_button = tool_button(self, "Clear", "reference_clear", "Stop using a reference sound")
        self._lay_out()
        self.setToolTip("An audio prompt: the take will sound like this (weighted by reference guidance).")

    def _lay_out(self) -> None:
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for button in (self.choose_button, self.play_button, self.clear_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.name_label)
        layout.addWidget(self.waveform)
        layout.addLayout(buttons)

    def show_reference(self, reference: MediaReference | None, path: Path | None) -> None:
        """Show ``reference`` (None: no reference), found at ``path`` (None: missing)."""
        self._empty = reference is None
        if reference is None:
            self.name_label.setText(self._empty_text)
            self.name_label.setToolTip("")
        elif path is None:
            self.name_label.setText(f"{reference.name} (missing)")
            self.name_label.setToolTip(f"Not found at {reference.absolute}")
        else:
            self.name_label.setText(reference.name)
            self.name_label.setToolTip(str(path))
        self.waveform.set_envelope(None if path is None else self.envelopes.get(path))
        self.play_button.setEnabled(path is not None)
        self.clear_button.setEnabled(reference is not None)

    def set_accepting(self, accepting: bool) -> None:
        """Whether a reference sound can be chosen or dropped: an empty picker stops inviting a drop."""
        self._empty_text = NO_REFERENCE_TEXT if accepting else NO_REFERENCE_UNUSABLE_TEXT
        if self._empty:
            self.name_label.setText(self._empty_text)
