"""The loudness curve and the streaming meter: values, channels, windows, streaming, errors, JSON."""

import json
import math

import numpy as np
import pytest
import scipy.signal

from foleystudio.audio.channels import STEREO, SURROUND_5_1, layout_for
from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.kweighting import kweighting_response_db, kweighting_sos
from foleystudio.audio.loudness import LoudnessCurveMeter, LoudnessMeter, loudness_curve, measure
from foleystudio.errors import UserInputError


def sine(level_dbfs, seconds, rate, frequency=1000.0):
    t = np.arange(int(round(seconds * rate))) / rate
    return 10 ** (level_dbfs / 20) * np.sin(2 * np.pi * frequency * t)


def sine_curve_lufs(level_dbfs, rate, frequency=1000.0):
    """Per-channel curve value of a sine: -0.691 + 10 log10(A^2 / 2) + K-weighting gain."""
    return -0.691 + level_dbfs - 10 * math.log10(2) + float(kweighting_response_db(rate, [frequency])[0])


def brute_force_curve(samples, rate, window_s, hop_s):
    """The curve definition computed naively on one channel."""
    weighted = scipy.signal.sosfilt(kweighting_sos(rate), np.asarray(samples, np.float64))
    hop, window = hop_s * rate, int(round(window_s * rate))
    values = []
    k = 0
    while k == 0 or len(weighted) - math.floor(k * hop + 0.5) >= hop / 2:
        start = math.floor(k * hop + 0.5)
        part = weighted[start : start + window]
        values.append(max(FLOOR_LUFS, -0.691 + 10 * math.log10(np.mean(part**2))))
        k += 1
    return np.array(values)


# ---- the curve -----------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [44100, 48000])
def test_curve_of_a_1k_sine_reads_the_expected_level_per_channel(rate):
    stereo = np.stack([sine(-20.0, 5.0, rate), sine(-32.0, 5.0, rate)]).astype(np.float32)
    curve = loudness_curve(stereo, rate)
    assert len(curve) == 30
    np.testing.assert_allclose(curve.times, np.arange(30) / 6)
    np.testing.assert_allclose(curve.left, sine_curve_lufs(-20.0, rate), atol=0.02)
    np.testing.assert_allclose(curve.right, sine_curve_lufs(-32.0, rate), atol=0.02)
    assert sine_curve_lufs(-20.0, rate) == pytest.approx(-23.0, abs=0.01)


def test_left_and_right_are_independent():
    rate = 48000
    rng = np.random.default_rng(3)
    hit = np.zeros(3 * rate)
    hit[rate : rate + 4800] = 0.5 * rng.standard_normal(4800)
    hard_left = np.stack([hit, np.zeros_like(hit)]).astype(np.float32)
    curve = loudness_curve(hard_left, rate)
    assert np.all(curve.right == FLOOR_LUFS)
    assert curve.left.max() > -15.0
    assert curve.left[0] == FLOOR_LUFS  # nothing before the hit
    other_right = np.stack([hit, 0.3 * rng.standard_normal(3 * rate)]).astype(np.float32)
    np.testing.assert_array_equal(loudness_curve(other_right, rate).left, curve.left)


def test_mono_feeds_both_sides_with_the_mono_value():
    rate = 44100
    mono = sine(-20.0, 2.0, rate).astype(np.float32)
    curve = loudness_curve(mono, rate)
    np.testing.assert_array_equal(curve.left, curve.right)
    np.testing.assert_allclose(curve.left, sine_curve_lufs(-20.0, rate), atol=0.02)


def test_surround_curve_uses_the_stereo_downmix():
    rate = 48000
    tone = sine(-20.0, 2.0, rate)
    silent = np.zeros_like(tone)
    centre_only = np.stack([silent, silent, tone, silent, silent, silent]).astype(np.float32)
    curve = loudness_curve(centre_only, rate)
    np.testing.assert_allclose(curve.left, sine_curve_lufs(-20.0 - 3.0103, rate), atol=0.02)
    np.testing.assert_array_equal(curve.left, curve.right)
    lfe_only = np.stack([silent, silent, silent, tone, silent, silent]).astype(np.float32)
    assert np.all(loudness_curve(lfe_only, rate).left == FLOOR_LUFS)
    left_surround = np.stack([silent, silent, silent, silent, tone, silent]).astype(np.float32)
    curve = loudness_curve(left_surround, rate)
    assert np.all(curve.right == FLOOR_LUFS)
    np.testing.assert_allclose(curve.left, sine_curve_lufs(-23.0103, rate), atol=0.02)


@pytest.mark.parametrize(
    "seconds, frames",
    [(10.0, 60), (10.05, 60), (10.1, 61), (1 / 12 + 0.001, 1), (0.01, 1), (0.1, 1)],
)
def test_frame_count_follows_the_half_hop_rule(seconds, frames):
    rate = 48000
    curve = loudness_curve(sine(-20.0, seconds, rate).astype(np.float32), rate)
    assert len(curve) == frames


def test_partial_final_window_is_measured_over_the_audio_it_has():
    rate = 48000
    curve = loudness_curve(sine(-20.0, 10.1, rate).astype(np.float32), rate)
    # The last frame has 0.1 s of the same tone: it reads like the full frames.
    assert curve.left[-1] == pytest.approx(curve.left[0], abs=0.05)


@pytest.mark.parametrize(
    "rate, window_s, hop_s",
    [(48000, 1 / 6, 1 / 6), (8000, 1 / 6, 1 / 6), (44100, 0.4, 0.1), (22050, 0.05, 1 / 6), (11025, 0.25, 0.1)],
)
def test_curve_matches_its_definition_for_any_window_and_hop(rate, window_s, hop_s):
    rng = np.random.default_rng(rate)
    count = int(4.37 * rate)
    envelope = np.repeat(rng.uniform(0, 0.5, 437), rate // 100 + 1)[:count]  # a new level every 10 ms
    samples = (rng.standard_normal(count) * envelope).astype(np.float32)
    curve = loudness_curve(samples, rate, window_s=window_s, hop_s=hop_s)
    expected = brute_force_curve(samples, rate, window_s, hop_s)
    np.testing.assert_allclose(curve.left, expected, atol=1e-9)
    np.testing.assert_allclose(np.diff(curve.times), hop_s)


def test_silence_gives_floor_values_and_minus_infinity_without_warnings():
    silence = np.zeros((2, 48000 * 5), np.float32)
    report = measure(silence, 48000)
    assert np.all(report.curve.left == FLOOR_LUFS) and np.all(report.curve.right == FLOOR_LUFS)
    assert report.integrated_lufs == float("-inf") and report.is_silent
    assert report.loudness_range_lu == 0.0
    assert report.max_momentary_lufs == report.max_short_term_lufs == float("-inf")
    assert report.true_peak_dbtp == report.sample_peak_dbfs == float("-inf")
    assert np.all(report.momentary.values == float("-inf"))
    data = report.to_dict()
    assert data["integrated_lufs"] is None and data["true_peak_dbtp"] is None
    assert data["loudness_range_lu"] == 0.0


def test_quiet_programme_below_the_absolute_gate_is_minus_infinity():
    report = measure(np.stack([sine(-75.0, 5.0, 48000)] * 2).astype(np.float32), 48000)
    assert report.integrated_lufs == float("-inf")
    assert report.max_momentary_lufs == pytest.approx(-75.0, abs=0.1)
    assert np.all(report.curve.left == FLOOR_LUFS)


def test_short_programme_has_a_curve_but_no_momentary_value():
    report = measure(sine(-20.0, 0.3, 48000).astype(np.float32), 48000)
    assert len(report.curve) == 2 and len(report.momentary) == 0 and len(report.short_term) == 0
    assert report.integrated_lufs == float("-inf")
    assert report.sample_peak_dbfs == pytest.approx(-20.0, abs=0.01)


# ---- programme measures ------------------------------------------------------------------------------
def test_series_times_and_maxima():
    rate = 48000
    programme = np.concatenate([sine(-30.0, 4.0, rate), sine(-20.0, 1.0, rate), sine(-30.0, 4.0, rate)])
    report = measure(np.stack([programme] * 2).astype(np.float32), rate)
    assert report.momentary.end_times[0] == pytest.approx(0.4)
    assert report.short_term.end_times[0] == pytest.approx(3.0)
    np.testing.assert_allclose(np.diff(report.momentary.end_times), 0.1)
    assert len(report.momentary) == 87 and len(report.short_term) == 61
    assert report.max_momentary_lufs == pytest.approx(-20.0, abs=0.05)
    assert report.max_short_term_lufs == pytest.approx(10 * math.log10((1e-2 + 2 * 1e-3) / 3), abs=0.05)
    assert report.duration_s == pytest.approx(9.0)
    assert report.sample_peak_dbfs == pytest.approx(-20.0, abs=0.01)
    assert report.channel_sample_peaks_dbfs == pytest.approx((-20.0, -20.0), abs=0.01)


def test_generic_channel_counts_weigh_every_channel_one():
    rate = 48000
    tone = sine(-30.0, 5.0, rate)
    four = np.stack([tone] * 4).astype(np.float32)
    report = measure(four, rate)
    assert report.layout == "4ch"
    # A mono -30 dBFS sine reads -30 - 3.01 LUFS; four equal channels of weight 1 add 10 log10(4).
    assert report.integrated_lufs == pytest.approx(-30.0 - 3.01 + 6.02, abs=0.05)


# ---- streaming -------------------------------------------------------------------------------------
def assert_reports_identical(a, b):
    assert a.curve == b.curve
    for name in ("momentary", "short_term"):
        np.testing.assert_array_equal(getattr(a, name).values, getattr(b, name).values)
        np.testing.assert_array_equal(getattr(a, name).end_times, getattr(b, name).end_times)
    for name in (
        "integrated_lufs",
        "loudness_range_lu",
        "max_momentary_lufs",
        "max_short_term_lufs",
        "true_peak_dbtp",
        "sample_peak_dbfs",
        "channel_true_peaks_dbtp",
        "channel_sample_peaks_dbfs",
        "duration_s",
    ):
        assert getattr(a, name) == getattr(b, name), name


def feed_in_random_blocks(meter, samples, rng):
    position = 0
    while position < samples.shape[1]:
        size = int(rng.choice([0, 1, 3, 511, 4096, 44_100, 150_000]))
        meter.process(samples[:, position : position + size])
        position += size


@pytest.mark.parametrize(
    "rate, channels, window_s, hop_s",
    [(44100, 2, 1 / 6, 1 / 6), (11025, 1, 1 / 6, 1 / 6), (48000, 6, 0.4, 0.1), (22050, 2, 0.05, 0.2)],
)
def test_random_block_sizes_give_identical_results(rate, channels, window_s, hop_s):
    rng = np.random.default_rng(channels)
    seconds = 12.3
    envelope = np.repeat(rng.uniform(0, 0.4, 124), rate // 10)[: int(seconds * rate)]
    samples = (rng.standard_normal((channels, int(seconds * rate))) * envelope).astype(np.float32)
    whole = measure(samples, rate, window_s, hop_s)
    for _ in range(2):
        meter = LoudnessMeter(rate, channels, window_s, hop_s)
        feed_in_random_blocks(meter, samples, rng)
        assert_reports_identical(meter.result(), whole)


def test_curve_meter_matches_the_full_meter():
    rate = 44100
    rng = np.random.default_rng(9)
    samples = (0.1 * rng.standard_normal((2, 3 * rate))).astype(np.float32)
    meter = LoudnessCurveMeter(rate, 2)
    feed_in_random_blocks(meter, samples, rng)
    assert meter.curve() == measure(samples, rate).curve


def test_result_mid_stream_does_not_disturb_the_meter():
    rate = 48000
    rng = np.random.default_rng(5)
    samples = (0.1 * rng.standard_normal((2, 7 * rate))).astype(np.float32)
    meter = LoudnessMeter(rate, 2)
    meter.process(samples[:, : 2 * rate + 1234])
    early = meter.result()
    assert early.duration_s == pytest.approx((2 * rate + 1234) / rate)
    meter.process(samples[:, 2 * rate + 1234 :])
    assert_reports_identical(meter.result(), measure(samples, rate))


# ---- errors ----------------------------------------------------------------------------------------
def test_nan_is_rejected_with_the_time_it_occurs():
    rate = 48000
    samples = np.zeros((2, 4 * rate), np.float32)
    samples[1, int(2.5 * rate)] = np.nan
    meter = LoudnessMeter(rate, 2)
    meter.process(samples[:, :rate])
    with pytest.raises(UserInputError, match=r"NaN or infinite samples \(first at 2\.500 s, channel 2\)"):
        meter.process(samples[:, rate:])
    samples[0, 3 * rate] = np.inf
    with pytest.raises(UserInputError, match=r"first at 0\.400 s, channel 1"):
        measure(samples[:, int(2.6 * rate) :], rate)  # its own clock: 3.0 s - 2.6 s


def test_a_rejected_block_leaves_the_meter_unchanged():
    rate = 44100
    rng = np.random.default_rng(6)
    samples = (0.1 * rng.standard_normal((2, 2 * rate))).astype(np.float32)
    meter = LoudnessMeter(rate, 2)
    meter.process(samples[:, :rate])
    bad = samples[:, rate:].copy()
    bad[0, 100] = np.nan
    with pytest.raises(UserInputError):
        meter.process(bad)
    meter.process(samples[:, rate:])
    assert_reports_identical(meter.result(), measure(samples, rate))


@pytest.mark.parametrize(
    "block, message",
    [
        (np.zeros(100, np.float32), r"shape \(channels=2, samples\)"),
        (np.zeros((3, 100), np.float32), r"shape \(channels=2, samples\), got shape \(3, 100\)"),
        (np.zeros((100, 2), np.float32), "transpose it"),
        (np.zeros((2, 100), np.int16), "floating point"),
        ([["a", "b"], ["c", "d"]], "floating point"),
    ],
)
def test_wrong_blocks_are_user_errors(block, message):
    with pytest.raises(UserInputError, match=message):
        LoudnessMeter(48000, 2).process(block)


def test_wrong_whole_inputs_are_user_errors():
    with pytest.raises(UserInputError, match="looks like \\(samples, channels\\)"):
        measure(np.zeros((48000, 2), np.float32), 48000)
    with pytest.raises(UserInputError, match="input is empty"):
        measure(np.zeros((2, 0), np.float32), 48000)
    with pytest.raises(UserInputError, match="shape"):
        loudness_curve(np.zeros((1, 2, 3), np.float32), 48000)


@pytest.mark.parametrize("rate", [4000, 200_000, 44100.5, "44100", None])
def test_bad_sample_rates_are_user_errors(rate):
    with pytest.raises(UserInputError, match="sample rate"):
        LoudnessMeter(rate, 2)


@pytest.mark.parametrize(
    "window_s, hop_s, message",
    [
        (0.0, 0.1, "curve window"),
        (0.1, -1.0, "curve hop"),
        (float("nan"), 0.1, "curve window"),
        (0.1, 7200.0, "curve hop"),
    ],
)
def test_bad_curve_windows_are_user_errors(window_s, hop_s, message):
    with pytest.raises(UserInputError, match=message):
        LoudnessMeter(48000, 2, window_s, hop_s)


@pytest.mark.parametrize("channels", [0, 65, 2.5, True])
def test_bad_channel_counts_are_user_errors(channels):
    with pytest.raises(UserInputError, match="channel count"):
        LoudnessMeter(48000, channels)


def test_layouts_by_channel_count():
    assert layout_for(2) is STEREO
    assert layout_for(6) is SURROUND_5_1
    assert layout_for(6).weights == (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    assert layout_for(3).weights == (1.0, 1.0, 1.0)


# ---- JSON ------------------------------------------------------------------------------------------
def test_report_to_dict_is_strict_json_with_the_measures():
    rate = 48000
    samples = np.stack([sine(-23.0, 5.0, rate), np.zeros(5 * rate)]).astype(np.float32)
    report = measure(samples, rate)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["integrated_lufs"] == pytest.approx(-26.0, abs=0.05)
    assert data["channel_true_peaks_dbtp"][1] is None
    assert data["channel_sample_peaks_dbfs"][0] == pytest.approx(-23.0, abs=0.01)
    assert data["true_peak_oversampling"] == 4
    assert len(data["curve"]["left"]) == 30 and data["curve"]["hop_s"] == pytest.approx(1 / 6)
    assert set(data["curve"]["right"]) == {FLOOR_LUFS}
    assert len(data["momentary"]["lufs"]) == len(report.momentary)
    assert LoudnessCurve.from_dict(data["curve"]).left == pytest.approx(report.curve.left, abs=1e-4)
    brief = report.to_dict(include_series=False)
    assert "curve" not in brief and "momentary" not in brief
    assert brief["integrated_lufs"] == data["integrated_lufs"]


def test_layouts_from_speaker_positions():
    from foleystudio.audio.channels import SURROUND_5_0, layout_from_positions

    assert layout_from_positions(("FL", "FR")) is STEREO
    assert layout_from_positions(("FL", "FR", "FC", "LFE", "SL", "SR")) is SURROUND_5_1
    assert layout_from_positions(("FL", "FR", "FC", "BL", "BR")) is SURROUND_5_0
    quad = layout_from_positions(("FL", "FR", "BL", "BR"))
    assert quad.weights == (1.0, 1.0, 1.41, 1.41)
    assert quad.left_mix[2] == pytest.approx(0.7071, abs=1e-4) and quad.right_mix[2] == 0.0
    assert layout_from_positions(("FL", "FR", "XYZ")).weights == (1.0, 1.0, 1.0)  # unknown: by count
