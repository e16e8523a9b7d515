"""The whole generate path on the tiny (untrained) preset: shapes, determinism, conditions, cancel."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.builder import build_engine, load_engine, save_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.long_takes import LongTakeConfig
from foleystudio.engine.pipeline import generate, run_to_end, take_plan
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


def test_a_prompt_the_model_was_never_trained_with_is_refused_by_name(tmp_path):
    taught = build_engine(TINY)
    config = taught.generator.config.with_trained_prompts({"text", "video"})
    taught.generator.config = config
    taught.config = dataclasses.replace(taught.config, generator=config)
    reference = make_audio(tmp_path / "ref.wav", seconds=1.0, rate=44100)
    with pytest.raises(UserInputError, match="not trained with a reference sound: clear the reference sound"):
        run_to_end(generate(taught, request(reference_audio=reference)))
    (take,) = run_to_end(generate(taught, request()))  # text only: trained
    assert np.isfinite(take.audio).all()
    # The folder keeps what it was taught, and the loaded model refuses the same.
    loaded = load_engine(str(save_engine(taught, tmp_path / "taught", "test model")), "cpu")
    assert loaded.generator.config.trained_prompts == ("video", "text")
    with pytest.raises(UserInputError, match="reference sound"):
        run_to_end(generate(loaded, request(reference_audio=reference)))


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


def test_a_take_longer_than_the_window_is_made_in_windows(engine):
    steps = []
    duration = 2.5 * TINY.window_s
    (take,) = run_to_end(generate(engine, request(duration_s=duration, seed=3)), steps.append)
    windows = len(take_plan(engine, duration).windows)
    assert windows >= 3
    assert [step.i for step in steps] == list(range(1, 3 * windows + 1)) and {s.total for s in steps} == {3 * windows}
    assert take.audio.shape == (2, round(duration * 44100)) and np.isfinite(take.audio).all()
    assert take.conformance.true_peak_dbtp <= -1.0 + 1e-6
    again = run_to_end(generate(engine, request(duration_s=duration, seed=3)))[0]
    assert np.array_equal(take.audio, again.audio)


def test_each_window_is_conditioned_on_its_own_stretch_of_the_take(engine, monkeypatch):
    seen = []
    encode = engine.generator.encode_conditions

    def recording(inputs, branches, frames):
        seen.append((inputs.start_s, inputs.total_s, inputs.lufs_start_s, frames))
        return encode(inputs, branches, frames)

    monkeypatch.setattr(engine.generator, "encode_conditions", recording)
    duration = 2.2 * TINY.window_s
    curve = LoudnessCurve.uniform(np.linspace(-40, -20, 30), np.linspace(-40, -20, 30))
    run_to_end(generate(engine, request(duration_s=duration, curve=curve)))
    rate = engine.generator.latent_rate
    plan = take_plan(engine, duration)
    assert [round(s[0] * rate) for s in seen] == [w.start for w in plan.windows]
    assert [s[3] for s in seen] == [w.frames for w in plan.windows]
    assert all(s[1] == pytest.approx(duration, abs=1 / rate) for s in seen)
    # Each window's curve starts at most a curve frame (plus the neighbour kept for interpolation)
    # before the window: it is the take's curve cut at the window, not the take's start.
    assert all(-2 / 6 - 1e-9 <= s[2] <= 0 for s in seen)


def test_windows_that_disagree_join_without_a_step_in_level(engine, monkeypatch):
    """Force each window's latent to a different constant level: the join must ramp, not jump."""
    window_levels = iter([-1.5, 1.5, -1.5, 1.5, -1.5])
    target = {}
    encode = engine.generator.encode_conditions

    def next_window(inputs, branches, frames):
        target["level"] = next(window_levels)
        return encode(inputs, branches, frames)

    def velocity(x, t, cond):  # the exact flow to a constant latent: x_1 = level whatever the noise
        return (target["level"] - x) / (1.0 - t[:, None, None]).clamp(min=1e-3)

    monkeypatch.setattr(engine.generator, "encode_conditions", next_window)
    monkeypatch.setattr(engine.generator, "velocity", velocity)
    duration = 2.5 * TINY.window_s
    (take,) = run_to_end(generate(engine, request(duration_s=duration, adherence=0.0, steps=4)))
    level = block_level_db(take.audio, 2048)
    jumps = np.abs(np.diff(level))
    swing = level.max() - level.min()
    assert swing > 12.0  # the windows really differ
    assert jumps.max() < 0.35 * swing


def block_level_db(audio, block):
    blocks = audio[:, : audio.shape[1] // block * block].reshape(2, -1, block)
    return 10 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=(0, 2)) + 1e-12)


def test_a_ten_minute_take_works():
    """End to end at the tiny size with 20 s windows (34 of them): about 30 s of the suite's time."""
    engine = build_engine(dataclasses.replace(TINY, long_take=LongTakeConfig(20.0, 2.0, 1.0)))
    curve = LoudnessCurve.uniform(np.full(3600, -30.0), np.full(3600, -24.0))
    steps = []
    (take,) = run_to_end(generate(engine, request(duration_s=600.0, steps=1, curve=curve, adherence=1.0)),
                         steps.append)
    assert len(steps) == len(take_plan(engine, 600.0).windows) == 34
    assert take.audio.shape == (2, 600 * 44100) and np.isfinite(take.audio).all()
    assert take.conformance.true_peak_dbtp <= -1.0 + 1e-6
    measured = take.measured_curve
    assert len(measured) == 3600
    assert np.median(np.abs(measured.left + 30.0)) < 0.5 and np.median(np.abs(measured.right + 24.0)) < 0.5


@pytest.mark.parametrize("seed", range(4))
def test_takes_land_within_half_a_lu_of_the_curve_and_under_the_ceiling(engine, seed):
    times = np.arange(13) / 6
    left = -30 + 10 * np.sin(3 * times)
    right = np.where(times < 1.0, -35 + 8 * np.cos(2 * times), -66.0)  # ends below -60: not judged there
    curve = LoudnessCurve.uniform(left, right)
    (take,) = run_to_end(generate(engine, request(curve=curve, adherence=1.0, seed=seed)))
    measured = take.measured_curve
    for got, wanted in ((measured.left, left[:12]), (measured.right, right[:12])):
        judged = wanted > -60
        assert np.abs(got[judged] - wanted[judged]).max() <= 0.5
    assert take.conformance.true_peak_dbtp <= -1.0 + 1e-6


def test_video_motion_reaches_the_model_raw_as_in_training(engine, tmp_path):
    # The video conditioner compresses motion itself; the pipeline once compressed it a second time,
    # so inference saw sqrt(sqrt(m)) where training sees sqrt(m).
    from foleystudio.engine.pipeline import condition_inputs
    from foleystudio.video.frames import read_frames
    from foleystudio.video.motion import motion_energy

    video = make_video(tmp_path / "clip.mp4", seconds=2.0, fps=Fraction(24), size=(64, 48))
    inputs = condition_inputs(engine, request(video=VideoSpan(video)))
    frames = read_frames(video, fps=8.0, size=engine.config.video_encoder.frame_size, start_s=0.0, end_s=2.0)
    expected = motion_energy(frames)
    assert inputs.video_motion.shape == expected.shape
    np.testing.assert_allclose(inputs.video_motion.numpy(), expected, atol=1e-6)
