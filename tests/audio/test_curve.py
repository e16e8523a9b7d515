"""LoudnessCurve (foleystudio.audio.curve): construction rules, CSV round trip and errors, resampling."""

import math

import numpy as np
import pytest

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.errors import UserInputError


def test_values_below_the_floor_and_minus_infinity_read_as_the_floor():
    curve = LoudnessCurve.uniform([-80.0, float("-inf"), -20.0], [-70.0, -69.5, -90.0])
    np.testing.assert_array_equal(curve.left, [FLOOR_LUFS, FLOOR_LUFS, -20.0])
    np.testing.assert_array_equal(curve.right, [FLOOR_LUFS, -69.5, FLOOR_LUFS])
    np.testing.assert_allclose(curve.times, [0.0, 1 / 6, 2 / 6])
    assert curve.end_s == pytest.approx(0.5)


@pytest.mark.parametrize(
    "times, left, right, message",
    [
        ([0, 1], [-20], [-20, -20], "lengths differ"),
        ([], [], [], "at least one frame"),
        ([0, 0], [-20, -20], [-20, -20], "strictly increasing"),
        ([0, 1], [float("nan"), -20], [-20, -20], "NaN"),
        ([0, 1], [-20, -20], [-20, float("inf")], r"\+inf"),
    ],
)
def test_invalid_curves_are_user_errors(times, left, right, message):
    with pytest.raises(UserInputError, match=message):
        LoudnessCurve(times, left, right)


def test_arrays_are_frozen():
    curve = LoudnessCurve.constant(1.0, -23.0)
    with pytest.raises(ValueError):
        curve.left[0] = 0.0


def test_csv_round_trip_keeps_times_and_values(tmp_path):
    rng = np.random.default_rng(3)
    left = np.round(rng.uniform(-70, 0, 50), 4)
    right = np.round(rng.uniform(-70, 0, 50), 4)
    curve = LoudnessCurve.uniform(left, right)
    path = tmp_path / "curve.csv"
    curve.write_csv(path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "time_s,left_lufs,right_lufs"
    again = LoudnessCurve.read_csv(path)
    np.testing.assert_allclose(again.times, curve.times, atol=5e-7)
    np.testing.assert_array_equal(again.left, left)
    np.testing.assert_array_equal(again.right, right)


def test_csv_accepts_blank_lines_and_spaces_in_header():
    text = "time_s, left_lufs ,right_lufs\n\n0,-20,-21\n0.5,-22,-23\n\n"
    curve = LoudnessCurve.from_csv_text(text)
    np.testing.assert_array_equal(curve.left, [-20.0, -22.0])
    np.testing.assert_array_equal(curve.right, [-21.0, -23.0])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("time,left,right\n0,-20,-20\n", "header must be time_s,left_lufs,right_lufs"),
        ("time_s,left_lufs,right_lufs\n", "header but no rows"),
        ("time_s,left_lufs,right_lufs\n0,-20\n", "line 2: expected 3 columns, got 2"),
        ("time_s,left_lufs,right_lufs\n0,-20,-20\n0.1,loud,-20\n", "line 3: not a number"),
        ("time_s,left_lufs,right_lufs\n0.2,-20,-20\n0.1,-20,-20\n", "strictly increasing"),
    ],
)
def test_bad_csv_text_names_the_problem(text, message):
    with pytest.raises(UserInputError, match=message):
        LoudnessCurve.from_csv_text(text, source="take.csv")


def test_bad_csv_files_are_user_errors_naming_the_file(tmp_path):
    with pytest.raises(UserInputError, match=r"missing\.csv: no such file"):
        LoudnessCurve.read_csv(tmp_path / "missing.csv")
    with pytest.raises(UserInputError, match="is a directory"):
        LoudnessCurve.read_csv(tmp_path)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(UserInputError, match="not a text file"):
        LoudnessCurve.read_csv(binary)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    with pytest.raises(UserInputError, match="wrong.csv: header"):
        LoudnessCurve.read_csv(wrong)


def test_dict_round_trip_and_bad_dict():
    curve = LoudnessCurve.uniform([-20.0, -30.0, -40.0], [-21.0, -31.0, -41.0])
    again = LoudnessCurve.from_dict(curve.to_dict())
    # to_dict keeps full precision.
    np.testing.assert_array_equal(again.times, curve.times)
    np.testing.assert_array_equal(again.left, curve.left)
    np.testing.assert_array_equal(again.right, curve.right)
    whole_seconds = LoudnessCurve.uniform([-20.0, -30.0], [-21.0, -31.0], rate_hz=2)
    assert LoudnessCurve.from_dict(whole_seconds.to_dict()) == whole_seconds
    with pytest.raises(UserInputError, match="needs times, left and right"):
        LoudnessCurve.from_dict({"times": [0.0]})


def test_downsampling_averages_energy_not_decibels():
    # Two frames at -20 and -40 LUFS merged into one: the energy mean, 10 log10((1e-2 + 1e-4) / 2).
    curve = LoudnessCurve.uniform([-20.0, -40.0], [-30.0, -30.0], rate_hz=6)
    merged = curve.resample(3)
    assert len(merged) == 1
    assert merged.left[0] == pytest.approx(10 * math.log10((1e-2 + 1e-4) / 2), abs=1e-9)
    assert merged.left[0] != pytest.approx(-30.0, abs=0.1)  # not the dB mean
    assert merged.right[0] == pytest.approx(-30.0, abs=1e-9)


def test_resampling_preserves_total_energy_of_a_varying_curve():
    rng = np.random.default_rng(5)
    values = rng.uniform(-60, -10, 60)  # 10 s at 6 Hz
    curve = LoudnessCurve.uniform(values, values[::-1])
    resampled = curve.resample(5)  # frames of 0.2 s do not line up with frames of 1/6 s

    def energy(c):
        return np.sum(10 ** (c.left / 10) * np.diff(np.append(c.times, c.end_s)))

    assert len(resampled) == 50
    assert energy(resampled) == pytest.approx(energy(curve), rel=1e-9)


def test_upsampling_holds_values():
    curve = LoudnessCurve.uniform([-20.0, -40.0], [-25.0, -45.0], rate_hz=6)
    fine = curve.resample(24)
    assert len(fine) == 8
    np.testing.assert_allclose(fine.left, [-20.0] * 4 + [-40.0] * 4, atol=1e-9)
    np.testing.assert_allclose(fine.right, [-25.0] * 4 + [-45.0] * 4, atol=1e-9)


def test_resample_to_a_longer_duration_holds_the_last_value():
    curve = LoudnessCurve.uniform([-20.0, -30.0], [-20.0, -30.0], rate_hz=2)
    longer = curve.resample(2, duration_s=2.0)
    np.testing.assert_allclose(longer.left, [-20.0, -30.0, -30.0, -30.0], atol=1e-9)


@pytest.mark.parametrize("rate", [0, -6, float("nan"), float("inf")])
def test_bad_resample_rates_are_user_errors(rate):
    with pytest.raises(UserInputError, match="curve rate"):
        LoudnessCurve.constant(1.0, -23.0).resample(rate)


def test_values_at_holds_past_both_ends():
    curve = LoudnessCurve.uniform([-20.0, -30.0, -40.0], [-21.0, -31.0, -41.0], rate_hz=1)
    left, right = curve.values_at([-5.0, 0.0, 0.99, 1.0, 2.5, 100.0])
    np.testing.assert_array_equal(left, [-20, -20, -20, -30, -40, -40])
    np.testing.assert_array_equal(right, [-21, -21, -21, -31, -41, -41])


def test_constant_curve_covers_the_duration():
    curve = LoudnessCurve.constant(10.05, -23.0)
    assert len(curve) == 61  # ceil(10.05 * 6)
    assert np.all(curve.left == -23.0) and np.all(curve.right == -23.0)
    with pytest.raises(UserInputError, match="duration must be positive"):
        LoudnessCurve.constant(0.0, -23.0)
