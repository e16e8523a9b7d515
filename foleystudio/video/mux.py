"""The review MP4: the original picture, untouched, with the Foley mix as a stereo AAC track.

The video packets are copied (remuxed), never re-encoded, so the picture is bit-identical and the
export is fast. The mix is encoded with FFmpeg's native AAC encoder at its own sample rate (48 kHz
for film/TV stems) and fitted to the video's duration: cut if longer, padded with silence if
shorter. Audio time 0 is the first video frame. Audio packets are written interleaved with the
video as it is copied, so memory stays constant on long videos. The file goes through
foleystudio.atomic (never overwrites unless asked, never left half-written).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from foleystudio.atomic import atomic_output
from foleystudio.errors import MediaError, OutputError, UserInputError
from foleystudio.video.probe import first_video_stream, open_container, probe_media

logger = logging.getLogger(__name__)

AAC_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
AAC_BIT_RATE = 256_000
AAC_FRAME_SAMPLES = 1024
# Audio is written this far ahead of the video packet being copied, so players find both close.
_INTERLEAVE_AHEAD_S = 0.5


def _checked_mix(audio, sample_rate) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 2 or audio.shape[0] != 2:
        raise UserInputError(f"the review mix must be stereo audio of shape (2, samples), got shape {audio.shape}")
    if not np.issubdtype(audio.dtype, np.floating):
        raise UserInputError(f"the review mix must be floating point, got {audio.dtype}")
    if not np.isfinite(audio).all():
        raise UserInputError("the review mix contains NaN or infinite samples")
    if isinstance(sample_rate, bool) or sample_rate not in AAC_SAMPLE_RATES:
        raise UserInputError(f"AAC cannot be written at {sample_rate!r} Hz; use 44100 or 48000")
    return audio.astype(np.float32, copy=False)


def _fitted(audio: np.ndarray, frames: int) -> np.ndarray:
    """``audio`` cut or padded with silence to exactly ``frames`` samples."""
    if audio.shape[1] >= frames:
        return audio[:, :frames]
    return np.pad(audio, ((0, 0), (0, frames - audio.shape[1])))


class _AudioWriter:
    """Encodes the mix to AAC on demand, up to a given time, and muxes the packets."""

    def __init__(self, output, audio: np.ndarray, sample_rate: int, start_s: float) -> None:
        self._output = output
        self._audio = audio
        self._rate = sample_rate
        self._offset = int(round(start_s * sample_rate))  # audio pts start at the first video frame
        self._written = 0
        self._stream = output.add_stream("aac", rate=sample_rate)
        self._stream.layout = "stereo"
        self._stream.bit_rate = AAC_BIT_RATE

    def write_until(self, time_s: float | None) -> None:
        """Encode the mix up to ``time_s`` seconds (None: to the end, and flush the encoder)."""
        end = self._audio.shape[1] if time_s is None else min(self._audio.shape[1], int(time_s * self._rate))
        while self._written < end:
            block = np.ascontiguousarray(self._audio[:, self._written : self._written + AAC_FRAME_SAMPLES])
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate = self._rate
            frame.time_base = Fraction(1, self._rate)
            frame.pts = self._offset + self._written
            self._output.mux(self._stream.encode(frame))
            self._written += block.shape[1]
        if time_s is None:
            self._output.mux(self._stream.encode(None))


def write_review_mp4(
    video_path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    out_path: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """Write ``out_path``: the picture of ``video_path`` (copied) plus ``audio`` as stereo AAC.

    ``audio`` is float (2, N) at ``sample_rate``; it is fitted to the video's duration. MediaError
    if the video cannot be read, OutputError if ``out_path`` exists (without ``overwrite``) or
    cannot be written, UserInputError for a bad mix.
    """
    audio = _checked_mix(audio, sample_rate)
    info = probe_media(video_path)
    if info.video is None:
        raise MediaError(f"{info.path.name} has no video stream")
    audio = _fitted(audio, int(round(info.video.duration_s * sample_rate)))
    with atomic_output(out_path, overwrite) as temporary:
        try:
            _remux(video_path, info.video.start_s, audio, sample_rate, temporary)
        except av.FFmpegError as error:
            raise OutputError(
                f"cannot write {Path(out_path).name}: {info.video.codec} video into MP4 failed "
                f"({error.strerror or error})"
            ) from error
    logger.info("wrote review MP4 %s (%.2f s)", out_path, info.video.duration_s)
    return Path(out_path)


def _remux(video_path, start_s: float, audio: np.ndarray, sample_rate: int, out_path: Path) -> None:
    with open_container(video_path) as source:
        video_in = first_video_stream(source)
        with av.open(str(out_path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
            video_out = output.add_stream_from_template(video_in)
            audio_writer = _AudioWriter(output, audio, sample_rate, start_s)
            for packet in _with_decode_timestamps(source.demux(video_in)):
                time_s = float(packet.dts * packet.time_base) - start_s
                audio_writer.write_until(time_s + _INTERLEAVE_AHEAD_S)
                packet.stream = video_out
                output.mux(packet)
            audio_writer.write_until(None)


def _with_decode_timestamps(packets) -> Iterator[av.Packet]:
    """The non-empty packets, each with a decode timestamp, which MP4 requires.

    Matroska stores presentation times only, so the demuxer leaves the dts of the first packets
    of a B-frame stream unset; they are filled in one frame duration apart before the first known
    one (the same result as FFmpeg's own remux). A later gap gets the previous dts plus one.
    """
    waiting: list[av.Packet] = []
    last_dts = None
    for packet in packets:
        if packet.size == 0:
            continue  # the demuxer's empty flush packet
        if packet.dts is None and last_dts is None:
            waiting.append(packet)
            continue
        if packet.dts is None:
            packet.dts = last_dts + 1 if packet.pts is None else min(max(last_dts + 1, packet.pts), packet.pts)
        if waiting:
            yield from _backfilled(waiting, packet.dts)
            waiting = []
        last_dts = packet.dts
        yield packet
    if waiting:  # no packet had a dts at all: decode order = presentation order
        for packet in waiting:
            packet.dts = packet.pts
        yield from waiting


def _backfilled(packets: list[av.Packet], next_dts: int) -> list[av.Packet]:
    step = max(1, packets[0].duration or 1)
    for position, packet in enumerate(packets):
        packet.dts = next_dts - (len(packets) - position) * step
    return packets
