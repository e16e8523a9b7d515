"""The preview player: the session's mix through the audio output, the playhead following the audio clock.

``Player`` owns a ``foleystudio.playback.Transport`` over a pre-rendered ``PlaybackBuffer`` and an
output (the sound card, or ``NullOutput`` that plays silently from the wall clock). A QTimer
(50 Hz) reads the transport's position, which only the audio side moves, and publishes it with
``session.set_playhead``: the picture follows the sound, never the reverse. When the playhead is
moved by someone else (a timeline click), the player seeks there.

Edits that change what is heard (take selected or added/removed, gain, mute, solo, the project
length) re-render the whole buffer, debounced so a gain drag renders once it pauses. Rendering runs
on the GUI thread: a mix of a few layers renders in milliseconds per minute of picture, and a single
thread keeps the swap trivially correct.

J/K/L: ``shuttle`` plays at the rate (J = -1x, -2x, -4x; L pressed again = 2x, 4x), heard, through
the same audio clock (`foleystudio.playback.Transport` reads the buffer at that speed, backwards
too); K (rate 0) pauses.

Meters: each tick emits ``levels`` with what was played since the previous tick (the mix block for
the loudness meter, each layer's sample peak in dBFS); ``reset`` is true after a seek, when the
loudness meter must start over.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from foleystudio.playback import (
    MAX_RATE,
    SILENCE_DBFS,
    Loop,
    PlaybackBuffer,
    Transport,
    open_output,
    output_sample_rate,
    peak_dbfs,
    played_ranges,
)
from foleystudio.project.events import FieldsChanged, LayerMoved, TakeAdded
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

TICK_MS = 20
RERENDER_DELAY_MS = 40
# Fields whose change changes what is heard.
MIX_FIELDS = frozenset({"mute", "solo", "gain_db", "selected_take_id", "video_duration_s"})
# Tolerance when finding the frame under the playhead: a time k / fps stored as a float can land a
# hair before frame k.
FRAME_EPSILON = 1e-6


def affects_mix(payload) -> bool:
    """Whether a document edit changes the rendered mix (unknown edits are assumed to)."""
    if isinstance(payload, FieldsChanged):
        return bool(payload.names & MIX_FIELDS)
    return not isinstance(payload, (LayerMoved, TakeAdded))  # a new take sounds once selected


class Player(QObject):
    """Plays the session's project. Signals:

    * ``state_changed(bool)``: playing (or shuttling) started or stopped.
    * ``status_message(str)``: something the user should know (silent playback, missing takes).
    * ``levels(dict)``: what was just played: ``layers`` {layer id: peak dBFS}, ``names`` {layer id:
      name}, ``mix`` float32 (2, n) read-only, ``mix_peak_dbfs``, ``sample_rate``, ``reset`` (after a seek).
    * ``loop_changed(object)``: the loop region ``(in_s, out_s)`` or None.
    * ``rendered()``: the buffer was re-rendered after an edit.
    """

    state_changed = Signal(bool)
    status_message = Signal(str)
    levels = Signal(object)
    loop_changed = Signal(object)
    rendered = Signal()

    def __init__(
        self,
        session: Session,
        sample_rate: int | None = None,
        output_factory: Callable[[Transport], object] | None = None,
        clock: Callable[[], float] = time.perf_counter,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session = session
        self._sample_rate = int(sample_rate) if sample_rate else output_sample_rate()
        self._transport = Transport(self._render())
        factory = output_factory or (lambda transport: open_output(transport, clock=clock))
        self._output = factory(self._transport)
        self._told_silent = False
        self._moving_playhead = False
        self._metered_to = 0
        self._closed = False

        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._rerender_timer = QTimer(self)
        self._rerender_timer.setSingleShot(True)
        self._rerender_timer.setInterval(RERENDER_DELAY_MS)
        self._rerender_timer.timeout.connect(self.rerender)

        session.edited.connect(self._on_edited)
        session.project_replaced.connect(self._on_project_replaced)
        session.playhead_moved.connect(self._on_playhead_moved)
        self._transport.seek_s(session.playhead_s)
        self._metered_to = self._transport.position

    # ---- state ----------------------------------------------------------------------------------
    @property
    def transport(self) -> Transport:
        return self._transport

    @property
    def buffer(self) -> PlaybackBuffer:
        return self._transport.buffer

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    @property
    def playing(self) -> bool:
        return self._transport.playing

    @property
    def shuttle_rate(self) -> float:
        """The current J/K/L rate: 0 stopped, 1 normal playback, negative backwards."""
        return self._transport.rate if self._transport.playing else 0.0

    @property
    def output_reason(self) -> str:
        """Why playback is silent ("" when audio goes to a device)."""
        return "" if self._output.audible else self._output.reason

    @property
    def loop(self) -> tuple[float, float] | None:
        loop = self._transport.loop
        return None if loop is None else (loop.start / self._sample_rate, loop.out / self._sample_rate)

    # ---- transport commands ---------------------------------------------------------------------
    def play(self, rate: float = 1.0) -> None:
        """Play from the playhead at ``rate`` (at 1x from the top when at the end)."""
        was_playing = self.playing
        self._sync()
        self._transport.play(rate)
        self._metered_to = self._transport.position
        if not self._output.audible and not self._told_silent:
            self._told_silent = True
            self.status_message.emit(self._output.reason)
        self._timer.start()
        if not was_playing:
            self.state_changed.emit(True)

    def pause(self) -> None:
        was_playing = self.playing
        self._sync()
        self._transport.pause()
        self._timer.stop()
        if was_playing:
            self._publish_levels(self._transport.position)
            self._show_position()
            self.state_changed.emit(False)

    def toggle(self) -> None:
        """Space: pause when playing, else play."""
        if self.playing:
            self.pause()
        else:
            self.play()

    def stop(self) -> None:
        """Pause and return to the loop's in point (or the start)."""
        self.pause()
        loop = self.loop
        self.seek(loop[0] if loop else 0.0)

    def seek(self, seconds: float) -> None:
        """Move the playhead (and the audio) to ``seconds``; playing goes on from there."""
        self._sync()
        seconds = min(max(0.0, float(seconds)), self._session.project.video_duration_s)
        self._transport.seek_s(seconds)
        self._reset_meters()
        self._set_playhead(seconds)

    def set_loop(self, in_s: float, out_s: float) -> None:
        """Loop playback between two times (seconds); ValueError for an empty or outside region."""
        duration = self._session.project.video_duration_s
        if not (math.isfinite(in_s) and math.isfinite(out_s)) or in_s < 0 or out_s > duration + 1e-9:
            raise ValueError(f"loop {in_s:.3f}-{out_s:.3f} s must lie within the project (0-{duration:.3f} s)")
        if out_s <= in_s:
            raise ValueError(f"loop out point ({out_s:.3f} s) must come after its in point ({in_s:.3f} s)")
        start = round(in_s * self._sample_rate)
        out = min(round(out_s * self._sample_rate), self.buffer.length)
        self._transport.set_loop(Loop(start, out))
        self.loop_changed.emit(self.loop)

    def clear_loop(self) -> None:
        if self._transport.loop is not None:
            self._transport.set_loop(None)
            self.loop_changed.emit(None)

    def shuttle(self, rate: float) -> None:
        """J/K/L: 0 pauses, any other rate (-4..4) plays at that speed, heard (the transport checks it)."""
        if float(rate) == 0.0:
            self.pause()
        else:
            self.play(rate)

    def shuttle_forward(self) -> None:
        """L: play; pressed again while going forward, double the speed (up to 4x)."""
        rate = self.shuttle_rate
        self.shuttle(1.0 if rate <= 0 else min(MAX_RATE, rate * 2))

    def shuttle_reverse(self) -> None:
        """J: go back at -1x; pressed again, double the reverse speed (up to -4x)."""
        rate = self.shuttle_rate
        self.shuttle(-1.0 if rate >= 0 else max(-MAX_RATE, rate * 2))

    def step_frames(self, count: int) -> None:
        """Arrow keys: pause and move exactly ``count`` video frames from the frame under the playhead."""
        if self.playing:
            self.pause()
        rate = Fraction(self._session.project.frame_rate)
        frame = math.floor(self._session.playhead_s * rate + FRAME_EPSILON)
        self.seek(float(Fraction(frame + int(count)) / rate))

    def rerender(self) -> None:
        """Render the mix again from the project and swap it in without stopping playback."""
        self._rerender_timer.stop()
        had_loop = self._transport.loop is not None
        self._transport.set_buffer(self._render())
        if had_loop and self._transport.loop is None:
            self.loop_changed.emit(None)
        self.rendered.emit()

    def close(self) -> None:
        """Stop the timers, the audio stream, and listening to the session (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self._rerender_timer.stop()
        self._transport.pause()
        self._output.close()
        for signal, slot in ((self._session.edited, self._on_edited),
                             (self._session.project_replaced, self._on_project_replaced),
                             (self._session.playhead_moved, self._on_playhead_moved)):
            signal.disconnect(slot)

    # ---- internals ------------------------------------------------------------------------------
    def _render(self) -> PlaybackBuffer:
        project = self._session.project
        try:
            buffer = PlaybackBuffer.from_project(project, self._sample_rate)
        except Exception as error:  # a damaged take file must not stop the picture playing
            logger.exception("rendering the preview mix failed")
            self.status_message.emit(f"Preview mix failed ({error}) — playing silently")
            return PlaybackBuffer.silent(project.video_duration_s, self._sample_rate)
        if buffer.missing:
            self.status_message.emit(f"Take audio missing, not played: {', '.join(buffer.missing)}")
        return buffer

    def _sync(self) -> None:
        """Let a wall-clock output consume the time up to now before the state changes."""
        self._output.poll()

    def _tick(self) -> None:
        self._sync()
        self._publish_levels(self._transport.position)
        self._show_position()
        if not self._transport.playing:
            self._timer.stop()
            self.state_changed.emit(False)

    def _show_position(self) -> None:
        seconds = self._transport.position_s
        if self._transport.playing:  # what is heard now, not what was queued (backwards: ahead of it)
            seconds = max(0.0, seconds - self._transport.rate * self._output.latency_s)
        self._set_playhead(seconds)

    def _set_playhead(self, seconds: float) -> None:
        self._moving_playhead = True
        try:
            self._session.set_playhead(seconds)
        finally:
            self._moving_playhead = False

    def _reset_meters(self) -> None:
        self._metered_to = self._transport.position
        self.levels.emit(self._levels_of([], reset=True))

    def _publish_levels(self, position: int) -> None:
        ranges = played_ranges(self._metered_to, position, self._transport.loop)
        self._metered_to = position
        if ranges:
            self.levels.emit(self._levels_of(ranges, reset=False))

    def _levels_of(self, ranges: list[tuple[int, int]], reset: bool) -> dict:
        buffer = self.buffer
        blocks = [buffer.block(start, stop) for start, stop in ranges]
        mix = np.concatenate(blocks, axis=1) if blocks else np.zeros((2, 0), np.float32)
        mix.flags.writeable = False  # often a view into the playing buffer
        layers = self._session.project.layers
        peaks = {}
        for layer in layers:
            stem = buffer.stems.get(layer.id)
            peaks[layer.id] = (
                max((peak_dbfs(stem[:, start:stop]) for start, stop in ranges), default=SILENCE_DBFS)
                if stem is not None else SILENCE_DBFS
            )
        return {
            "layers": peaks,
            "names": {layer.id: layer.name for layer in layers},
            "mix": mix,
            "mix_peak_dbfs": peak_dbfs(mix),
            "sample_rate": self._sample_rate,
            "reset": reset,
        }

    def _on_edited(self, payload) -> None:
        if affects_mix(payload):
            self._rerender_timer.start()

    def _on_project_replaced(self) -> None:
        self.pause()
        self._transport.set_loop(None)
        self.rerender()
        self.loop_changed.emit(None)
        self.seek(self._session.playhead_s)

    def _on_playhead_moved(self, seconds: float) -> None:
        if self._moving_playhead:
            return
        self._sync()  # someone else moved it (a timeline click): the audio follows
        self._transport.seek_s(seconds)
        self._reset_meters()
