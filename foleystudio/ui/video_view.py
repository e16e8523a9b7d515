"""The picture at the playhead: frames decoded off the GUI thread, cached, drawn with aspect kept.

Design choices:

* **A background decoder.** One ``threading.Thread`` per open video owns a
  ``foleystudio.video.frames.FrameReader`` (which is frame accurate and not thread-safe, hence one
  reader in one thread). Requests go into a single "latest wins" slot: while playing, the playhead
  moves faster than a slow file decodes, and only the newest frame matters, so stale requests are
  dropped instead of queueing up behind each other. Decoded RGB becomes a ``QImage`` in the thread
  (QImage, unlike QPixmap, may be built off the GUI thread) and comes back through a queued signal.
  ``shutdown`` (called by ``close``) stops and joins the thread.
* **Frame keys.** A time maps to the nominal frame index ``floor(t x rate)``; the cache (an LRU of
  ``CACHE_FRAMES`` images) and "is this frame already shown" use it, so a playhead moving within one
  frame decodes nothing. The decoder itself locates frames by timestamp, so the image is exact.
* **Decode size.** Frames are decoded no larger than ``MAX_DECODE_SIZE`` (aspect kept): a preview
  does not need 4K, and swscale downscaling in the decoder is cheaper than in paint.
* **No video / missing video** show a text: "Drop a video here or use File > Open Video", or
  "Video file missing: <name>". Dropping a file emits ``video_dropped(path)`` for the window to open.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QWidget

from foleystudio.project.events import FieldsChanged
from foleystudio.ui.session import Session
from foleystudio.video.frames import FrameReader
from foleystudio.video.probe import MediaInfo, probe_media

logger = logging.getLogger(__name__)

PLACEHOLDER_TEXT = "Drop a video here or use File > Open Video"
MISSING_TEXT = "Video file missing: {name}"
CACHE_FRAMES = 48
MAX_DECODE_SIZE = (1280, 720)
FRAME_EPSILON = 1e-6  # a time k / fps stored as a float may land a hair before frame k
JOIN_TIMEOUT_S = 5.0


def decode_size(width: int, height: int, limit: tuple[int, int] = MAX_DECODE_SIZE) -> tuple[int, int]:
    """The display size scaled down (never up) to fit ``limit``, aspect kept, even sides for swscale."""
    scale = min(1.0, limit[0] / width, limit[1] / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


class FrameDecoder:
    """A thread decoding the latest requested frame of one video; results go to ``deliver(key, image)``."""

    def __init__(self, path: Path, info: MediaInfo, size: tuple[int, int],
                 deliver: Callable[[int, QImage], None], fail: Callable[[str], None]) -> None:
        self._path, self._info, self._size = path, info, size
        self._deliver, self._fail = deliver, fail
        self._wake = threading.Condition()
        self._request: tuple[int, float] | None = None
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"video-decode {path.name}", daemon=True)
        self._thread.start()

    def request(self, key: int, time_s: float) -> None:
        with self._wake:
            self._request = (key, time_s)  # replaces any request not started yet
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        self._thread.join(JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            logger.warning("video decoder for %s did not stop in %.0f s", self._path.name, JOIN_TIMEOUT_S)

    def _next_request(self) -> tuple[int, float] | None:
        with self._wake:
            while self._request is None and not self._stopping:
                self._wake.wait()
            if self._stopping:
                return None
            request, self._request = self._request, None
            return request

    def _run(self) -> None:
        try:
            reader = FrameReader(self._path, self._size, self._info)
        except Exception as error:  # a file that will not open: say so, keep the app running
            logger.warning("cannot open %s for preview: %s", self._path, error)
            self._fail(f"Cannot play video {self._path.name}: {error}")
            return
        try:
            while (request := self._next_request()) is not None:
                key, time_s = request
                try:
                    rgb = reader.frame_at(time_s)
                except Exception as error:  # one bad frame must not end the preview
                    logger.warning("decoding %s at %.3f s failed: %s", self._path.name, time_s, error)
                    continue
                height, width = rgb.shape[:2]
                image = QImage(rgb.data, width, height, rgb.strides[0], QImage.Format.Format_RGB888).copy()
                self._deliver(key, image)
        finally:
            reader.close()


class VideoView(QWidget):
    """Shows the session's video at the playhead (or a placeholder / missing-file message)."""

    video_dropped = Signal(str)
    _frame_decoded = Signal(int, int, object)  # decoder generation, frame key, QImage
    _decode_failed = Signal(int, str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._decoder: FrameDecoder | None = None
        self._generation = 0
        self._info: MediaInfo | None = None
        self._cache: OrderedDict[int, QImage] = OrderedDict()
        self._image: QImage | None = None
        self._shown_key: int | None = None
        self._wanted_key: int | None = None
        self._message = PLACEHOLDER_TEXT
        self._shut_down = False
        self.setAcceptDrops(True)
        self.setMinimumSize(160, 90)
        self._frame_decoded.connect(self._on_frame_decoded)
        self._decode_failed.connect(self._on_decode_failed)
        session.project_replaced.connect(self._load_video)
        session.edited.connect(self._on_edited)
        session.playhead_moved.connect(self._show_time)
        self._load_video()

    # ---- what is shown (read by tests and the window) -------------------------------------------
    @property
    def message(self) -> str:
        """The text shown instead of a picture ("" while a frame is shown)."""
        return "" if self._image is not None else self._message

    @property
    def shown_key(self) -> int | None:
        """The nominal index of the frame on screen, or None."""
        return self._shown_key

    def current_image(self) -> QImage | None:
        return self._image

    def frame_key(self, time_s: float) -> int:
        """The nominal frame index shown at ``time_s`` (after clamping into the video)."""
        video = self._info.video
        return math.floor(self._clamped(time_s) * video.frame_rate + FRAME_EPSILON)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(640, 360)

    # ---- lifetime -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop and join the decoder thread; stop following the session (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self._stop_decoder()
        for signal, slot in ((self._session.project_replaced, self._load_video),
                             (self._session.edited, self._on_edited),
                             (self._session.playhead_moved, self._show_time)):
            signal.disconnect(slot)

    def close(self) -> bool:
        self.shutdown()
        return super().close()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        self.shutdown()
        super().closeEvent(event)

    # ---- following the session ------------------------------------------------------------------
    def _on_edited(self, payload) -> None:
        if isinstance(payload, FieldsChanged) and payload.source is self._session.project and "video" in payload.names:
            self._load_video()

    def _load_video(self) -> None:
        self._stop_decoder()
        self._cache.clear()
        self._image = self._shown_key = self._wanted_key = None
        self._info = None
        project = self._session.project
        if project.video is None:
            self._message = PLACEHOLDER_TEXT
        elif (path := project.resolve(project.video)) is None:
            self._message = MISSING_TEXT.format(name=project.video.name)
        else:
            self._open(path)
        self.update()

    def _open(self, path: Path) -> None:
        try:
            info = probe_media(path)
            if info.video is None:
                raise ValueError("it has no video stream")
        except Exception as error:  # a bad file shows a message, it does not crash the window
            logger.warning("cannot preview %s: %s", path, error)
            self._message = f"Cannot play video {path.name}: {error}"
            return
        self._info = info
        self._message = f"Loading {path.name}…"
        generation = self._generation
        self._decoder = FrameDecoder(
            path,
            info,
            decode_size(*info.video.display_size),
            deliver=lambda key, image: self._frame_decoded.emit(generation, key, image),
            fail=lambda text: self._decode_failed.emit(generation, text),
        )
        self._show_time(self._session.playhead_s)

    def _stop_decoder(self) -> None:
        self._generation += 1  # frames still in flight from the old decoder are ignored
        if self._decoder is not None:
            self._decoder.stop()
            self._decoder = None

    def _clamped(self, time_s: float) -> float:
        # frame_at refuses the end instant: the last frame is the one on screen until the end.
        return min(max(0.0, time_s), max(0.0, self._info.video.duration_s - FRAME_EPSILON))

    def _show_time(self, time_s: float) -> None:
        if self._decoder is None or self._info is None:
            return
        key = self.frame_key(time_s)
        self._wanted_key = key
        if key == self._shown_key:
            return
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            self._set_image(key, cached)
        else:
            self._decoder.request(key, self._clamped(time_s))

    def _on_frame_decoded(self, generation: int, key: int, image: QImage) -> None:
        if generation != self._generation:
            return
        self._cache[key] = image
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_FRAMES:
            self._cache.popitem(last=False)
        # Show the exact frame, or the newest one decoded while the exact one is still coming.
        if key == self._wanted_key or self._shown_key != self._wanted_key:
            self._set_image(key, image)

    def _on_decode_failed(self, generation: int, text: str) -> None:
        if generation == self._generation:
            self._image = self._shown_key = None
            self._message = text
            self.update()

    def _set_image(self, key: int, image: QImage) -> None:
        self._image, self._shown_key = image, key
        self.update()

    # ---- painting and dropping ------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        if self._image is not None:
            target = QSize(self._image.width(), self._image.height()).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
            x = (self.width() - target.width()) / 2
            y = (self.height() - target.height()) / 2
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(QRectF(x, y, target.width(), target.height()), self._image)
        else:
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
        painter.end()

    def dragEnterEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.video_dropped.emit(files[0])
