import numpy as np

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.textplot import plot_curve


def test_panned_curve_shows_left_above_right_then_the_reverse():
    left = np.r_[np.full(30, -12.0), np.full(30, -40.0)]
    right = np.r_[np.full(30, -40.0), np.full(30, -12.0)]
    text = plot_curve(LoudnessCurve.uniform(left, right), width=60, height=8)
    rows = text.splitlines()[:8]
    top, bottom = rows[0].split("|", 1)[1], rows[-1].split("|", 1)[1]
    assert set(top[:30]) == {"L"} and set(top[30:]) == {"R"}
    assert set(bottom[:30]) == {"R"} and set(bottom[30:]) == {"L"}


def test_equal_channels_draw_as_both_and_short_peaks_survive_squeezing():
    values = np.full(600, -50.0)
    values[300] = -10.0  # one loud frame among 600 squeezed into 40 columns
    text = plot_curve(LoudnessCurve.uniform(values, values), width=40, height=6)
    top = text.splitlines()[0].split("|", 1)[1]
    assert top.count("#") == 1
