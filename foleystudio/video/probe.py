"""What a media file holds: container, duration, the video stream and the audio streams.

``probe_media`` reads headers and demuxes packets but decodes at most one video frame (to read the
display rotation), so it stays quick on long files. It is also the one place that opens media with
PyAV and turns every way a file can be bad into a one-line ``MediaError`` (``open_container``);
frames, muxing and audio reading go through it.

Frame rates are exact ``Fraction``s: 23.976 is 24000/1001, 29.97 is 30000/1001. A video whose
packet timestamps are irregular is *variable frame rate*: it is accepted and flagged
(``VideoStreamInfo.variable_frame_rate``). FoleyStudio then locates every frame by its
presentation timestamp (the frame shown at time t is the last one whose timestamp is <= t), never
by ``index / rate``, and timecode counts frames at the average rate; ``variable_frame_rate_warning``
gives the text to show the user.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
from av.stream import Disposition

from foleystudio.errors import MediaError

logger = logging.getLogger(__name__)

MIN_VIDEO_SECONDS = 1.0
# When the header states the frame count, the variable-frame-rate check looks at this many packets
# only (about 3 minutes at 30 fps), so probing a one-hour file does not read the whole file.
VFR_SCAN_PACKETS = 5000
# Timestamps may jitter by rounding to the container's time base (Matroska: 1 ms, so 23.976 fps
# gives 41 and 42 ms); a frame duration further than this fraction from the typical one is real.
VFR_TOLERANCE = 0.1
# Exact rates a measured rate is snapped to when it is within SNAP_TOLERANCE (relative): the 1001
# rates differ from the integer ones by 0.1 %, so the tolerance is far below that.
STANDARD_FRAME_RATES = tuple(
    Fraction(n, d)
    for n, d in (
        (24000, 1001), (30000, 1001), (48000, 1001), (60000, 1001), (120000, 1001),
        (8, 1), (10, 1), (12, 1), (15, 1), (24, 1), (25, 1), (30, 1), (48, 1), (50, 1),
        (60, 1), (90, 1), (100, 1), (120, 1),
    )
)
SNAP_TOLERANCE = 2e-4

# First bytes of containers we can name when FFmpeg rejects a file that claims to be one.
_SIGNATURES = (
    (4, b"ftyp", "MP4/MOV"),
    (4, b"moov", "MP4/MOV"),
    (4, b"mdat", "MP4/MOV"),
    (4, b"free", "MP4/MOV"),
    (4, b"wide", "MP4/MOV"),
    (0, b"\x1a\x45\xdf\xa3", "Matroska/WebM"),
    (0, b"RIFF", "RIFF (WAV/AVI)"),
    (0, b"OggS", "Ogg"),
    (0, b"fLaC", "FLAC"),
    (0, b"ID3", "MP3"),
    (0, b"FORM", "AIFF"),
)


@dataclass(frozen=True)
class VideoStreamInfo:
    """The first video stream (cover art in audio files does not count)."""

    index: int
    codec: str
    width: int
    height: int
    frame_rate: Fraction
    frame_count: int
    frame_count_source: str  # "header" (stated by the container) or "counted" (packets demuxed)
    duration_s: float
    start_s: float  # presentation time of the first frame in the file's clock; FoleyStudio's 0
    rotation_deg: int  # counter-clockwise degrees to rotate the decoded picture for display
    variable_frame_rate: bool
    pix_fmt: str | None

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, after the rotation."""
        if self.rotation_deg % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStreamInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str  # FFmpeg's channel layout name, e.g. "stereo", "5.1"
    duration_s: float


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_name: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"
    format_long_name: str
    duration_s: float
    video: VideoStreamInfo | None
    audio: tuple[AudioStreamInfo, ...]

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def has_audio(self) -> bool:
        return bool(self.audio)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Things the user should know before working with this file (may be empty)."""
        warning = variable_frame_rate_warning(self)
        return (warning,) if warning else ()

    def describe(self) -> str:
        """A few human-readable lines, e.g. for ``foleystudio info``."""
        lines = [
            f"file:      {self.path}",
            f"container: {self.format_long_name} ({self.format_name})",
            f"duration:  {self.duration_s:.3f} s",
        ]
        if self.video is not None:
            lines.append(_describe_video(self.video))
        for audio in self.audio:
            lines.append(
                f"audio #{audio.index}:  {audio.codec}, {audio.sample_rate} Hz, {audio.channels} ch "
                f"({audio.layout}), {audio.duration_s:.3f} s"
            )
        if not self.audio:
            lines.append("audio:     none")
        lines.extend(f"warning:   {text}" for text in self.warnings)
        return "\n".join(lines)


def _describe_video(video: VideoStreamInfo) -> str:
    rate = video.frame_rate
    rate_text = f"{float(rate):.3f} fps ({rate.numerator}/{rate.denominator})"
    if video.variable_frame_rate:
        rate_text += ", variable"
    rotation = f", rotated {video.rotation_deg} deg" if video.rotation_deg else ""
    return (
        f"video #{video.index}:  {video.codec} {video.width}x{video.height} {video.pix_fmt}, {rate_text}, "
        f"{video.frame_count} frames ({video.frame_count_source}), {video.duration_s:.3f} s{rotation}"
    )


def variable_frame_rate_warning(info: MediaInfo) -> str | None:
    """The warning to show for a variable-frame-rate video, or None for a constant-rate one."""
    if info.video is None or not info.video.variable_frame_rate:
        return None
    return (
        f"{info.path.name} has a variable frame rate (about {float(info.video.frame_rate):.3f} fps on "
        "average): frames are placed by their timestamps, and timecode and frame snapping use the "
        "average rate, so they can be off by a frame; convert it to a constant frame rate for "
        "frame-exact work."
    )


def require_video(info: MediaInfo) -> VideoStreamInfo:
    """The video stream of ``info``; MediaError if there is none or it is shorter than 1 s."""
    if info.video is None:
        raise MediaError(f"{info.path.name} has no video stream")
    if info.video.duration_s < MIN_VIDEO_SECONDS:
        raise MediaError(
            f"{info.path.name} is {info.video.duration_s:.2f} s long; FoleyStudio needs at least "
            f"{MIN_VIDEO_SECONDS:g} s of video"
        )
    return info.video


# --- opening files ---------------------------------------------------------------------------


def check_input_file(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it names a non-empty readable file; MediaError saying why not."""
    path = Path(path)
    try:
        if not path.exists():
            raise MediaError(f"{path}: file not found")
        if path.is_dir():
            raise MediaError(f"{path}: is a folder, not a media file")
        if not path.is_file():
            raise MediaError(f"{path}: not a regular file")
        if path.stat().st_size == 0:
            raise MediaError(f"{path}: file is empty (0 bytes)")
    except OSError as error:
        raise MediaError(f"{path}: cannot be read ({error.strerror or error})") from error
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    return path


@contextlib.contextmanager
def open_container(path: str | os.PathLike) -> Iterator[av.container.InputContainer]:
    """Open a media file for reading with PyAV; every failure becomes a one-line MediaError."""
    path = check_input_file(path)
    try:
        container = av.open(str(path), "r", metadata_errors="replace")
    except av.error.InvalidDataError as error:
        raise MediaError(_unreadable_message(path)) from error
    except av.FFmpegError as error:
        raise MediaError(f"{path}: cannot be opened as media ({_ffmpeg_reason(error)})") from error
    except OSError as error:
        raise MediaError(f"{path}: cannot be read ({error.strerror or error})") from error
    try:
        if not container.streams.video and not container.streams.audio:
            raise MediaError(f"{path}: not a media file (no audio or video stream could be read)")
        yield container
    finally:
        container.close()


def _unreadable_message(path: Path) -> str:
    kind = _container_kind(path)
    if kind is None:
        return f"{path}: not a media file (no audio or video stream could be read)"
    return f"{path}: looks like a {kind} file but cannot be read; it is damaged or truncated"


def _container_kind(path: Path) -> str | None:
    try:
        with open(path, "rb") as file:
            head = file.read(12)
    except OSError:
        return None
    for offset, magic, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None


def _ffmpeg_reason(error: av.FFmpegError) -> str:
    return error.strerror or type(error).__name__


def first_video_stream(container) -> av.video.stream.VideoStream | None:
    """The first real video stream; an audio file's embedded cover picture is not one."""
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:
            return stream
    return None


# --- probing ----------------------------------------------------------------------------------


def probe_media(path: str | os.PathLike) -> MediaInfo:
    """Describe the file at ``path``; MediaError if it is missing or not readable media."""
    with open_container(path) as container:
        path = Path(path)
        stream = first_video_stream(container)
        video = _probe_video(container, stream) if stream is not None else None
        audio = tuple(_probe_audio(container, s) for s in container.streams.audio)
        if video is None and not audio:
            raise MediaError(f"{path}: not a media file (no audio or video stream could be read)")
        return MediaInfo(
            path=path,
            format_name=container.format.name,
            format_long_name=container.format.long_name,
            duration_s=_container_duration(container, video, audio),
            video=video,
            audio=audio,
        )


def _container_duration(container, video, audio) -> float:
    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    durations = [video.duration_s] if video else []
    durations += [a.duration_s for a in audio]
    return max(durations, default=0.0)


def _stream_duration(container, stream) -> float | None:
    """The stream's own duration in seconds, from its header or a Matroska DURATION tag."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        with contextlib.suppress(ValueError):
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return None


def _probe_audio(container, stream) -> AudioStreamInfo:
    context = stream.codec_context
    duration = _stream_duration(container, stream)
    if duration is None:
        duration = (container.duration or 0) / av.time_base
    return AudioStreamInfo(
        index=stream.index,
        codec=context.name,
        sample_rate=int(context.sample_rate or 0),
        channels=int(context.channels or 0),
        layout=context.layout.name if context.layout is not None else "",
        duration_s=duration,
    )


@dataclass(frozen=True)
class _PacketScan:
    timestamps: list[int]  # presentation timestamps in stream time_base, sorted
    packet_count: int
    complete: bool  # every packet was seen
    rotation_deg: int


def _probe_video(container, stream) -> VideoStreamInfo:
    header_frames = int(stream.frames or 0)
    limit = VFR_SCAN_PACKETS if header_frames > 0 else None
    scan = _scan_video_packets(container, stream, limit)
    if header_frames > 0:
        frame_count, source = header_frames, "header"
    else:
        frame_count, source = scan.packet_count, "counted"
    variable = _is_variable_frame_rate(scan.timestamps)
    rate = _frame_rate(stream, scan, variable)
    start_s = float(scan.timestamps[0] * stream.time_base) if scan.timestamps else 0.0
    duration = _video_duration(container, stream, frame_count, rate, variable)
    context = stream.codec_context
    return VideoStreamInfo(
        index=stream.index,
        codec=context.name,
        width=int(context.width),
        height=int(context.height),
        frame_rate=rate,
        frame_count=frame_count,
        frame_count_source=source,
        duration_s=duration,
        start_s=start_s,
        rotation_deg=scan.rotation_deg or _rotation_from_metadata(stream),
        variable_frame_rate=variable,
        pix_fmt=context.pix_fmt,
    )


def _scan_video_packets(container, stream, limit: int | None) -> _PacketScan:
    """Demux the video packets (no decoding, except the first frame for its display matrix)."""
    timestamps: list[int] = []
    count = 0
    rotation: int | None = None
    complete = True
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the flush packet at the end
            count += 1
            if packet.pts is not None:
                timestamps.append(packet.pts)
            if rotation is None:
                rotation = _rotation_from_first_frame(stream, packet)
            if limit is not None and count >= limit:
                complete = False
                break
    except av.FFmpegError as error:
        # A damaged tail: keep what was read; decoding will stop at the same place.
        logger.warning("%s: stopped reading packets after %d: %s", container.name, count, error)
        complete = False
    return _PacketScan(sorted(timestamps), count, complete, rotation or 0)


def _rotation_from_first_frame(stream, packet) -> int | None:
    """The display-matrix rotation of the first decoded frame; None until a frame comes out."""
    try:
        frames = stream.decode(packet)
    except av.FFmpegError:
        return 0
    if not frames:
        return None
    return _normalise_rotation(frames[0].rotation)


def _rotation_from_metadata(stream) -> int:
    # The legacy "rotate" tag is clockwise; our angle is counter-clockwise.
    tag = stream.metadata.get("rotate")
    if not tag:
        return 0
    try:
        return _normalise_rotation(-float(tag))
    except ValueError:
        return 0


def _normalise_rotation(degrees: float) -> int:
    return int(round(degrees)) % 360


def _is_variable_frame_rate(timestamps: list[int]) -> bool:
    if len(timestamps) < 3:
        return False
    durations = [b - a for a, b in zip(timestamps, timestamps[1:])]
    typical = sorted(durations)[len(durations) // 2]
    allowed = max(1.5, VFR_TOLERANCE * typical)  # at least one tick of rounding either way
    return any(abs(d - typical) > allowed for d in durations)


def _frame_rate(stream, scan: _PacketScan, variable: bool) -> Fraction:
    """The exact nominal rate (CFR) or the average rate (VFR), snapped to a standard rate."""
    candidates = [stream.average_rate, stream.guessed_rate, stream.base_rate]
    if variable and len(scan.timestamps) > 1:
        span = (scan.timestamps[-1] - scan.timestamps[0]) * stream.time_base
        candidates.insert(0, (len(scan.timestamps) - 1) / span if span > 0 else None)
    for candidate in candidates:
        if candidate is not None and candidate > 0:
            return snap_frame_rate(Fraction(candidate))
    raise MediaError(f"{stream.container.name}: the video stream has no frame rate")


def snap_frame_rate(rate: Fraction) -> Fraction:
    """``rate`` replaced by the standard rate within 0.02 %, e.g. 2997/100 -> 30000/1001."""
    for standard in STANDARD_FRAME_RATES:
        if abs(rate - standard) <= SNAP_TOLERANCE * standard:
            return standard
    return rate.limit_denominator(1001)


def _video_duration(container, stream, frame_count: int, rate: Fraction, variable: bool) -> float:
    if not variable and frame_count > 0:
        return float(frame_count / rate)
    duration = _stream_duration(container, stream)
    if duration is not None:
        return duration
    if container.duration:
        return container.duration / av.time_base
    return float(frame_count / rate) if frame_count else 0.0

