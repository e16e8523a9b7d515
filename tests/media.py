"""Synthetic test media: tiny videos and audio files written into a folder (usually ``tmp_path``).

Every test that needs a media file makes it here, so the suite needs no media on disk and no network.

Videos (:func:`make_video`)
    H.264 in .mp4/.mov/.mkv, MPEG-4 Part 2 in .avi, VP9 in .webm; optional audio (AAC; 16-bit PCM
    in .avi; Opus in .webm) holding :func:`tone`, interleaved with the picture. Each picture encodes its own frame index as 8 horizontal bands (top
    band = most significant bit, white = 1), so a test can tell exactly which source frame a decoder
    returned: :func:`decode_frame_index` reads the index back from an RGB array (also after scaling
    or a centre crop, which keeps full rows). Indices count modulo 256.
    Frame ``i`` is shown from ``frame_times(...)[i]`` on; ``vfr=True`` gives irregular timestamps,
    ``frames=1`` a one-frame video, ``rotation=90`` a display matrix, ``gop`` the keyframe spacing.

Audio (:func:`make_audio`)
    wav/flac/ogg/aiff/mp3 (and other soundfile formats) through soundfile; .m4a/.mp4/.mkv/.webm
    through PyAV (AAC or Opus). The samples are ``data`` if given, else :func:`tone`.

:func:`make_video_from_images` writes any list of RGB pictures as a video.

All return the path they wrote. Example::

    from fractions import Fraction
    from tests.media import make_video, make_audio, decode_frame_index

    video = make_video(tmp_path / "clip.mp4", seconds=2, fps=Fraction(24000, 1001), with_audio=True)
    wav = make_audio(tmp_path / "ref.wav", seconds=1, rate=48000, channels=2, subtype="PCM_24")
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import soundfile as sf

INDEX_BITS = 8
DEFAULT_SIZE = (128, 96)
TONE_HZ = 440.0

# How each container suffix is filled: (video encoder, audio encoder).
_VIDEO_CODECS = {
    ".mp4": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".m4v": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".avi": ("mpeg4", "pcm_s16le"),
    ".webm": ("libvpx-vp9", "libopus"),
}
_AV_AUDIO_CODECS = {".m4a": "aac", ".mp4": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
# The irregular frame durations of a variable-frame-rate video, in units of the nominal frame time.
_VFR_DURATION_PATTERN = (1.0, 2.0, 0.5, 1.5, 1.0, 0.5)


def frame_times(seconds: float, fps: Fraction | float = Fraction(24), vfr: bool = False) -> list[Fraction]:
    """The presentation times (s) of the frames :func:`make_video` writes for these arguments.

    Constant rate: ``i / fps``. With ``vfr=True`` the durations cycle through a fixed irregular
    pattern (1, 2, 0.5, 1.5, 1, 0.5 nominal frame times) on a millisecond grid.
    """
    fps = Fraction(fps)
    if not vfr:
        return [Fraction(i) / fps for i in range(max(1, round(seconds * fps)))]
    times, now, i = [], Fraction(0), 0
    nominal_ms = 1000 / fps
    while now < seconds or not times:
        times.append(now)
        pattern = Fraction(_VFR_DURATION_PATTERN[i % len(_VFR_DURATION_PATTERN)])
        now += Fraction(round(nominal_ms * pattern), 1000)
        i += 1
    return times


def index_image(index: int, size: tuple[int, int] = DEFAULT_SIZE) -> np.ndarray:
    """An RGB picture (H, W, 3) uint8 whose horizontal bands spell ``index % 256`` in binary."""
    width, height = size
    image = np.zeros((height, width, 3), np.uint8)
    edges = np.linspace(0, height, INDEX_BITS + 1).round().astype(int)
    for bit in range(INDEX_BITS):
        if (index >> (INDEX_BITS - 1 - bit)) & 1:
            image[edges[bit] : edges[bit + 1]] = 255
    return image


def decode_frame_index(image: np.ndarray) -> int:
    """Read back the index drawn by :func:`index_image` from an RGB array (any size, 8 bands tall)."""
    gray = image.astype(np.float64).mean(axis=2)
    height = gray.shape[0]
    edges = np.linspace(0, height, INDEX_BITS + 1)
    index = 0
    for bit in range(INDEX_BITS):
        top, bottom = edges[bit], edges[bit + 1]
        margin = (bottom - top) / 4  # read the middle of the band, away from compression ringing
        band = gray[int(np.ceil(top + margin)) : int(np.floor(bottom - margin)) or None]
        index = (index << 1) | int(band.mean() > 127)
    return index


def tone(seconds: float, rate: int = 48000, channels: int = 2, freq: float = TONE_HZ, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone, float32 (channels, samples); channel c is scaled by 1 / (c + 1) to tell them apart."""
    n = int(round(seconds * rate))
    wave = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / rate)
    return np.stack([wave / (c + 1) for c in range(channels)]).astype(np.float32)


def make_video(
    path: str | Path,
    seconds: float = 2.0,
    fps: Fraction | int = Fraction(24),
    size: tuple[int, int] = DEFAULT_SIZE,
    with_audio: bool = False,
    audio_channels: int = 2,
    audio_rate: int = 48000,
    vfr: bool = False,
    gop: int = 12,
    rotation: int = 0,
    frames: int | None = None,
) -> Path:
    """Write a video whose frame ``i`` shows :func:`index_image` (i), return its path.

    ``seconds`` sets the length (``frames`` overrides the frame count, e.g. 1 for a one-frame
    video); ``fps`` is the exact nominal rate (pass ``Fraction(24000, 1001)`` for 23.976);
    ``size`` is (width, height); ``gop`` is the keyframe interval in frames (> 1 so seeking
    matters); ``vfr`` writes irregular timestamps (see :func:`frame_times`); ``rotation`` stores a
    display matrix rotating the picture by that many degrees counter-clockwise. With
    ``with_audio`` an audio track of :func:`tone` (``audio_channels`` 1, 2 or 6) as long as the video.
    """
    path = Path(path)
    video_codec, audio_codec = _VIDEO_CODECS[path.suffix.lower()]
    fps = Fraction(fps)
    times = frame_times(seconds, fps, vfr)
    if frames is not None:
        times = [Fraction(i) / fps for i in range(frames)]
    with av.open(str(path), "w") as container:
        stream = _add_video_stream(container, video_codec, fps, size, gop, vfr)
        if rotation:
            stream.set_display_rotation(rotation)
        audio_frames = iter(())
        if with_audio:
            audio = _add_audio_stream(container, audio_codec, audio_rate, audio_channels)
            samples = tone(float(times[-1] + 1 / fps), audio_rate, audio_channels)
            audio_frames = _audio_frames(audio, samples)
        pending_audio = next(audio_frames, None)
        time_base = stream.codec_context.time_base
        for i, time in enumerate(times):
            # Interleave: the audio up to this picture first (AVI indexes break otherwise).
            while pending_audio is not None and pending_audio.pts < time * audio_rate:
                container.mux(audio.encode(pending_audio))
                pending_audio = next(audio_frames, None)
            frame = av.VideoFrame.from_ndarray(index_image(i, size), format="rgb24")
            frame.pts = int(round(time / time_base))
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
        if with_audio:
            while pending_audio is not None:
                container.mux(audio.encode(pending_audio))
                pending_audio = next(audio_frames, None)
            container.mux(audio.encode())
    return path


def _add_video_stream(container, codec: str, fps: Fraction, size, gop: int, vfr: bool):
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    options = {"g": str(gop), "keyint_min": str(gop)}
    if codec == "libx264":
        # veryfast keeps B-frames (reordered timestamps, like real files) yet encodes quickly.
        options.update({"preset": "veryfast", "crf": "12", "bf": "2", "sc_threshold": "0"})
    elif codec == "libvpx-vp9":
        options.update({"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"})
    else:
        options.update({"qscale": "2"})
    stream.options = options
    if vfr:
        stream.codec_context.time_base = Fraction(1, 1000)
    else:
        stream.codec_context.time_base = 1 / fps
    return stream


def make_video_from_images(path: str | Path, images, fps: Fraction | int = Fraction(24), gop: int = 12) -> Path:
    """Write RGB uint8 (H, W, 3) ``images`` (all one size, even sides) as frames 0, 1, ... at ``fps``."""
    path = Path(path)
    images = list(images)
    height, width = images[0].shape[:2]
    fps = Fraction(fps)
    with av.open(str(path), "w") as container:
        stream = _add_video_stream(container, _VIDEO_CODECS[path.suffix.lower()][0], fps, (width, height), gop, False)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image, dtype=np.uint8), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / fps
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def _add_audio_stream(container, codec: str, rate: int, channels: int):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = _LAYOUTS[channels]
    return stream


def _audio_frames(stream, samples: np.ndarray):
    """Float32 (C, N) samples as AudioFrames sized for ``stream``'s encoder, pts in samples."""
    codec_format = stream.codec_context.format.name
    frame_size = stream.codec_context.frame_size or 1024
    layout = stream.layout.name
    rate = stream.codec_context.sample_rate
    for start in range(0, samples.shape[1], frame_size):
        block = np.ascontiguousarray(samples[:, start : start + frame_size])
        if codec_format.endswith("p"):
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(block.T.reshape(1, -1).copy(), format="flt", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        yield frame


def _encode_audio(container, stream, samples: np.ndarray) -> None:
    """Encode float32 (C, N) samples into ``stream`` and flush it."""
    for frame in _audio_frames(stream, samples):
        container.mux(stream.encode(frame))
    container.mux(stream.encode())


def make_audio(
    path: str | Path,
    seconds: float = 1.0,
    rate: int = 48000,
    channels: int = 2,
    subtype: str | None = None,
    format: str | None = None,
    data: np.ndarray | None = None,
    freq: float = TONE_HZ,
    amplitude: float = 0.5,
) -> Path:
    """Write an audio file and return its path.

    The samples are ``data`` (float (C, N), written as is) or else :func:`tone` (seconds, rate,
    channels, freq, amplitude). ``subtype``/``format`` are soundfile's (e.g. "PCM_16", "PCM_24",
    "FLOAT"; "WAV", "FLAC", "OGG", "AIFF", "MP3"); by default the suffix decides. Suffixes
    .m4a/.mp4/.mov/.mkv (AAC) and .webm (Opus, 48 kHz only) are encoded with PyAV instead.
    """
    path = Path(path)
    samples = tone(seconds, rate, channels, freq, amplitude) if data is None else np.asarray(data)
    codec = _AV_AUDIO_CODECS.get(path.suffix.lower())
    if codec is not None and format is None:
        with av.open(str(path), "w") as container:
            stream = _add_audio_stream(container, codec, rate, samples.shape[0])
            _encode_audio(container, stream, samples.astype(np.float32))
        return path
    sf.write(str(path), samples.T, rate, subtype=subtype, format=format)
    return path
