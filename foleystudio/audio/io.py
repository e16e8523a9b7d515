"""Reading audio from sound files and from the audio track of videos, whole or streamed.

Backends: soundfile (libsndfile) for WAV/BWF/RF64/W64, FLAC, Ogg Vorbis/Opus, AIFF and CAF; PyAV
(FFmpeg) for everything else: MP3 (libsndfile 1.2's MP3 reading depends on the read sizes), AAC/M4A
and the audio track of mp4/mov/mkv/webm/avi. The first audio stream of a container is used.

Samples come out as float32 (channels, samples), full scale +-1, in the file's channel order unless
``channels`` asks for mono or stereo:
    mono -> stereo    the channel duplicated;
    stereo -> mono    the mean of left and right;
    surround -> stereo ITU-R BS.775 downmix: L + 0.707 C + 0.707 Ls, R + 0.707 C + 0.707 Rs (side
                      and back surrounds alike), LFE dropped, *no* normalisation, so a sound keeps
                      its loudness (a full-scale 5.1 mix can exceed 1.0; the data is float);
    surround -> mono  the mean of that stereo downmix.
Channel positions come from the stream's layout (PyAV) or the WAVE order for the count (soundfile:
3 = L R C, 4 = L R Ls Rs, 5 = L R C Ls Rs, 6 = 5.1, 7 = 6.1, 8 = 7.1).

Time 0 is the first decoded sample of the stream (the encoder's priming is dropped where the file
records it); an offset between a video's audio and picture start is not applied.

``sample_rate`` resamples with foleystudio.audio.resample (torchaudio Kaiser sinc, streamed in
constant memory, identical to resampling the whole file). A float file holding NaN or infinity is
rejected, naming the second of the first bad sample.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

from foleystudio.audio.resample import StreamResampler, resampled_length
from foleystudio.audio.channels import SPEAKERS, WAVE_ORDER
from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.probe import check_input_file, open_container

logger = logging.getLogger(__name__)

DEFAULT_BLOCK_S = 1.0
_SOURCE_BLOCK_FRAMES = 65536
# Formats read with soundfile. MP3 is left to FFmpeg: libsndfile 1.2 decodes it differently
# depending on how it is read in pieces, and seeks inexactly.
_SOUNDFILE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "OGG", "AIFF", "CAF"})
@dataclass(frozen=True)
class AudioInfo:
    """An audio file, or the first audio track of a video."""

    path: Path
    backend: str  # "soundfile" or "pyav"
    format: str  # soundfile's format ("WAV", "FLAC", ...) or FFmpeg's demuxer name
    codec: str  # soundfile's subtype ("PCM_24", "FLOAT", ...) or FFmpeg's codec name ("aac")
    sample_rate: int
    channels: int
    frames: int  # samples per channel; estimated from the duration for the PyAV backend
    duration_s: float
    positions: tuple[str, ...]  # speaker of each channel ("FL", "FR", "FC", "LFE", ...)
    stream_index: int | None = None  # the container stream read (PyAV backend)


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Describe the audio of ``path``; MediaError if it has none or cannot be read."""
    path = check_input_file(path)
    info = _soundfile_info(path)
    return info if info is not None else _pyav_info(path)


def _soundfile_info(path: Path) -> AudioInfo | None:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError):
        return None  # not a format libsndfile reads: PyAV will try
    if info.format not in _SOUNDFILE_FORMATS or info.samplerate <= 0 or info.channels <= 0:
        return None
    return AudioInfo(
        path=path,
        backend="soundfile",
        format=info.format,
        codec=info.subtype,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        duration_s=info.frames / info.samplerate,
        positions=_default_positions(info.channels),
    )


def _pyav_info(path: Path) -> AudioInfo:
    with open_container(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path.name} has no audio stream")
        stream = container.streams.audio[0]
        context = stream.codec_context
        if not context.sample_rate or not context.channels:
            raise MediaError(f"{path.name}: the audio stream has no sample rate or channel count")
        duration = _stream_seconds(container, stream)
        layout = context.layout
        positions = tuple(c.name for c in layout.channels) if layout is not None else ()
        if len(positions) != context.channels or any(p.startswith("USR") or p == "NONE" for p in positions):
            positions = _default_positions(context.channels)
        return AudioInfo(
            path=path,
            backend="pyav",
            format=container.format.name,
            codec=context.name,
            sample_rate=int(context.sample_rate),
            channels=int(context.channels),
            frames=int(round(duration * context.sample_rate)),
            duration_s=duration,
            positions=positions,
            stream_index=stream.index,
        )


def _stream_seconds(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _default_positions(channels: int) -> tuple[str, ...]:
    return WAVE_ORDER.get(channels, tuple(f"CH{i + 1}" for i in range(channels)))


# --- channel mapping --------------------------------------------------------------------------


def convert_channels(audio: np.ndarray, channels: int | None, positions: tuple[str, ...] | None = None) -> np.ndarray:
    """Map (C, N) audio to ``channels`` (1, 2 or None to keep), see the module docstring."""
    source = audio.shape[0]
    if channels is None or channels == source:
        return audio
    positions = positions or _default_positions(source)
    if channels == 2:
        return _to_stereo(audio, positions)
    if channels == 1:
        return (_to_stereo(audio, positions) if source > 2 else audio).mean(axis=0, keepdims=True)
    raise UserInputError(f"can convert audio to 1 or 2 channels, not {channels}")


def _to_stereo(audio: np.ndarray, positions: tuple[str, ...]) -> np.ndarray:
    if audio.shape[0] == 1:
        return np.repeat(audio, 2, axis=0)
    unknown = [p for p in positions if p not in SPEAKERS]
    if unknown:
        raise MediaError(
            f"cannot mix {audio.shape[0]} channels ({', '.join(positions)}) down to stereo: "
            f"unknown speaker position {unknown[0]}"
        )
    matrix = np.array([(SPEAKERS[p].left, SPEAKERS[p].right) for p in positions], np.float32).T  # (2, C)
    return (matrix @ audio).astype(np.float32, copy=False)


def _checked_channels(channels) -> int | None:
    if channels is None:
        return None
    if channels not in (1, 2) or isinstance(channels, bool):
        raise UserInputError(f"channels must be 1 (mono), 2 (stereo) or None, got {channels!r}")
    return int(channels)


# --- the source: float32 blocks at the file's rate --------------------------------------------


def _check_finite(block: np.ndarray, first_frame: int, info: AudioInfo) -> None:
    finite = np.isfinite(block)
    if finite.all():
        return
    bad_frame = first_frame + int(np.argmin(finite.all(axis=0)))
    raise MediaError(
        f"{info.path.name}: contains NaN or infinite samples (first at {bad_frame / info.sample_rate:.2f} s)"
    )


def _source_blocks(info: AudioInfo, start: int, count: int | None) -> Iterator[np.ndarray]:
    """Float32 (C, n) blocks of samples [start, start + count) at the file's own rate."""
    reader = _soundfile_blocks if info.backend == "soundfile" else _pyav_blocks
    position = start
    for block in reader(info, start, count):
        _check_finite(block, position, info)
        position += block.shape[1]
        yield block


def _soundfile_blocks(info: AudioInfo, start: int, count: int | None) -> Iterator[np.ndarray]:
    try:
        with sf.SoundFile(str(info.path)) as file:
            if start:
                file.seek(start)
            remaining = file.frames - start if count is None else count
            while remaining > 0:
                block = file.read(min(_SOURCE_BLOCK_FRAMES, remaining), dtype="float32", always_2d=True)
                if len(block) == 0:
                    break
                remaining -= len(block)
                yield block.T
    except (sf.LibsndfileError, RuntimeError, OSError) as error:
        raise MediaError(f"{info.path.name}: cannot be read ({error})") from error


def _pyav_blocks(info: AudioInfo, start: int, count: int | None) -> Iterator[np.ndarray]:
    """Decode with PyAV; trims to the range using the first decoded frame's timestamp."""
    end = None if count is None else start + count
    with open_container(info.path) as container:
        stream = container.streams[info.stream_index]
        try:
            position = _pyav_seek(container, stream, start, info.sample_rate)
            frames = container.decode(stream)
            first = next(frames, None)
            if first is None:
                return
            if position is None:
                position = _frame_position(first, stream, info.sample_rate)
                if position > start:  # the seek overshot: read from the top instead
                    logger.info("%s: audio seek landed late; decoding from the start", info.path.name)
                    container.seek(stream.start_time or 0, stream=stream, backward=True)
                    frames = container.decode(stream)
                    first, position = next(frames, None), 0
            for frame in _chain(first, frames):
                samples = _frame_samples(frame, info.channels)
                block_start, position = position, position + samples.shape[1]
                lo = max(0, start - block_start)
                hi = samples.shape[1] if end is None else min(samples.shape[1], end - block_start)
                if hi > lo:
                    yield samples[:, lo:hi]
                if end is not None and position >= end:
                    return
        except av.FFmpegError as error:
            raise MediaError(f"{info.path.name}: the audio cannot be decoded ({error.strerror or error})") from error


def _chain(first, rest):
    if first is not None:
        yield first
    yield from rest


def _pyav_seek(container, stream, start: int, sample_rate: int) -> int | None:
    """Seek near ``start``; the sample position decoding resumes at, or None to read it off."""
    if start == 0:
        return 0  # decode from the beginning, counting samples as they come
    # Half a second early: audio seeks land on a packet boundary, possibly after the target.
    target_s = max(0.0, start / sample_rate - 0.5)
    base = stream.start_time or 0
    container.seek(base + int(target_s / stream.time_base), stream=stream, backward=True)
    return None


def _frame_position(frame, stream, sample_rate: int) -> int:
    if frame.pts is None:
        return 0
    base = stream.start_time or 0
    return int(round((frame.pts - base) * frame.time_base * sample_rate))


def _frame_samples(frame, channels: int) -> np.ndarray:
    """A decoded AudioFrame as float32 (C, n), whatever its sample format."""
    data = frame.to_ndarray()
    if not frame.format.is_planar:
        data = data.reshape(-1, channels).T
    kind = frame.format.name.rstrip("p")
    if kind in ("flt", "dbl"):
        return data.astype(np.float32, copy=False)
    if kind == "u8":
        return (data.astype(np.float32) - 128.0) / 128.0
    scale = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}[kind]
    return (data.astype(np.float64) / scale).astype(np.float32)


# --- public readers ---------------------------------------------------------------------------


def _frame_range(info: AudioInfo, start_s: float, duration_s: float | None) -> tuple[int, int | None]:
    if not math.isfinite(start_s) or start_s < 0:
        raise UserInputError(f"start time must be >= 0 s, got {start_s!r}")
    if duration_s is not None and (not math.isfinite(duration_s) or duration_s <= 0):
        raise UserInputError(f"duration must be > 0 s, got {duration_s!r}")
    start = int(round(start_s * info.sample_rate))
    if info.duration_s > 0 and start_s >= info.duration_s:
        raise UserInputError(f"start time {start_s:.3f} s is past the end of {info.path.name} ({info.duration_s:.3f} s)")
    count = None if duration_s is None else int(round(duration_s * info.sample_rate))
    if count is not None and info.backend == "soundfile":
        count = min(count, info.frames - start)
    return start, count


class AudioBlocks:
    """An iterable of float32 (C, n) blocks of a file's audio; see :func:`iter_audio_blocks`.

    ``sample_rate`` and ``channels`` describe the blocks; ``info`` the file. Every block holds
    ``block_frames`` samples except the last, which may be shorter. Iterating opens the file, so an
    ``AudioBlocks`` can be iterated more than once; breaking out early closes the file.
    """

    def __init__(self, info: AudioInfo, block_frames: int, sample_rate: int, channels: int,
                 start_s: float, duration_s: float | None) -> None:
        self.info = info
        self.block_frames = block_frames
        self.sample_rate = sample_rate
        self.channels = channels
        self._range = _frame_range(info, start_s, duration_s)
        self._target_channels = channels if channels != info.channels else None

    def __iter__(self) -> Iterator[np.ndarray]:
        start, count = self._range
        resampler = StreamResampler(self.info.sample_rate, self.sample_rate, self.channels)
        buffer = _BlockBuffer(self.channels, self.block_frames)
        for block in _source_blocks(self.info, start, count):
            mapped = convert_channels(block, self._target_channels, self.info.positions)
            yield from buffer.push(resampler.process(mapped))
        yield from buffer.push(resampler.flush())
        yield from buffer.rest()


class _BlockBuffer:
    """Re-cuts a stream of arbitrarily sized (C, n) pieces into blocks of a fixed length."""

    def __init__(self, channels: int, block_frames: int) -> None:
        self._block_frames = block_frames
        self._pieces: list[np.ndarray] = []
        self._held = 0
        self._channels = channels

    def push(self, piece: np.ndarray) -> Iterator[np.ndarray]:
        if piece.shape[1]:
            self._pieces.append(piece)
            self._held += piece.shape[1]
        while self._held >= self._block_frames:
            joined = np.concatenate(self._pieces, axis=1) if len(self._pieces) > 1 else self._pieces[0]
            yield np.ascontiguousarray(joined[:, : self._block_frames], dtype=np.float32)
            rest = joined[:, self._block_frames :]
            self._pieces = [rest] if rest.shape[1] else []
            self._held = rest.shape[1]

    def rest(self) -> Iterator[np.ndarray]:
        if self._held:
            yield np.ascontiguousarray(np.concatenate(self._pieces, axis=1), dtype=np.float32)
        self._pieces, self._held = [], 0


def iter_audio_blocks(
    path: str | os.PathLike,
    block_s: float | None = None,
    block_frames: int | None = None,
    sample_rate: int | None = None,
    channels: int | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> AudioBlocks:
    """Stream the audio of ``path`` in blocks, in constant memory (for files of hours).

    Block length: ``block_frames`` samples at the output rate, or ``block_s`` seconds (default
    1 s). ``sample_rate`` resamples (streamed), ``channels`` (1 or 2) mixes; both default to the
    file's. The result is iterable and knows its ``sample_rate`` and ``channels``::

        blocks = iter_audio_blocks("mix.wav", block_s=0.5, channels=2)
        for block in blocks:           # float32 (2, n), n = 0.5 * blocks.sample_rate but the last
            meter.add(block, blocks.sample_rate)

    Errors (missing file, no audio, NaN samples, ...) are MediaError; the file is checked when
    this is called and the samples when they are read.
    """
    info = audio_info(path)
    channels = _checked_channels(channels)
    out_rate = info.sample_rate if sample_rate is None else sample_rate
    if isinstance(out_rate, bool) or not isinstance(out_rate, (int, np.integer)) or out_rate <= 0:
        raise UserInputError(f"sample rate must be a positive whole number of Hz, got {sample_rate!r}")
    if block_frames is not None and block_s is not None:
        raise UserInputError("give the block length as block_s or block_frames, not both")
    if block_frames is None:
        seconds = DEFAULT_BLOCK_S if block_s is None else block_s
        if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
            raise UserInputError(f"block length must be > 0 s, got {block_s!r}")
        block_frames = max(1, int(round(seconds * out_rate)))
    elif isinstance(block_frames, bool) or not isinstance(block_frames, (int, np.integer)) or block_frames < 1:
        raise UserInputError(f"block length must be a whole number of samples >= 1, got {block_frames!r}")
    out_channels = info.channels if channels is None else channels
    return AudioBlocks(info, int(block_frames), int(out_rate), out_channels, start_s, duration_s)


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    channels: int | None = None,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """The audio of ``path`` as (float32 (C, N), sample_rate); see the module docstring.

    ``start_s``/``duration_s`` select a stretch (in seconds of the file); the result holds
    ceil(source samples x new rate / file rate) samples. Reads the whole stretch into memory: use
    :func:`iter_audio_blocks` for long files.
    """
    blocks = iter_audio_blocks(path, block_frames=1 << 20, sample_rate=sample_rate, channels=channels,
                               start_s=start_s, duration_s=duration_s)
    pieces = list(blocks)
    if not pieces:
        return np.zeros((blocks.channels, 0), np.float32), blocks.sample_rate
    return np.concatenate(pieces, axis=1), blocks.sample_rate


def expected_frames(info: AudioInfo, sample_rate: int) -> int:
    """Samples per channel the whole file yields at ``sample_rate`` (estimate for PyAV files)."""
    return resampled_length(info.frames, info.sample_rate, sample_rate)
