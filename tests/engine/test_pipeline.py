"""The whole generate path on the tiny (untrained) preset: shapes, determinism, conditions, cancel."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from foleystudio.engine.builder import build_engine, load_engine, save_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import generate, run_to_end
from foleystudio.engine.request import GenerationRequest, VideoSpan
from foleystudio.engine.sampler import GenerationCancelled
from foleystudio.errors import MediaError, UserInputError
from tests.media import make_audio, make_video


@pytest.fixture(scope="module")
def engine():
    return build_engine(TINY)


def request(**changes):
    return GenerationRequest(**{"duration_s": 2.0, "on_screen_prompt": "door slam", "steps": 3, **changes})


def test_takes_are_stereo_44k1_of_the_asked_length_and_under_the_ceiling(engine):
    takes = run_to_end(generate(engine, request(variations=2, duration_s=1.3)))
    assert len(takes) == 2
    for index, take in enumerate(takes):
        assert take.audio.shape == (2, round(1.3 * 44100)) and take.audio.dtype == np.float32
        assert take.sample_rate == 44100 and take.variation == index and take.seed == index
        assert take.conformance.true_peak_dbtp <= -1.0 + 1e-6
        assert len(take.measured_curve) == 8 and take.model_id == "preset:tiny"


def test_same_seed_same_take_and_variation_i_is_seed_plus_i(engine):
    first = run_to_end(generate(engine, request(seed=7, variations=2)))
    again = run_to_end(generate(engine, request(seed=7, variations=2)))
    alone = run_to_end(generate(engine, request(seed=8)))
    assert np.array_equal(first[0].audio, again[0].audio)
    assert not np.array_equal(first[0].audio, first[1].audio)
    np.testing.assert_allclose(first[1].audio, alone[0].audio, atol=1e-5)


def test_progress_steps_count_up_to_total(engine):
    steps = []
    run_to_end(generate(engine, request(steps=5)), steps.append)
    assert [step.i for step in steps] == [1, 2, 3, 4, 5] and {step.total for step in steps} == {5}


def test_cancel_stops_before_decoding(engine, monkeypatch):
    decoded = []
    monkeypatch.setattr(engine.codec, "decode", lambda latent: decoded.append(latent))
    calls = iter([False, False, True, True, True])
    with pytest.raises(GenerationCancelled):
        run_to_end(generate(engine, request(steps=10), cancel=lambda: next(calls)))
    assert decoded == []


@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize("audio", [False, True])
@pytest.mark.parametrize("video", [False, True])
def test_every_combination_of_conditions_generates(engine, tmp_path_factory, text, audio, video):
    folder = tmp_path_factory.mktemp("media")
    changes = {"on_screen_prompt": "glass breaking" if text else ""}
    if audio:
        changes["reference_audio"] = make_audio(folder / "ref.wav", seconds=1.0, rate=44100)
    if video:
        changes["video"] = VideoSpan(make_video(folder / "clip.mp4", seconds=2.0, fps=Fraction(24)), 0.0)
    take_request = request(**changes)
    assert take_request.modalities == {name for name, on in (("text", text), ("audio", audio), ("video", video)) if on}
    (take,) = run_to_end(generate(engine, take_request))
    assert take.audio.shape == (2, 88200) and np.isfinite(take.audio).all()


def test_a_reference_that_is_not_audio_is_a_clear_error(engine, tmp_path):
    notes = tmp_path / "notes.wav"
    notes.write_text("not audio")
    with pytest.raises(MediaError, match="notes.wav"):
        run_to_end(generate(engine, request(reference_audio=notes)))


def test_takes_longer_than_the_window_are_refused_for_now(engine):
    with pytest.raises(UserInputError, match="longer than the model window"):
        run_to_end(generate(engine, request(duration_s=TINY.window_s + 1)))


def test_saved_model_loads_strictly_and_generates_the_same(engine, tmp_path):
    folder = save_engine(engine, tmp_path / "tiny-model", "a tiny untrained test model")
    loaded = load_engine(str(folder), "cpu")
    ours = run_to_end(generate(engine, request(seed=2)))[0].audio
    theirs = run_to_end(generate(loaded, request(seed=2)))[0].audio
    assert np.array_equal(ours, theirs)


def test_unknown_model_and_device_are_clear_errors():
    with pytest.raises(UserInputError, match="unknown model 'nope'"):
        load_engine("nope")
    with pytest.raises(UserInputError, match="unknown device 'tpu'"):
        load_engine("preset:tiny", "tpu")


def test_a_model_with_a_mismatched_tensor_fails_clearly(engine, tmp_path):
    from foleystudio.engine.checkpoint import ModelError

    folder = save_engine(engine, tmp_path / "tiny-model", "test")
    bigger = dataclasses.replace(TINY, generator=dataclasses.replace(
        TINY.generator, dit=dataclasses.replace(TINY.generator.dit, depth=TINY.generator.dit.depth + 1)))
    other = save_engine(build_engine(bigger), tmp_path / "other", "test")
    (folder / "generator.safetensors").unlink()
    (other / "generator.safetensors").rename(folder / "generator.safetensors")
    with pytest.raises(ModelError, match="generator.safetensors"):
        load_engine(str(folder), "cpu")
