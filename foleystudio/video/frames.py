"""Decoded video frames as RGB arrays: at a chosen rate, at one instant, or as timeline thumbnails.

Times are seconds from the first video frame (a file whose first timestamp is not 0 is shifted so it
is). The frame "at" time t is the source frame on screen at t: the last frame whose presentation
timestamp is <= t. Frames are always located by timestamp, never by ``index / rate``, so variable
frame rate videos and B-frame reordering need no special case.

Seeking jumps to the keyframe at or before the target and decodes forward, so ``frame_at`` is frame
accurate whatever the GOP length. Targets far ahead of the decoder (more than ``SEEK_AHEAD_S``)
trigger a seek; near ones are reached by decoding on.

Sizes (``size`` argument):
    None          the picture as displayed (rotation applied), full resolution;
    int S         the shortest side scaled to S, then a centred S x S crop (the model's input);
    (w, h)        scaled to exactly w x h, aspect ratio not kept.
The display rotation from the file's display matrix is applied to every frame (multiples of 90
degrees; others are ignored with a log message). Non-square pixels (sample aspect ratio) are not
corrected. Colour conversion to RGB is swscale's, with its defaults.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.probe import (
    MediaInfo,
    VideoStreamInfo,
    first_video_stream,
    open_container,
    probe_media,
)

logger = logging.getLogger(__name__)

SEEK_AHEAD_S = 2.0
# A requested time given as a float k / fps can land a hair before the frame it means.
TIME_EPSILON_S = 1e-6
_MAX_SEEK_RETRIES = 6

Size = int | tuple[int, int] | None


@dataclass(frozen=True)
class _Geometry:
    """How a decoded frame becomes the output array: scale (coded orientation), rotate, crop."""

    scaled_width: int
    scaled_height: int
    quarter_turns: int  # counter-clockwise, as np.rot90 counts them
    crop: tuple[int, int, int, int] | None  # (top, left, height, width) after the rotation

    @property
    def output_shape(self) -> tuple[int, int, int]:
        if self.crop is not None:
            return self.crop[2], self.crop[3], 3
        if self.quarter_turns % 2:
            return self.scaled_width, self.scaled_height, 3
        return self.scaled_height, self.scaled_width, 3


def _geometry(video: VideoStreamInfo, size: Size) -> _Geometry:
    turns = _quarter_turns(video.rotation_deg)
    display_w, display_h = (video.height, video.width) if turns % 2 else (video.width, video.height)
    crop = None
    if size is None:
        out_w, out_h = display_w, display_h
    elif isinstance(size, int) and not isinstance(size, bool):
        if size < 1:
            raise UserInputError(f"frame size must be at least 1 pixel, got {size}")
        scale = size / min(display_w, display_h)
        out_w = max(size, round(display_w * scale))
        out_h = max(size, round(display_h * scale))
        crop = ((out_h - size) // 2, (out_w - size) // 2, size, size)
    else:
        out_w, out_h = _checked_pair(size)
    coded_w, coded_h = (out_h, out_w) if turns % 2 else (out_w, out_h)
    return _Geometry(coded_w, coded_h, turns, crop)


def _checked_pair(size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise UserInputError(f"frame size must be an int or a (width, height) pair, got {size!r}") from None
    if width < 1 or height < 1:
        raise UserInputError(f"frame size must be at least 1 x 1 pixels, got {width} x {height}")
    return width, height


def _quarter_turns(rotation_deg: int) -> int:
    if rotation_deg % 90:
        logger.info("display rotation of %d degrees is not a multiple of 90; not applied", rotation_deg)
        return 0
    return (rotation_deg // 90) % 4


def _to_array(frame: av.VideoFrame, geometry: _Geometry) -> np.ndarray:
    rgb = frame.reformat(
        width=geometry.scaled_width,
        height=geometry.scaled_height,
        format="rgb24",
        interpolation="AREA",
    ).to_ndarray()
    if geometry.quarter_turns:
        rgb = np.rot90(rgb, geometry.quarter_turns)
    if geometry.crop is not None:
        top, left, height, width = geometry.crop
        rgb = rgb[top : top + height, left : left + width]
    return np.ascontiguousarray(rgb)


class _FrameLocator:
    """Finds the frame on screen at a series of ascending times in an open video stream."""

    def __init__(self, container, stream, video: VideoStreamInfo) -> None:
        self._container = container
        self._stream = stream
        self._time_base = stream.time_base
        self._start_s = video.start_s
        self._frame_s = float(1 / video.frame_rate)
        self._decoded: Iterator | None = None
        self._current: tuple[float, av.VideoFrame] | None = None  # last frame with time <= target
        self._next: tuple[float, av.VideoFrame] | None = None  # first frame with time > target
        self._at_end = False

    def frame_at(self, time_s: float) -> av.VideoFrame:
        if self._needs_seek(time_s):
            self._seek(time_s)
        self._decode_up_to(time_s)
        found = self._current or self._next
        if found is None:
            raise MediaError(f"{self._container.name}: no video frame could be decoded")
        return found[1]

    def _needs_seek(self, time_s: float) -> bool:
        if self._decoded is None:
            return time_s > SEEK_AHEAD_S
        latest = self._next or self._current
        if latest is None:
            return False
        if self._current is not None and time_s + TIME_EPSILON_S < self._current[0]:
            return True  # backwards
        return time_s - latest[0] > SEEK_AHEAD_S and not self._at_end

    def _seek(self, time_s: float) -> None:
        """Position the decoder at the keyframe before ``time_s`` (earlier if the seek overshoots)."""
        back_off = 0.0
        for _ in range(_MAX_SEEK_RETRIES):
            target = max(0.0, time_s - back_off)
            self._restart(target)
            self._pull()
            if self._next is None or self._next[0] <= time_s + TIME_EPSILON_S or target == 0.0:
                return
            back_off = max(1.0, 2 * back_off)  # landed after the target: go back further
        self._restart(0.0)

    def _restart(self, time_s: float) -> None:
        offset = round((time_s + self._start_s) / self._time_base)
        if time_s > 0:
            self._container.seek(offset, stream=self._stream, backward=True, any_frame=False)
        else:
            self._container.seek(round(self._start_s / self._time_base), stream=self._stream, backward=True)
        self._decoded = self._decode_all()
        self._current = self._next = None
        self._at_end = False

    def _decode_all(self) -> Iterator[tuple[float, av.VideoFrame]]:
        previous = None
        try:
            for frame in self._container.decode(self._stream):
                if frame.pts is not None:
                    time_s = float(frame.pts * self._time_base) - self._start_s
                else:
                    time_s = previous + self._frame_s if previous is not None else 0.0
                previous = time_s
                yield time_s, frame
        except av.FFmpegError as error:
            # A damaged or truncated file: what decoded so far is what there is.
            logger.warning("%s: decoding stopped early: %s", self._container.name, error)

    def _pull(self) -> None:
        if self._decoded is None:
            self._decoded = self._decode_all()
        self._next = next(self._decoded, None)
        self._at_end = self._next is None

    def _decode_up_to(self, time_s: float) -> None:
        if self._decoded is None:
            self._pull()
        while self._next is not None and self._next[0] <= time_s + TIME_EPSILON_S:
            self._current = self._next
            self._pull()


def _open_video(path: str | os.PathLike, info: MediaInfo | None) -> tuple[MediaInfo, VideoStreamInfo]:
    info = info if info is not None else probe_media(path)
    if info.video is None:
        raise MediaError(f"{Path(path).name} has no video stream")
    return info, info.video


def _frames_at_times(
    path: str | os.PathLike, video: VideoStreamInfo, times: Iterable[float], geometry: _Geometry
) -> Iterator[tuple[float, np.ndarray]]:
    """(time, RGB array) for each of the ascending ``times``; the file stays open while iterating."""
    with open_container(path) as container:
        stream = first_video_stream(container)
        stream.thread_type = "AUTO"
        locator = _FrameLocator(container, stream, video)
        last_frame, last_array = None, None
        for time_s in times:
            frame = locator.frame_at(time_s)
            if frame is not last_frame:  # a frame shown at several target times converts once
                last_frame, last_array = frame, _to_array(frame, geometry)
            yield time_s, last_array


def sample_times(fps: float, start_s: float, end_s: float) -> list[float]:
    """The times start_s + k / fps that fall in [start_s, end_s)."""
    count = max(0, math.ceil((end_s - start_s) * fps - 1e-9))
    return [start_s + k / fps for k in range(count)]


def _checked_range(video: VideoStreamInfo, fps: float, start_s: float, end_s: float | None) -> tuple[float, float]:
    try:
        rate_ok = math.isfinite(float(fps)) and float(fps) > 0
    except (TypeError, ValueError):
        rate_ok = False
    if not rate_ok:
        raise UserInputError(f"frame rate must be a positive number, got {fps!r}")
    end = video.duration_s if end_s is None else min(float(end_s), video.duration_s)
    if not math.isfinite(start_s) or start_s < 0:
        raise UserInputError(f"start time must be >= 0 s, got {start_s!r}")
    if start_s >= end:
        raise UserInputError(f"start time {start_s:.3f} s is not before the end time {end:.3f} s")
    return float(start_s), end


def iter_frames(
    path: str | os.PathLike,
    fps: float,
    size: Size = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    info: MediaInfo | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """An iterator of ``(time_s, rgb)`` at ``start_s + k / fps`` up to ``end_s`` (default: the end).

    ``rgb`` is uint8 (H, W, 3) shaped by ``size`` (see the module docstring). One frame is held at
    a time, so memory stays constant on long videos. The same array object is yielded again while
    the source frame does not change (when ``fps`` exceeds the video's rate): copy it to keep it.
    Arguments are checked when called; pass ``info`` from ``probe_media`` to skip probing again.
    """
    info, video = _open_video(path, info)
    start, end = _checked_range(video, fps, start_s, end_s)
    geometry = _geometry(video, size)
    return _frames_at_times(path, video, sample_times(float(fps), start, end), geometry)


def read_frames(
    path: str | os.PathLike,
    fps: float,
    size: Size = None,
    start_s: float = 0.0,
    end_s: float | None = None,
    info: MediaInfo | None = None,
) -> np.ndarray:
    """All frames of :func:`iter_frames` stacked: uint8 (T, H, W, 3), T = ceil((end - start) * fps)."""
    info, video = _open_video(path, info)
    start, end = _checked_range(video, fps, start_s, end_s)
    geometry = _geometry(video, size)
    times = sample_times(float(fps), start, end)
    frames = np.empty((len(times), *geometry.output_shape), np.uint8)
    for i, (_, rgb) in enumerate(_frames_at_times(path, video, times, geometry)):
        frames[i] = rgb
    return frames


class FrameReader:
    """Keeps a video open for many ``frame_at`` calls in any order (a playhead, scrubbing).

    Use as a context manager, or call ``close``. Not thread-safe: one reader per thread.
    """

    def __init__(self, path: str | os.PathLike, size: Size = None, info: MediaInfo | None = None) -> None:
        self.info, self.video = _open_video(path, info)
        self._geometry = _geometry(self.video, size)
        self._opened = open_container(path)
        container = self._opened.__enter__()
        try:
            stream = first_video_stream(container)
            stream.thread_type = "AUTO"
            self._locator = _FrameLocator(container, stream, self.video)
        except BaseException:
            self.close()
            raise

    def frame_at(self, time_s: float) -> np.ndarray:
        """The frame on screen at ``time_s`` as uint8 (H, W, 3); frame accurate."""
        if not math.isfinite(time_s) or time_s < 0 or time_s >= self.video.duration_s:
            raise UserInputError(
                f"time {time_s} s is outside {self.info.path.name} (0 to {self.video.duration_s:.3f} s)"
            )
        return _to_array(self._locator.frame_at(float(time_s)), self._geometry)

    def close(self) -> None:
        self._opened.__exit__(None, None, None)

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def frame_at(path: str | os.PathLike, time_s: float, size: Size = None, info: MediaInfo | None = None) -> np.ndarray:
    """The frame on screen at ``time_s`` as uint8 (H, W, 3); frame accurate (seek + decode).

    Opens the file for this one frame; use :class:`FrameReader` for many.
    """
    with FrameReader(path, size, info) as reader:
        return reader.frame_at(time_s)


def thumbnails(
    path: str | os.PathLike, count: int, height: int, info: MediaInfo | None = None
) -> list[tuple[float, np.ndarray]]:
    """``count`` evenly spaced ``(time_s, rgb)`` thumbnails, ``height`` pixels tall, for a timeline.

    Thumbnail i shows the middle of the i-th of ``count`` equal slices of the video, which keeps
    away from the (often black) first frame and the very end. Width follows the display aspect.
    """
    info, video = _open_video(path, info)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise UserInputError(f"thumbnail count must be a whole number >= 1, got {count!r}")
    if isinstance(height, bool) or not isinstance(height, int) or height < 1:
        raise UserInputError(f"thumbnail height must be a whole number >= 1, got {height!r}")
    display_w, display_h = video.display_size
    width = max(1, round(height * display_w / display_h))
    geometry = _geometry(video, (width, height))
    times = [(i + 0.5) * video.duration_s / count for i in range(count)]
    return [(t, rgb.copy()) for t, rgb in _frames_at_times(path, video, times, geometry)]
