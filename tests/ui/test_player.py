"""The Qt player with a silent output on a fake wall clock: the playhead follows the audio clock."""

from fractions import Fraction

import numpy as np
import pytest

from foleystudio.audio.wav import write_wav
from foleystudio.playback import NullOutput
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.take import FrozenMapping, Take
from foleystudio.ui.commands import LayerEdit
from foleystudio.ui.player import TICK_MS, Player
from foleystudio.ui.session import Session

RATE = 48000


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def session(tmp_path):
    project = Project()
    project.update(video_duration_s=3.0)
    layer = project.new_layer("Steps")
    write_wav(tmp_path / "steps.wav", np.full((2, 3 * RATE), 0.5, np.float32), RATE, bit_depth=32)
    take = Take(name="steps", audio=MediaReference.for_file(tmp_path / "steps.wav"),
                parameters=FrozenMapping({}), model_id="test")
    layer.add_take(take)
    layer.select_take(take.id)
    return Session(project)


@pytest.fixture
def player(qtbot, session, clock):
    player = Player(session, sample_rate=RATE, output_factory=lambda t: NullOutput(t, clock=clock), clock=clock)
    yield player
    player.close()


def near(value, expected, tolerance=1e-3):
    return abs(value - expected) < tolerance


def test_play_advances_the_playhead_with_the_audio_clock(qtbot, player, session, clock):
    with qtbot.waitSignal(player.status_message, check_params_cb=lambda text: "playing silently" in text):
        with qtbot.waitSignal(player.state_changed, check_params_cb=lambda playing: playing):
            player.play()
    clock.now += 0.5
    qtbot.waitUntil(lambda: near(session.playhead_s, 0.5))
    assert player.transport.position == RATE // 2


def test_pause_stops_the_clock(qtbot, player, session, clock):
    player.play()
    clock.now += 0.25
    with qtbot.waitSignal(player.state_changed, check_params_cb=lambda playing: not playing):
        player.pause()
    assert near(session.playhead_s, 0.25)
    clock.now += 1.0
    qtbot.wait(3 * TICK_MS)
    assert near(session.playhead_s, 0.25) and not player.playing
    player.toggle()
    clock.now += 0.25
    qtbot.waitUntil(lambda: near(session.playhead_s, 0.5))


def test_the_loop_wraps_at_its_out_point(qtbot, player, session, clock):
    player.set_loop(1.0, 1.5)
    player.seek(1.4)
    player.play()
    clock.now += 0.3  # 0.1 s to the out point, then 0.2 s from the in point
    qtbot.waitUntil(lambda: near(session.playhead_s, 1.2))
    assert player.loop == (1.0, 1.5)
    with pytest.raises(ValueError, match="after its in point"):
        player.set_loop(2.0, 1.0)
    player.clear_loop()
    assert player.transport.loop is None


def test_playback_stops_at_the_end(qtbot, player, session, clock):
    player.seek(2.9)
    player.play()
    with qtbot.waitSignal(player.state_changed, check_params_cb=lambda playing: not playing):
        clock.now += 5.0
    assert session.playhead_s == 3.0 and not player.playing


def test_step_frames_moves_exactly_one_frame_at_23_976(qtbot, player, session):
    session.project.update(frame_rate=Fraction(24000, 1001))
    frame = 1001 / 24000
    player.seek(0.0)
    player.step_frames(1)
    assert session.playhead_s == pytest.approx(frame, abs=1e-12)
    player.step_frames(1)
    assert session.playhead_s == pytest.approx(2 * frame, abs=1e-12)
    player.step_frames(-1)
    assert session.playhead_s == pytest.approx(frame, abs=1e-12)
    player.seek(10.5 * frame)  # mid-frame: steps from the frame on screen
    player.step_frames(1)
    assert session.playhead_s == pytest.approx(11 * frame, abs=1e-12)
    assert player.transport.position == round(11 * frame * RATE)


def test_a_gain_edit_re_renders_the_buffer(qtbot, player, session):
    assert player.buffer.frames[100, 0] == pytest.approx(0.5)
    layer = session.project.layers[0]
    with qtbot.waitSignal(player.rendered):
        session.push(LayerEdit(session.project, layer.id, "Gain", gain_db=-6.0206))
    assert player.buffer.frames[100, 0] == pytest.approx(0.25, abs=1e-4)
    with qtbot.waitSignal(player.rendered):
        session.push(LayerEdit(session.project, layer.id, "Mute", mute=True))
    assert not player.buffer.frames.any()


def test_levels_report_what_was_played(qtbot, player, clock):
    player.play()
    clock.now += 0.1
    with qtbot.waitSignal(player.levels, check_params_cb=lambda levels: levels["mix"].shape[1] > 0) as blocker:
        pass
    levels = blocker.args[0]
    layer_id = next(iter(levels["layers"]))
    assert levels["layers"][layer_id] == pytest.approx(-6.0206, abs=1e-3)
    assert levels["names"][layer_id] == "Steps" and levels["mix"].shape == (2, RATE // 10)
    with qtbot.waitSignal(player.levels, check_params_cb=lambda levels: levels["reset"]):
        player.seek(2.0)


def test_moving_the_playhead_elsewhere_seeks_the_audio(qtbot, player, session):
    session.set_playhead(2.0)
    assert player.transport.position == 2 * RATE


def test_shuttle_backwards_plays_through_the_audio_clock(qtbot, player, session, clock):
    player.seek(2.0)
    player.shuttle_reverse()
    assert player.shuttle_rate == -1.0 and player.transport.playing and player.transport.rate == -1.0
    clock.now += 0.5
    qtbot.waitUntil(lambda: near(session.playhead_s, 1.5))
    assert near(player.transport.position_s, 1.5)  # the audio went back with the picture
    player.shuttle_reverse()
    assert player.shuttle_rate == -2.0
    player.shuttle(0)
    assert not player.playing
    player.shuttle_forward()
    player.shuttle_forward()
    assert player.shuttle_rate == 2.0
    player.stop()
    assert session.playhead_s == 0.0 and not player.playing


def test_shuttling_back_past_the_start_stops_there(qtbot, player, session, clock):
    player.seek(0.3)
    player.shuttle(-2.0)
    with qtbot.waitSignal(player.state_changed, check_params_cb=lambda playing: not playing):
        clock.now += 0.5
    assert session.playhead_s == 0.0 and not player.playing and player.shuttle_rate == 0.0
