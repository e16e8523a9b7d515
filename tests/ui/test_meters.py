"""Meters: the loudness panel reads R128 values of played blocks; the peak meter draws and holds peaks."""

import math

import numpy as np
import pytest

from foleystudio.ui.meters import MIX_KEY, HOLD_S, LoudnessMeterPanel, PeakMeter

RATE = 48000


def stereo_sine(seconds, lufs, freq=997.0):
    """A 997 Hz sine in both channels: by BS.1770's definition it reads its own level in dBFS as LUFS."""
    t = np.arange(round(seconds * RATE)) / RATE
    wave = (10 ** (lufs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wave, wave])


def feed_in_blocks(panel, audio, block=RATE // 50, reset=False):
    for i, start in enumerate(range(0, audio.shape[1], block)):
        panel.on_levels({"mix": audio[:, start : start + block], "sample_rate": RATE, "reset": reset and i == 0})


def test_a_minus_23_lufs_programme_reads_minus_23(qtbot):
    panel = LoudnessMeterPanel()
    qtbot.addWidget(panel)
    feed_in_blocks(panel, stereo_sine(6.0, -23.0))
    panel.refresh()
    values = panel.values()
    assert values["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert values["momentary_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert values["short_term_lufs"] == pytest.approx(-23.0, abs=0.1)
    assert values["loudness_range_lu"] == pytest.approx(0.0, abs=0.1)
    assert values["true_peak_dbtp"] == pytest.approx(-23.0, abs=0.1)
    panel.grab()  # paints without error


def test_a_seek_starts_the_measurement_over(qtbot):
    panel = LoudnessMeterPanel()
    qtbot.addWidget(panel)
    feed_in_blocks(panel, stereo_sine(2.0, -10.0))
    feed_in_blocks(panel, stereo_sine(2.0, -30.0), reset=True)
    panel.refresh()
    assert panel.values()["integrated_lufs"] == pytest.approx(-30.0, abs=0.1)
    panel.on_levels({"mix": np.zeros((2, 0), np.float32), "sample_rate": RATE, "reset": True})
    assert math.isinf(panel.values()["integrated_lufs"])


class FakeClock:
    now = 0.0

    def __call__(self):
        return self.now


def green_rows(image, x):
    """How many pixels of column ``x`` are the bar's green."""
    return sum(
        1 for y in range(image.height())
        if (c := image.pixelColor(x, y)).green() > 150 and c.red() < 100 and c.blue() < 120
    )


def test_the_peak_meter_draws_a_known_peak_and_holds_it(qtbot):
    clock = FakeClock()
    meter = PeakMeter(clock=clock)
    qtbot.addWidget(meter)
    meter.resize(40, 216)  # one bar 200 px tall above a 16 px label
    meter.on_levels({"layers": {"steps": -30.0}, "names": {"steps": "Steps"}, "mix_peak_dbfs": -12.0})
    assert meter.level("steps") == -30.0 and meter.level(MIX_KEY) == -12.0
    meter.show_levels({"steps": -30.0})
    image = meter.grab().toImage()
    assert green_rows(image, 20) == pytest.approx(100, abs=2)  # -30 dB is half of a 60 dB scale
    clock.now += HOLD_S / 2
    meter.show_levels({"steps": -50.0})
    assert meter.level("steps") == -50.0 and meter.held("steps") == -30.0
    clock.now += HOLD_S
    meter.show_levels({"steps": -50.0})
    assert meter.held("steps") == -50.0


def test_the_panels_follow_the_player(qtbot, tmp_path):
    from foleystudio.audio.wav import write_wav
    from foleystudio.playback import NullOutput
    from foleystudio.project.document import Project
    from foleystudio.project.media import MediaReference
    from foleystudio.project.take import FrozenMapping, Take
    from foleystudio.ui.player import Player
    from foleystudio.ui.session import Session

    project = Project()
    project.update(video_duration_s=4.0)
    layer = project.new_layer("Hum")
    write_wav(tmp_path / "hum.wav", stereo_sine(4.0, -23.0), RATE, bit_depth=32)
    take = Take(name="hum", audio=MediaReference.for_file(tmp_path / "hum.wav"), parameters=FrozenMapping({}),
                model_id="test")
    layer.add_take(take)
    layer.select_take(take.id)
    clock = FakeClock()
    player = Player(Session(project), sample_rate=RATE, output_factory=lambda t: NullOutput(t, clock=clock), clock=clock)
    panel, peaks = LoudnessMeterPanel(), PeakMeter(clock=clock)
    qtbot.addWidget(panel)
    qtbot.addWidget(peaks)
    player.levels.connect(panel.on_levels)
    player.levels.connect(peaks.on_levels)
    try:
        player.play()
        with qtbot.waitSignal(player.state_changed, check_params_cb=lambda playing: not playing):
            clock.now += 5.0  # past the end: everything plays, then playback stops
        panel.refresh()
        assert panel.values()["integrated_lufs"] == pytest.approx(-23.0, abs=0.1)
        assert peaks.level(layer.id) == pytest.approx(-23.0, abs=0.1)
    finally:
        player.close()
