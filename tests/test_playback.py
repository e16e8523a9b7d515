"""Playback without Qt: the callback copies the pre-rendered mix; the audio clock moves only with it."""

import numpy as np
import pytest

from foleystudio.audio.wav import write_wav
from foleystudio.mix import MixRender
from foleystudio.playback import (
    NO_DEVICE_REASON,
    Loop,
    NullOutput,
    PlaybackBuffer,
    Transport,
    open_output,
    peak_dbfs,
    played_ranges,
)
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.take import FrozenMapping, Take

RATE = 1000


def ramp_buffer(frames=100):
    """Left channel holds the sample index, right its negative: every copied sample says where it came from."""
    index = np.arange(frames, dtype=np.float32)
    return PlaybackBuffer(MixRender(RATE, np.stack([index, -index])))


def play_block(transport, frames):
    outdata = np.full((frames, 2), 99.0, dtype=np.float32)  # garbage the callback must overwrite
    transport.callback(outdata, frames, None, None)
    return outdata


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_callback_copies_exact_samples_and_advances_by_frames():
    transport = Transport(ramp_buffer())
    transport.seek(10)
    transport.play()
    out = play_block(transport, 16)
    np.testing.assert_array_equal(out[:, 0], np.arange(10, 26))
    np.testing.assert_array_equal(out[:, 1], -np.arange(10, 26))
    assert transport.position == 26
    out = play_block(transport, 4)
    np.testing.assert_array_equal(out[:, 0], np.arange(26, 30))
    assert transport.position == 30


def test_reverse_1x_plays_the_exact_samples_backwards_and_stops_at_the_start():
    transport = Transport(ramp_buffer())
    transport.seek(10)
    transport.play(-1.0)
    out = play_block(transport, 6)
    np.testing.assert_array_equal(out[:, 0], [9, 8, 7, 6, 5, 4])
    assert transport.position == 4 and transport.playing
    out = play_block(transport, 8)
    np.testing.assert_array_equal(out[:, 0], [3, 2, 1, 0, 0, 0, 0, 0])  # then silence, and stopped
    assert transport.position == 0 and not transport.playing and transport.reached_end


def test_shuttle_speeds_read_every_nth_sample_and_keep_fractions():
    transport = Transport(ramp_buffer())
    transport.play(2.0)
    np.testing.assert_array_equal(play_block(transport, 5)[:, 0], [0, 2, 4, 6, 8])
    assert transport.position == 10
    transport.seek(50)
    transport.play(-4.0)
    np.testing.assert_array_equal(play_block(transport, 4)[:, 0], [46, 42, 38, 34])
    assert transport.position == 34
    transport.seek(0)
    transport.play(1.5)  # fractions carry from one block to the next: 0, 1.5, 3, 4.5 | 6, 7.5
    np.testing.assert_array_equal(play_block(transport, 4)[:, 0], [0, 1, 3, 4])
    np.testing.assert_array_equal(play_block(transport, 2)[:, 0], [6, 7])
    transport.seek(95)
    transport.play(2.0)  # the end: 95, 97, 99, then silence and stop
    np.testing.assert_array_equal(play_block(transport, 5)[:, 0], [95, 97, 99, 0, 0])
    assert not transport.playing and transport.position == 100


def test_a_long_callback_block_is_served_in_pieces_and_rates_are_checked():
    transport = Transport(ramp_buffer(20000))
    transport.seek(19000)
    transport.play(-2.0)
    out = play_block(transport, 9000)  # more than one index buffer
    np.testing.assert_array_equal(out[:, 0], 19000 - 2 * np.arange(1, 9001))
    for bad in (0.0, 5.0, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            transport.play(bad)


def test_pause_outputs_zeros_and_does_not_advance():
    transport = Transport(ramp_buffer())
    transport.seek(40)
    out = play_block(transport, 8)
    assert not out.any() and transport.position == 40
    transport.play()
    play_block(transport, 8)
    transport.pause()
    out = play_block(transport, 8)
    assert not out.any() and transport.position == 48


def test_loop_wraps_exactly_at_the_out_point():
    transport = Transport(ramp_buffer())
    transport.set_loop(Loop(20, 30))
    transport.seek(25)
    transport.play()
    out = play_block(transport, 12)
    np.testing.assert_array_equal(out[:, 0], [25, 26, 27, 28, 29, 20, 21, 22, 23, 24, 25, 26])
    assert transport.position == 27 and transport.playing
    # A block longer than the loop wraps as often as it needs to.
    out = play_block(transport, 25)
    np.testing.assert_array_equal(out[:, 0], [*range(27, 30), *range(20, 30), *range(20, 30), 20, 21])


def test_end_of_buffer_zero_fills_and_stops():
    transport = Transport(ramp_buffer(100))
    transport.seek(95)
    transport.play()
    out = play_block(transport, 10)
    np.testing.assert_array_equal(out[:5, 0], np.arange(95, 100))
    assert not out[5:].any()
    assert transport.position == 100 and not transport.playing and transport.reached_end
    assert not play_block(transport, 4).any()
    transport.play()  # play again at the end starts over from the top
    assert transport.position == 0 and transport.playing


def test_seek_moves_the_next_block_and_is_clamped():
    transport = Transport(ramp_buffer())
    transport.play()
    play_block(transport, 5)
    transport.seek(70)
    np.testing.assert_array_equal(play_block(transport, 3)[:, 0], [70, 71, 72])
    transport.seek(10_000)
    assert transport.position == 100
    transport.seek_s(-1.0)
    assert transport.position == 0


def test_bad_loops_are_refused():
    with pytest.raises(ValueError, match="after its in point"):
        Loop(30, 30)
    with pytest.raises(ValueError, match="past the end"):
        Transport(ramp_buffer(100)).set_loop(Loop(10, 200))


def test_null_output_advances_with_the_wall_clock_only_while_playing():
    clock = FakeClock()
    transport = Transport(ramp_buffer(5000))
    output = NullOutput(transport, clock=clock)
    assert output.reason == NO_DEVICE_REASON and not output.audible
    clock.now += 1.0
    output.poll()  # paused: time passes, the clock does not
    assert transport.position == 0
    transport.play()
    clock.now += 0.25
    output.poll()
    assert transport.position == 250
    for _ in range(3):  # fractions of a sample carry over instead of drifting
        clock.now += 0.0015
        output.poll()
    assert transport.position == 254
    transport.pause()
    clock.now += 2.0
    output.poll()
    assert transport.position == 254


def test_null_output_stops_at_the_end():
    clock = FakeClock()
    transport = Transport(ramp_buffer(100))
    output = NullOutput(transport, clock=clock)
    transport.play()
    clock.now += 10.0
    output.poll()
    assert transport.position == 100 and not transport.playing


def test_without_a_sound_card_open_output_plays_silently():
    output = open_output(Transport(ramp_buffer()))
    try:
        if output.audible:
            pytest.skip("this machine has an audio output device")
        assert "playing silently" in output.reason
    finally:
        output.close()


def test_played_ranges_follow_loop_wraps_and_ignore_seeks():
    loop = Loop(20, 30)
    assert played_ranges(10, 15, None) == [(10, 15)]
    assert played_ranges(15, 15, loop) == []
    assert played_ranges(27, 22, loop) == [(27, 30), (20, 22)]
    assert played_ranges(50, 10, None) == []  # a seek back
    assert played_ranges(27, 5, loop) == []  # behind the loop: a seek, not a wrap


def test_buffer_from_project_has_layer_peaks(tmp_path):
    project = Project()
    project.update(video_duration_s=1.0)
    layer = project.new_layer("Steps")
    write_wav(tmp_path / "steps.wav", np.full((2, 48000), 0.5, np.float32), 48000, bit_depth=32)
    take = Take(name="steps", audio=MediaReference.for_file(tmp_path / "steps.wav"),
                parameters=FrozenMapping({}), model_id="test")
    layer.add_take(take)
    layer.select_take(take.id)
    buffer = PlaybackBuffer.from_project(project, 48000)
    assert buffer.length == 48000 and buffer.duration_s == 1.0
    assert buffer.layer_peaks_dbfs(0, 100)[layer.id] == pytest.approx(-6.0206, abs=1e-3)
    assert buffer.block(47990, 49000).shape == (2, 10)
    assert peak_dbfs(np.zeros((2, 4))) == float("-inf")
