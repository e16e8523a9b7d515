"""Region regeneration of a finished take through the pipeline (tiny preset)."""

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import generate, run_to_end
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.retake import regenerate
from foleystudio.engine.sampler import GenerationCancelled
from foleystudio.errors import UserInputError

RATE = 44100


@pytest.fixture(scope="module")
def engine():
    return build_engine(TINY)


def make_request(duration_s=2.0, **changes):
    curve = LoudnessCurve.uniform(np.full(round(duration_s * 6) + 1, -26.0), np.full(round(duration_s * 6) + 1, -30.0))
    return GenerationRequest(**{"duration_s": duration_s, "on_screen_prompt": "footsteps", "steps": 3,
                                "curve": curve, "adherence": 1.0, **changes})


@pytest.fixture(scope="module")
def take(engine):
    request = make_request()
    return request, run_to_end(generate(engine, request))[0].audio


def test_outside_the_region_is_sample_identical_and_inside_is_new(engine, take):
    request, audio = take
    new = run_to_end(regenerate(engine, request, audio, 0.7, 1.2))
    start, stop = round(0.7 * RATE), round(1.2 * RATE)
    assert new.audio.shape == audio.shape and new.region_s == pytest.approx((0.7, 1.2))
    assert np.array_equal(new.audio[:, :start], audio[:, :start])
    assert np.array_equal(new.audio[:, stop:], audio[:, stop:])
    inside = slice(start + 1000, stop - 1000)  # past the edge crossfades
    assert np.abs(new.audio[:, inside] - audio[:, inside]).max() > 1e-3


def test_the_region_follows_the_requests_curve_and_stays_under_the_ceiling(engine, take):
    request, audio = take
    new = run_to_end(regenerate(engine, request, audio, 0.5, 1.5))
    assert new.conformance.true_peak_dbtp <= -1.0 + 1e-6
    inside = (new.measured_curve.times >= 0.6) & (new.measured_curve.times + 1 / 6 <= 1.4)
    assert inside.sum() >= 4
    # The untrained model's excerpt swings by 50 dB between frames, more than a smooth gain can
    # follow frame by frame, so the region is judged by its typical frame.
    assert np.median(new.measured_curve.left[inside]) == pytest.approx(-26.0, abs=0.5)
    assert np.median(new.measured_curve.right[inside]) == pytest.approx(-30.0, abs=0.5)


def test_same_seed_same_region_other_seed_other_region(engine, take):
    request, audio = take
    first = run_to_end(regenerate(engine, request, audio, 0.5, 1.0, seed=5)).audio
    again = run_to_end(regenerate(engine, request, audio, 0.5, 1.0, seed=5)).audio
    other = run_to_end(regenerate(engine, request, audio, 0.5, 1.0, seed=6)).audio
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_cancelling_skips_decoding(engine, take, monkeypatch):
    request, audio = take
    decoded = []
    monkeypatch.setattr(engine.codec, "decode", lambda latent: decoded.append(latent))
    calls = iter([False, True, True, True])
    with pytest.raises(GenerationCancelled):
        run_to_end(regenerate(engine, request, audio, 0.5, 1.0, cancel=lambda: next(calls)))
    assert decoded == []


def test_a_region_of_a_take_longer_than_the_window(engine):
    request = make_request(duration_s=2.4 * TINY.window_s)
    audio = run_to_end(generate(engine, request))[0].audio
    new = run_to_end(regenerate(engine, request, audio, 3.1, 3.6)).audio
    start, stop = round(3.1 * RATE), round(3.6 * RATE)
    assert np.array_equal(new[:, :start], audio[:, :start]) and np.array_equal(new[:, stop:], audio[:, stop:])


@pytest.mark.parametrize(("start", "end", "message"), [
    (1.0, 0.5, "before its end"),
    (-0.1, 0.5, "outside the take"),
    (1.5, 2.5, "outside the take"),
    (0.0, float("nan"), "must be numbers"),
])
def test_bad_regions_are_clear_errors(engine, take, start, end, message):
    request, audio = take
    with pytest.raises(UserInputError, match=message):
        run_to_end(regenerate(engine, request, audio, start, end))


def test_a_take_that_does_not_match_its_request_is_a_clear_error(engine, take):
    request, audio = take
    with pytest.raises(UserInputError, match="regenerate with the request that made the take"):
        run_to_end(regenerate(engine, request, audio[:, :RATE], 0.2, 0.4))
    with pytest.raises(UserInputError, match="stereo take"):
        run_to_end(regenerate(engine, request, audio[:1], 0.2, 0.4))
