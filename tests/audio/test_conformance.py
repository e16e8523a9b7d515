"""Loudness conformance: takes land on their target curves (within 0.5 LU where the target is above
-60 LUFS), adherence scales the move in dB, the gain is smooth, the limiter keeps -1 dBTP, silence
stays silence, and bad input is a user error."""

import numpy as np
import pytest

from foleystudio.audio import conformance
from foleystudio.audio.conformance import LIMITER_MAKEUP_DB, QUIET_BOOST_DB, SILENCE_LUFS, conform_to_curve
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.limiter import limit_true_peak
from foleystudio.audio.loudness import loudness_curve
from foleystudio.audio.truepeak import true_peak_dbtp
from foleystudio.errors import UserInputError

RATE = 44100
SECONDS = 6.0
FRAMES = int(SECONDS * 6)


# ---- takes ---------------------------------------------------------------------------------------
def noise_take(seed=0, level=0.05, seconds=SECONDS, swell=0.45):
    """Stereo noise with an envelope of its own (0.7 Hz swell) that the target knows nothing of."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = 1.0 - swell + swell * np.sin(2 * np.pi * 0.7 * t)
    return (level * envelope * rng.standard_normal((2, len(t)))).astype(np.float32)


def tone_take(seconds=SECONDS):
    t = np.arange(int(seconds * RATE)) / RATE
    return np.stack([0.1 * np.sin(2 * np.pi * 440 * t), 0.1 * np.sin(2 * np.pi * 1000 * t)]).astype(np.float32)


def impact_take(seed=1, seconds=SECONDS):
    """Decaying noise bursts every 0.37 s (not on the frame grid) over a quiet bed near -55 LUFS."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    envelope = np.full(n, 0.003)
    for start in np.arange(0.05, seconds, 0.37):
        first = int(start * RATE)
        envelope[first:] += 0.2 * np.exp(-np.arange(n - first) / (0.06 * RATE))
    return (envelope * rng.standard_normal((2, n))).astype(np.float32)


# ---- targets -------------------------------------------------------------------------------------
def curve(left, right=None):
    left = np.asarray(left, float)
    return LoudnessCurve.uniform(left, left if right is None else np.asarray(right, float))


def ramp(low=-50.0, high=-20.0):
    return np.linspace(low, high, FRAMES)


def steps_of_20_db(frames_per_step=4):
    return np.where((np.arange(FRAMES) // frames_per_step) % 2 == 0, -45.0, -25.0)


def footsteps(loud=-28.0):
    pattern = np.full(FRAMES, -50.0)
    pattern[0::3] = loud
    pattern[1::3] = loud - 10.0
    return pattern


CASES = {
    "noise, ramp": (noise_take, curve(ramp())),
    "noise, 20 dB steps": (noise_take, curve(steps_of_20_db())),
    "noise, footsteps": (noise_take, curve(footsteps())),
    "tone, 20 dB steps every frame": (tone_take, curve(steps_of_20_db(1), steps_of_20_db(2))),
    "impacts, footsteps": (impact_take, curve(footsteps(-30.0), np.roll(footsteps(-30.0), 1))),
    "impacts, 20 dB steps": (impact_take, curve(steps_of_20_db(1) - 3.0)),
    "stereo, opposite ramps": (noise_take, curve(ramp(), ramp()[::-1])),
    "stereo, ramp and footsteps": (impact_take, curve(ramp(-45.0, -25.0), footsteps(-30.0))),
}


def sides(loudness: LoudnessCurve) -> np.ndarray:
    return np.stack([loudness.left, loudness.right])


@pytest.mark.parametrize("name", sorted(CASES))
def test_take_lands_within_half_a_lu_of_the_target(name):
    make_take, target = CASES[name]
    take = make_take()
    result = conform_to_curve(take, RATE, target, adherence=1.0)
    # Measured independently of what conformance reports.
    measured = sides(loudness_curve(result.audio, RATE))
    wanted = sides(target)
    audible = wanted > SILENCE_LUFS
    assert audible.any()
    assert np.abs(measured - wanted)[audible].max() <= 0.5
    assert result.max_deviation_lu <= 0.5
    assert result.silent_frames == 0
    # The targets are achievable: the limiter had nothing to do, and the ceiling holds.
    assert result.max_limiter_reduction_db == 0.0
    assert true_peak_dbtp(result.audio, RATE) <= -1.0
    # The take really moved (it did not already sit on the target).
    assert np.abs(sides(loudness_curve(take, RATE)) - wanted)[audible].max() > 5.0


def test_result_reports_curves_gain_and_true_peak():
    take = noise_take()
    target = curve(ramp())
    result = conform_to_curve(take, RATE, target, adherence=1.0)
    assert result.audio.shape == take.shape and result.audio.dtype == np.float32
    assert result.gain_db.shape == take.shape and result.gain_db.dtype == np.float32
    assert result.limiter_reduction_db.shape == (take.shape[1],)
    assert result.before == loudness_curve(take, RATE)
    assert result.after == loudness_curve(result.audio, RATE)
    assert result.target == target
    assert result.goal == target  # adherence 1
    assert 1 <= result.passes <= 4
    assert result.true_peak_dbtp == pytest.approx(true_peak_dbtp(result.audio, RATE))
    assert result.sample_rate == RATE and result.adherence == 1.0 and result.ceiling_dbtp == -1.0
    assert np.abs(result.deviation_lu()).max() == pytest.approx(result.max_deviation_lu)
    # The gain really is what was applied (no limiter here).
    applied = take * 10.0 ** (result.gain_db.astype(np.float64) / 20.0)
    np.testing.assert_allclose(result.audio, applied, rtol=1e-5, atol=1e-9)
    with pytest.raises(ValueError):
        result.audio[0, 0] = 1.0  # results are read-only


def test_level_is_absolute_whatever_the_take_level():
    """The take is never normalised: a quiet and a loud take end on the same absolute curve."""
    target = curve(np.full(FRAMES, -30.0))
    for level in (0.003, 0.3):
        result = conform_to_curve(noise_take(level=level, swell=0.2), RATE, target, adherence=1.0)
        assert np.abs(sides(result.after) + 30.0).max() <= 0.5


def test_adherence_zero_leaves_the_take_bit_exact():
    take = noise_take()
    assert true_peak_dbtp(take, RATE) < -1.0
    result = conform_to_curve(take, RATE, curve(steps_of_20_db()), adherence=0.0)
    assert np.array_equal(result.audio, take)
    assert not np.any(result.gain_db) and not np.any(result.limiter_reduction_db)
    assert result.passes == 0
    assert result.after == result.before


@pytest.mark.parametrize("adherence", [0.25, 0.5, 0.75])
def test_partial_adherence_moves_that_fraction_of_the_way_in_db(adherence):
    take = impact_take()
    target = curve(footsteps(-30.0), ramp(-45.0, -25.0))
    before = sides(loudness_curve(take, RATE))
    result = conform_to_curve(take, RATE, target, adherence=adherence)
    after = sides(loudness_curve(result.audio, RATE))
    wanted = before + adherence * (sides(target) - before)
    assert np.abs(after - wanted).max() <= 0.5
    # And it is not simply at the target or where it started.
    assert np.abs(after - sides(target)).max() > 3.0
    assert np.abs(after - before).max() > 3.0


def test_gain_has_no_clicks():
    result = conform_to_curve(noise_take(), RATE, curve(steps_of_20_db(1)), adherence=1.0)
    gain = result.gain_db.astype(np.float64)
    # A 20 dB step is spread over about 50 ms: the gain never jumps between samples.
    assert np.abs(np.diff(gain, axis=1)).max() < 0.05
    assert np.ptp(gain) > 15.0
    # Its curvature is bounded too (rounded corners, no kinks).
    assert np.abs(np.diff(gain, n=2, axis=1)).max() < 1e-3


def test_smooth_target_gives_a_smooth_gain_not_a_staircase():
    # A steady tone and a ramp: the gain should rise steadily, not in steps at each frame.
    result = conform_to_curve(tone_take(), RATE, curve(ramp()), adherence=1.0)
    slope = np.diff(result.gain_db.astype(np.float64), axis=1)
    average = 30.0 / (SECONDS * RATE)  # dB per sample of the target's ramp
    assert np.abs(slope).max() < 2.0 * average


def test_extreme_corrections_stay_smooth():
    # From a deep cut to +40 dB of boost between neighbouring frames.
    take = noise_take()
    target = np.where(np.arange(FRAMES) % 2 == 0, -70.0, -20.0)
    take[:, : int(RATE * SECONDS)] *= np.repeat(np.where(np.arange(FRAMES) % 2 == 0, 1.0, 0.02), RATE // 6)
    result = conform_to_curve(take, RATE, curve(target), adherence=1.0)
    step = np.abs(np.diff(result.gain_db.astype(np.float64), axis=1)).max()
    swing = float(np.ptp(result.gain_db))
    assert swing > 100.0
    assert step <= 1.001 * swing / (0.010 * RATE)  # at most the whole swing over the shortest ramp (10 ms)


def test_limiter_wins_where_the_target_is_too_loud_and_says_so():
    take = noise_take()
    target = curve(np.where(np.arange(FRAMES) < FRAMES // 2, -30.0, -4.0))
    result = conform_to_curve(take, RATE, target, adherence=1.0)
    assert true_peak_dbtp(result.audio, RATE) <= -1.0
    assert result.true_peak_dbtp <= -1.0
    assert result.max_limiter_reduction_db > 3.0
    assert result.limited_s > 0.5
    assert result.max_deviation_lu > 0.5  # reported, not hidden
    deviation = result.deviation_lu()
    assert deviation[:, FRAMES // 2 + 1 :].max() < -0.5  # quieter than asked where it is too loud
    assert np.abs(deviation[:, : FRAMES // 2 - 1]).max() <= 0.5  # the rest is still on target


def test_silence_in_gives_silence_out():
    silence = np.zeros((2, int(RATE * SECONDS)), np.float32)
    result = conform_to_curve(silence, RATE, curve(ramp()), adherence=1.0)
    assert np.array_equal(result.audio, silence)
    assert np.all(np.isfinite(result.gain_db)) and not np.any(result.gain_db)
    assert result.silent_frames == 2 * FRAMES
    assert result.max_deviation_lu == 0.0
    assert np.all(sides(result.after) == -70.0)


def test_silent_stretches_are_never_boosted():
    take = noise_take()
    gap = slice(2 * RATE, 4 * RATE)
    take[:, gap] *= 1e-5  # about -100 LUFS: far below the silence threshold
    result = conform_to_curve(take, RATE, curve(np.full(FRAMES, -30.0)), adherence=1.0)
    inner = slice(2 * RATE + RATE // 10, 4 * RATE - RATE // 10)  # away from the ramps at its edges
    assert result.gain_db[:, inner].max() <= 0.0
    assert np.abs(result.audio[:, inner]).max() <= np.abs(take[:, inner]).max()
    assert result.silent_frames == 2 * 12
    assert result.max_deviation_lu <= 0.5  # the audible frames are still on target


def quiet_gap_take(gap_db=-40.0):
    """Noise (about -26 LUFS) with seconds 2-4 turned down by ``gap_db``: a tail or a gap."""
    take = noise_take(swell=0.0)
    take[:, 2 * RATE : 4 * RATE] *= 10.0 ** (gap_db / 20.0)
    return take


GAP_FRAMES = slice(13, 23)  # frames wholly inside the gap, clear of the ramps at its edges


def test_quiet_stretches_are_lifted_onto_a_quiet_curve():
    take = quiet_gap_take()
    assert sides(loudness_curve(take, RATE))[:, GAP_FRAMES].max() < SILENCE_LUFS
    result = conform_to_curve(take, RATE, curve(np.full(FRAMES, -52.0)), adherence=1.0)
    after = sides(loudness_curve(result.audio, RATE))
    assert np.abs(after[:, GAP_FRAMES] + 52.0).max() <= 0.5


def test_quiet_stretches_are_lifted_at_most_20_db():
    take = quiet_gap_take()
    before = sides(loudness_curve(take, RATE))[:, GAP_FRAMES]
    result = conform_to_curve(take, RATE, curve(np.full(FRAMES, -25.0)), adherence=1.0)
    lift = sides(result.after)[:, GAP_FRAMES] - before
    assert np.abs(lift - QUIET_BOOST_DB).max() <= 0.5  # lifted, but only so far
    assert sides(result.after)[:, GAP_FRAMES].max() < -35.0  # near-silence did not become foreground
    assert result.silent_frames >= 2 * 10  # and the shortfall is counted, not hidden


def spiky_take_at_the_ceiling():
    """Impacts scaled so that their true peak sits exactly on -1 dBTP: any boost needs the limiter."""
    take = impact_take()
    return (take * 10.0 ** ((-1.0 - true_peak_dbtp(take, RATE)) / 20.0)).astype(np.float32)


def louder_than_the_peaks_allow(boost_db):
    take = spiky_take_at_the_ceiling()
    return take, LoudnessCurve.uniform(*(sides(loudness_curve(take, RATE)) + boost_db))


def without_make_up(monkeypatch, take, target):
    with monkeypatch.context() as patch:
        patch.setattr(conformance, "MAKEUP_PASSES", 0)
        return conform_to_curve(take, RATE, target, adherence=1.0)


def test_limiter_make_up_wins_back_what_the_limiter_took(monkeypatch):
    take, target = louder_than_the_peaks_allow(1.0)
    result = conform_to_curve(take, RATE, target, adherence=1.0)
    assert result.max_limiter_reduction_db > 2.0  # the limiter worked hard on the peaks
    assert true_peak_dbtp(result.audio, RATE) <= -1.0
    wanted = sides(target)
    audible = wanted > SILENCE_LUFS
    error = np.abs(sides(loudness_curve(result.audio, RATE)) - wanted)[audible]
    assert error.max() <= 0.5
    plain = without_make_up(monkeypatch, take, target)
    assert np.abs(sides(plain.after) - wanted)[audible].max() > 0.5  # the limiter alone falls short


def test_limiter_make_up_is_capped(monkeypatch):
    take, target = louder_than_the_peaks_allow(12.0)  # far more than the peaks allow
    result = conform_to_curve(take, RATE, target, adherence=1.0)
    plain = without_make_up(monkeypatch, take, target)
    assert true_peak_dbtp(result.audio, RATE) <= -1.0
    extra = result.gain_db - plain.gain_db
    # The cap is on each frame's aim; the solver may move a frame's gain a little further to offset
    # a loud neighbour's ramp, so single samples can exceed it, the bulk of the take cannot.
    assert 1.0 < np.median(extra) <= LIMITER_MAKEUP_DB + 0.05
    assert extra.max() <= LIMITER_MAKEUP_DB + 1.5
    assert result.max_deviation_lu > 0.5  # still short of the target, and it says so


def test_adherence_zero_gets_no_limiter_make_up():
    take = spiky_take_at_the_ceiling() * np.float32(2.0)  # 6 dB over the ceiling
    result = conform_to_curve(take, RATE, curve(np.full(FRAMES, -20.0)), adherence=0.0)
    assert not np.any(result.gain_db)
    np.testing.assert_array_equal(result.audio, limit_true_peak(take, RATE)[0])


def test_target_at_another_rate_is_resampled_to_the_frames():
    # 2 Hz: each value covers three 1/6 s frames.
    values = np.tile([-40.0, -25.0], int(SECONDS))
    target = LoudnessCurve.uniform(values, values[::-1], rate_hz=2.0)
    result = conform_to_curve(noise_take(), RATE, target, adherence=1.0)
    np.testing.assert_allclose(result.target.left, np.repeat(values, 3), atol=1e-9)
    np.testing.assert_allclose(result.target.right, np.repeat(values[::-1], 3), atol=1e-9)
    assert result.max_deviation_lu <= 0.5


def test_target_a_little_short_holds_its_last_value():
    take = noise_take()
    values = ramp()[:-1]  # ends one frame before the take
    result = conform_to_curve(take, RATE, curve(values), adherence=1.0)
    assert result.target.left[-1] == values[-1]
    assert len(result.target) == FRAMES
    assert result.max_deviation_lu <= 0.5


def test_float64_take_is_accepted():
    result = conform_to_curve(noise_take().astype(np.float64), RATE, curve(ramp()), adherence=1.0)
    assert result.audio.dtype == np.float32
    assert result.max_deviation_lu <= 0.5


def test_very_short_take():
    take = noise_take(seconds=0.05)
    result = conform_to_curve(take, RATE, curve([-30.0]), adherence=1.0)
    assert len(result.after) == 1
    assert abs(result.after.left[0] + 30.0) <= 0.5


# ---- bad input -----------------------------------------------------------------------------------
def good_take():
    return noise_take(seconds=1.0)


def good_curve():
    return curve(np.full(6, -30.0))


def with_nan():
    take = good_take()
    take[1, 500] = np.nan
    return take


@pytest.mark.parametrize(
    "audio, message",
    [
        (with_nan, "NaN"),
        (lambda: np.full((2, 100), np.inf, np.float32), "NaN or infinite"),
        (lambda: good_take()[0], r"shape \(2, samples\)"),
        (lambda: good_take().T, "transpose"),
        (lambda: good_take()[:1], "stereo"),
        (lambda: np.zeros((3, 100), np.float32), "stereo"),
        (lambda: np.zeros((2, 10, 2), np.float32), "stereo"),
        (lambda: np.zeros((2, 0), np.float32), "empty"),
        (lambda: np.zeros((2, 100), np.int16), "floating point"),
        (lambda: [["a", "b"], ["c", "d"]], "floating point"),
    ],
)
def test_bad_audio_is_a_user_error(audio, message):
    with pytest.raises(UserInputError, match=message):
        conform_to_curve(audio(), RATE, good_curve(), adherence=1.0)


@pytest.mark.parametrize("adherence", [-0.1, 1.5, float("nan"), True, "1", None])
def test_bad_adherence_is_a_user_error(adherence):
    with pytest.raises(UserInputError, match="adherence"):
        conform_to_curve(good_take(), RATE, good_curve(), adherence=adherence)


def test_curve_shorter_than_the_take_is_a_user_error():
    with pytest.raises(UserInputError, match=r"covers 0.67 s but the take is 1.00 s long"):
        conform_to_curve(good_take(), RATE, curve(np.full(4, -30.0)), adherence=1.0)


def test_curve_not_starting_at_zero_is_a_user_error():
    late = LoudnessCurve.uniform(np.full(12, -30.0), np.full(12, -30.0), start_s=0.5)
    with pytest.raises(UserInputError, match="start at 0 s"):
        conform_to_curve(good_take(), RATE, late, adherence=1.0)


def test_target_that_is_not_a_curve_is_a_user_error():
    with pytest.raises(UserInputError, match="LoudnessCurve"):
        conform_to_curve(good_take(), RATE, np.full(6, -30.0), adherence=1.0)


@pytest.mark.parametrize("rate, ceiling, message", [(1000, -1.0, "sample rate"), (RATE, 3.0, "ceiling")])
def test_bad_rate_or_ceiling_is_a_user_error(rate, ceiling, message):
    with pytest.raises(UserInputError, match=message):
        conform_to_curve(good_take(), rate, good_curve(), adherence=1.0, ceiling_dbtp=ceiling)
