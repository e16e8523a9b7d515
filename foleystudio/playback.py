"""Preview playback: a pre-rendered mix, a transport whose clock is the audio device, and outputs.

Design choices (DESIGN.md §1.6: "the audio clock is the master clock"):

* **Pre-rendered buffer.** ``PlaybackBuffer`` holds what ``foleystudio.mix.render_mix`` returns,
  the mix stored frame-major (n, 2) so the audio callback copies one contiguous slice straight into
  the device's ``outdata`` (also (frames, channels)). Stems stay channel-first for the meters.
  An edit re-renders the whole buffer and swaps it in (``Transport.set_buffer``); the callback only
  ever sees a complete buffer.
* **The audio clock is master.** ``Transport.position`` (in samples) moves only when audio is
  consumed: by the sounddevice callback, or, when there is no device, by ``NullOutput`` from a
  monotonic wall clock. The picture follows the position, never the other way round, so a slow
  video decode can drop frames but never drift the sound.
* **A minimal callback.** ``Transport.callback`` does slicing copies into ``outdata`` (no
  allocation, no logging, no file I/O), zero-fills past the end (and stops), and wraps at the loop's
  out point. A lock guards the position against a seek from the GUI thread; it is held only for
  the few microseconds a block copy takes.
* **Shuttle is heard.** J/K/L rates other than 1x (-4x..4x, reverse included) play through the
  same callback by reading the buffer at ``position + rate * k`` (the nearest earlier sample, a
  tape-like varispeed: pitch moves with speed, and 2x/4x alias a little, as a shuttle does in most
  editors); reverse 1x is the exact sample reversal. Index arithmetic runs in buffers allocated once,
  so the callback still allocates nothing. Loops apply only at 1x. Meter levels are not computed in the callback: the GUI
  reads the position and measures the buffer there (``PlaybackBuffer.block``/``layer_peaks_dbfs``,
  ``played_ranges``).
* **No device is not an error.** ``open_output`` returns a ``SoundDeviceOutput`` when PortAudio has
  an output device and the stream opens, else a ``NullOutput`` that says why ("no audio output
  device — playing silently"), so the app still plays the picture.

Qt-free: the Qt player (``foleystudio.ui.player``) drives this from a timer.
"""

from __future__ import annotations

import logging
import math
import threading
import time as _time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from foleystudio.mix import MixRender, render_mix
from foleystudio.project.document import Project

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 48000
CHANNELS = 2
MAX_RATE = 4.0  # fastest shuttle, either way
_VARISPEED_BLOCK = 4096  # varispeed index buffers (callbacks asking for more are served in pieces)
SILENCE_DBFS = float("-inf")
NO_DEVICE_REASON = "no audio output device — playing silently"


# ---- the buffer ---------------------------------------------------------------------------------
class PlaybackBuffer:
    """A rendered mix ready for playback: frame-major mix for the callback, stems for meters."""

    def __init__(self, render: MixRender) -> None:
        self.render = render
        self.sample_rate = int(render.sample_rate)
        # (n, 2) contiguous: outdata[a:b] = frames[p:p + b - a] is one memcpy-like copy.
        self.frames = np.ascontiguousarray(render.mix.T, dtype=np.float32)
        self.length = self.frames.shape[0]
        self.stems = render.stems
        self.missing = render.missing

    @classmethod
    def from_project(cls, project: Project, sample_rate: int = DEFAULT_SAMPLE_RATE) -> PlaybackBuffer:
        return cls(render_mix(project, sample_rate))

    @classmethod
    def silent(cls, seconds: float, sample_rate: int = DEFAULT_SAMPLE_RATE) -> PlaybackBuffer:
        frames = max(1, round(seconds * sample_rate))
        return cls(MixRender(sample_rate, np.zeros((CHANNELS, frames), np.float32)))

    @property
    def duration_s(self) -> float:
        return self.length / self.sample_rate

    def block(self, start: int, stop: int) -> np.ndarray:
        """The mix between two sample positions, channel-first (2, n) (a view, do not modify)."""
        start, stop = self._clamp(start, stop)
        return self.render.mix[:, start:stop]

    def layer_peaks_dbfs(self, start: int, stop: int) -> dict[str, float]:
        """Sample peak (dBFS) of each sounding layer's stem between two positions."""
        start, stop = self._clamp(start, stop)
        return {layer_id: peak_dbfs(stem[:, start:stop]) for layer_id, stem in self.stems.items()}

    def _clamp(self, start: int, stop: int) -> tuple[int, int]:
        start = min(max(0, int(start)), self.length)
        return start, min(max(start, int(stop)), self.length)


def peak_dbfs(block: np.ndarray) -> float:
    """The sample peak of a block in dBFS; -inf for silence or an empty block."""
    if block.size == 0:
        return SILENCE_DBFS
    peak = float(np.max(np.abs(block)))
    return 20.0 * math.log10(peak) if peak > 0 else SILENCE_DBFS


# ---- the transport ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Loop:
    """A loop region in samples: playback reaching ``out`` jumps back to ``start``."""

    start: int
    out: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.out <= self.start:
            raise ValueError(f"loop out point ({self.out}) must come after its in point ({self.start}) and both be >= 0")


class Transport:
    """Play/pause/seek/loop over a ``PlaybackBuffer``; the position moves only when audio is consumed.

    ``callback`` is the sounddevice stream callback; ``advance`` moves the clock without audio (for
    ``NullOutput``). Both run the same code, so silent playback behaves exactly like audible playback.
    ``reached_end`` tells the GUI that playback stopped at the end of the buffer.
    """

    def __init__(self, buffer: PlaybackBuffer) -> None:
        self._lock = threading.Lock()
        self._buffer = buffer
        self._position = 0
        self._fraction = 0.0  # varispeed: how far past ``_position`` the read head is (0 <= f < 1)
        self._rate = 1.0
        self._ramp = np.arange(_VARISPEED_BLOCK, dtype=np.float64)
        self._read_at = np.empty(_VARISPEED_BLOCK, dtype=np.float64)
        self._indices = np.empty(_VARISPEED_BLOCK, dtype=np.intp)
        self._playing = False
        self._loop: Loop | None = None
        self.reached_end = False
        self.last_status = None  # the last non-empty callback status (underflows), for diagnostics

    # ---- state, read by the GUI ----
    @property
    def buffer(self) -> PlaybackBuffer:
        return self._buffer

    @property
    def sample_rate(self) -> int:
        return self._buffer.sample_rate

    @property
    def position(self) -> int:
        return self._position

    @property
    def position_s(self) -> float:
        return self._position / self._buffer.sample_rate

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def loop(self) -> Loop | None:
        return self._loop

    @property
    def rate(self) -> float:
        """Playback speed: 1 normal, negative backwards (J/K/L shuttle)."""
        return self._rate

    # ---- commands, from the GUI thread ----
    def play(self, rate: float = 1.0) -> None:
        """Play at ``rate`` (1 normal; -4..4, not 0); at 1x from the top when at the end."""
        rate = float(rate)
        if not (math.isfinite(rate) and rate != 0.0 and abs(rate) <= MAX_RATE):
            raise ValueError(f"playback rate must be between -{MAX_RATE:g} and {MAX_RATE:g} and not 0, got {rate}")
        with self._lock:
            if rate > 0 and self._position >= self._buffer.length:
                self._position = self._loop.start if self._loop else 0  # play again from the top
            self._rate = rate
            self._fraction = 0.0
            self._playing = True
            self.reached_end = False

    def pause(self) -> None:
        with self._lock:
            self._playing = False

    def seek(self, position: int) -> None:
        with self._lock:
            self._position = min(max(0, int(position)), self._buffer.length)
            self._fraction = 0.0
            self.reached_end = False

    def seek_s(self, seconds: float) -> None:
        self.seek(round(seconds * self._buffer.sample_rate))

    def set_loop(self, loop: Loop | None) -> None:
        if loop is not None and loop.out > self._buffer.length:
            raise ValueError(f"loop out point {loop.out} is past the end ({self._buffer.length} samples)")
        with self._lock:
            self._loop = loop

    def set_buffer(self, buffer: PlaybackBuffer) -> None:
        """Swap in a re-rendered buffer; the position is kept (clamped), a loop past the end dropped."""
        with self._lock:
            self._buffer = buffer
            self._position = min(self._position, buffer.length)
            if self._loop is not None and self._loop.out > buffer.length:
                self._loop = None

    # ---- the clock ----
    def callback(self, outdata, frames, time, status) -> None:
        """sounddevice's OutputStream callback: copy the next ``frames`` samples into ``outdata``."""
        if status:
            self.last_status = status
        with self._lock:
            self._run(frames, outdata)

    def advance(self, frames: int) -> None:
        """Consume ``frames`` samples without sound (the clock of ``NullOutput``)."""
        with self._lock:
            self._run(int(frames), None)

    def _run(self, frames: int, outdata) -> None:
        if not self._playing:
            if outdata is not None:
                outdata.fill(0)
            return
        if self._rate != 1.0:
            self._run_varispeed(frames, outdata)
            return
        source = self._buffer.frames
        length = self._buffer.length
        loop = self._loop
        position, written = self._position, 0
        while written < frames:
            looping = loop is not None and position < loop.out
            end = loop.out if looping else length
            count = min(frames - written, end - position)
            if count > 0:
                if outdata is not None:
                    outdata[written : written + count] = source[position : position + count]
                position += count
                written += count
            if position >= end:
                if looping:
                    position = loop.start
                    continue
                self._playing = False
                self.reached_end = True
                break
        if outdata is not None and written < frames:
            outdata[written:].fill(0)
        self._position = position

    def _run_varispeed(self, frames: int, outdata) -> None:
        """Output sample k reads the buffer at ``head + rate * k`` forwards and ``head + rate * (k + 1)``
        backwards (so reverse 1x from p plays p-1, p-2, ...); the head moves by ``rate`` per sample."""
        written = 0
        while written < frames and self._playing:
            count = min(frames - written, _VARISPEED_BLOCK)
            playable = self._playable(count)
            if playable and outdata is not None:
                self._read(playable, outdata[written : written + playable])
            head = self._position + self._fraction + self._rate * playable
            self._position, self._fraction = int(math.floor(head)), head - math.floor(head)
            written += playable
            if playable < count:
                self._position = min(max(0, self._position), self._buffer.length)
                self._fraction = 0.0
                self._playing = False
                self.reached_end = True
        if outdata is not None and written < frames:
            outdata[written:].fill(0)

    def _playable(self, count: int) -> int:
        """How many of the next ``count`` output samples still read inside the buffer."""
        head = self._position + self._fraction
        if self._rate > 0:
            room = math.ceil((self._buffer.length - head) / self._rate)
        else:
            room = math.floor(head / -self._rate + 1e-9)
        return max(0, min(count, room))

    def _read(self, count: int, out: np.ndarray) -> None:
        read_at = self._read_at[:count]
        np.multiply(self._ramp[:count], self._rate, out=read_at)
        read_at += self._position + self._fraction + (self._rate if self._rate < 0 else 0.0)
        np.floor(read_at, out=read_at)
        indices = self._indices[:count]
        np.copyto(indices, read_at, casting="unsafe")
        np.clip(indices, 0, self._buffer.length - 1, out=indices)
        np.take(self._buffer.frames, indices, axis=0, out=out)


def played_ranges(previous: int, current: int, loop: Loop | None) -> list[tuple[int, int]]:
    """The sample ranges played going from ``previous`` to ``current`` (a loop may have wrapped).

    When ``current`` is behind ``previous`` and a loop is set, playback went to the out point and
    came round again: [previous, out) then [start, current). Otherwise a backwards move is a seek
    and nothing was played.
    """
    if current >= previous:
        return [(previous, current)] if current > previous else []
    if loop is None or previous > loop.out or current < loop.start:
        return []
    ranges = [(previous, loop.out)] if loop.out > previous else []
    if current > loop.start:
        ranges.append((loop.start, current))
    return ranges


# ---- outputs ------------------------------------------------------------------------------------
class NullOutput:
    """No sound: the transport's clock advances from a monotonic clock each time ``poll`` is called.

    Call ``poll`` before every transport command and on each GUI tick, so time that passed while
    playing is consumed and time that passed while paused is not. Fractions of a sample carry over,
    so the position never drifts from the wall clock.
    """

    audible = False
    latency_s = 0.0

    def __init__(self, transport: Transport, reason: str = NO_DEVICE_REASON,
                 clock: Callable[[], float] = _time.perf_counter) -> None:
        self.transport = transport
        self.reason = reason
        self._clock = clock
        self._last = clock()
        self._carry = 0.0

    def poll(self) -> None:
        now = self._clock()
        elapsed, self._last = max(0.0, now - self._last), now
        if not self.transport.playing:
            self._carry = 0.0
            return
        exact = elapsed * self.transport.sample_rate + self._carry
        frames = math.floor(exact)
        self._carry = exact - frames
        if frames:
            self.transport.advance(frames)

    def close(self) -> None:
        pass


class SoundDeviceOutput:
    """The default output device through sounddevice; its callback is ``Transport.callback``.

    The stream runs from open to close (paused playback outputs zeros), so pressing play starts
    sound within one device block.
    """

    audible = True
    reason = ""

    def __init__(self, transport: Transport, device=None, blocksize: int = 0) -> None:
        import sounddevice

        self.transport = transport
        self._stream = sounddevice.OutputStream(
            samplerate=transport.sample_rate,
            channels=CHANNELS,
            dtype="float32",
            device=device,
            blocksize=blocksize,
            callback=transport.callback,
        )
        self._stream.start()
        self.latency_s = float(self._stream.latency or 0.0)

    def poll(self) -> None:
        pass  # the device's callback moves the clock

    def close(self) -> None:
        if self._stream is not None:
            try:
                self._stream.stop()
                self._stream.close()
            except Exception:  # a device that vanished must not stop the app closing
                logger.exception("closing the audio stream failed")
            self._stream = None


def output_sample_rate(default: int = DEFAULT_SAMPLE_RATE) -> int:
    """The default output device's native rate (so nothing resamples), or ``default`` without one."""
    try:
        import sounddevice

        rate = sounddevice.query_devices(kind="output")["default_samplerate"]
        return int(rate) if rate and rate > 0 else default
    except Exception:  # no PortAudio, no device: render at the default rate
        return default


def open_output(transport: Transport, device=None, clock: Callable[[], float] = _time.perf_counter):
    """A ``SoundDeviceOutput`` when there is a working output device, else a ``NullOutput`` with why."""
    try:
        import sounddevice
    except OSError as error:  # sounddevice raises OSError when the PortAudio library is missing
        logger.warning("audio output unavailable (%s)", error)
        return NullOutput(transport, f"audio library unavailable ({error}) — playing silently", clock)
    try:
        sounddevice.query_devices(device=device, kind="output")
    except Exception as error:
        logger.info("no audio output device (%s)", error)
        return NullOutput(transport, NO_DEVICE_REASON, clock)
    try:
        return SoundDeviceOutput(transport, device)
    except Exception as error:
        logger.warning("opening the audio output failed: %s", error)
        return NullOutput(transport, f"audio output failed to open ({error}) — playing silently", clock)


class Audition:
    """One sound file played on its own (a reference sound before it is used), from the start.

    Opens its own output like the project's playback does, so without a device it is silent and
    ``reason`` says why; ``close`` stops it.
    """

    def __init__(self, path, device=None, clock: Callable[[], float] = _time.perf_counter) -> None:
        from foleystudio.audio.io import read_audio

        rate = output_sample_rate()
        audio, _ = read_audio(path, sample_rate=rate, channels=CHANNELS)
        self.transport = Transport(PlaybackBuffer(MixRender(rate, np.ascontiguousarray(audio, dtype=np.float32))))
        self.output = open_output(self.transport, device, clock)
        self.transport.play()

    @property
    def reason(self) -> str | None:
        """Why nothing is heard (no device), or None when it is audible."""
        return None if self.output.audible else self.output.reason

    def close(self) -> None:
        self.transport.pause()
        self.output.close()
