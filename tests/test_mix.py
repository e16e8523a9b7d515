"""The mix: selected takes placed and gained, mute/solo as in a DAW, missing files skipped."""

import numpy as np
import pytest

from foleystudio.audio.wav import write_wav
from foleystudio.mix import audible_layers, render_mix
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.take import FrozenMapping, Take

RATE = 44100


def add_take(project, layer, path, value, start_s=None):
    audio = np.full((2, RATE), value, dtype=np.float32)
    write_wav(path, audio, RATE, bit_depth=32)
    params = {} if start_s is None else {"video_start_s": start_s}
    take = Take(name=path.stem, audio=MediaReference.for_file(path), parameters=FrozenMapping(params), model_id="test")
    layer.add_take(take)
    layer.select_take(take.id)


@pytest.fixture
def project(tmp_path):
    project = Project()
    project.update(video_duration_s=3.0)
    a, b, c = (project.new_layer(name) for name in ("A", "B", "C"))
    add_take(project, a, tmp_path / "a.wav", 0.1)
    add_take(project, b, tmp_path / "b.wav", 0.2, start_s=1.0)
    add_take(project, c, tmp_path / "c.wav", 0.4)
    return project


def test_takes_are_placed_gained_and_summed(project):
    project.layers[0].update(gain_db=-6.0206)
    render = render_mix(project, RATE)
    assert render.mix.shape == (2, 3 * RATE)
    np.testing.assert_allclose(render.mix[:, 100], 0.05 + 0.4, atol=1e-4)  # A (halved) + C
    np.testing.assert_allclose(render.mix[:, RATE + 100], 0.2, atol=1e-6)  # B starts at 1 s
    np.testing.assert_allclose(render.mix[:, 2 * RATE + 100], 0.0)
    assert set(render.stems) == {layer.id for layer in project.layers}


def test_mute_and_solo_follow_the_daw_convention(project):
    a, b, c = project.layers
    b.update(mute=True)
    assert audible_layers(project) == [a, c]
    a.update(solo=True)
    b.update(solo=True)  # soloed but muted: still silent
    assert audible_layers(project) == [a]


def test_a_missing_take_file_is_skipped_and_reported(project, tmp_path):
    (tmp_path / "c.wav").unlink()
    render = render_mix(project, 48000)
    assert render.missing == ("C",) and render.mix.shape == (2, 3 * 48000)
    np.testing.assert_allclose(render.mix[:, 100], 0.1, atol=1e-3)
