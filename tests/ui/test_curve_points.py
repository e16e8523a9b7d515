"""Breakpoint editing math (no Qt): exact round trips, point edits, strokes, ranges, snapping."""

from fractions import Fraction

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.ui import curve_points as cp


def bp(times, values):
    return cp.Breakpoints(times, values)


def round_trips(curve: LoudnessCurve, duration_s: float) -> bool:
    grid, left, right = cp.channels_from_curve(curve, duration_s)
    rebuilt = cp.curve_from_breakpoints(grid, left, right)
    return rebuilt == curve


def some_curves(rng):
    frames = LoudnessCurve.uniform(np.zeros(60), np.zeros(60)).times
    yield LoudnessCurve.constant(10.0, -23.0)
    yield LoudnessCurve(frames, np.linspace(-70, 0, 60), np.linspace(0, -70, 60))
    yield LoudnessCurve(frames, np.linspace(-31.3, -12.7, 60) ** 1.0, rng.uniform(-70, 0, 60))
    yield LoudnessCurve(frames, np.round(rng.uniform(-70, 0, 60), 1), np.full(60, -70.0))
    walk = np.cumsum(rng.normal(0, 0.37, 60)) - 20
    yield LoudnessCurve(frames, walk, walk[::-1])
    steps = np.repeat(rng.uniform(-60, -5, 6), 10)
    yield LoudnessCurve(frames, steps, np.minimum(steps + 3.3, 2.5))  # above 0 LUFS too
    irregular = np.cumsum(rng.uniform(0.05, 0.4, 40))
    yield LoudnessCurve(irregular, np.sin(irregular) * 20 - 30, np.cos(irregular * 3.1) * 7 - 40)
    yield LoudnessCurve([0.0], [-12.0], [-14.0])


def test_any_curve_round_trips_exactly():
    rng = np.random.default_rng(3)
    for curve in some_curves(rng):
        assert round_trips(curve, duration_s=float(curve.end_s))


def test_collinear_samples_are_dropped():
    flat = LoudnessCurve.constant(10.0, -23.0)
    grid, left, right = cp.channels_from_curve(flat, 10.0)
    assert len(left) == len(right) == 2
    assert left.times.tolist() == [0.0, flat.times[-1]]
    corners = np.interp(flat.times, [0, 3, 6, flat.times[-1]], [-40, -10, -10, -50])
    grid, left, _ = cp.channels_from_curve(LoudnessCurve(flat.times, corners, corners), 10.0)
    assert left.times.tolist() == [0.0, 3.0, 6.0, flat.times[-1]]


def test_a_short_curve_is_held_to_the_project_length():
    curve = LoudnessCurve.constant(2.0, -30.0)
    grid, left, _ = cp.channels_from_curve(curve, 5.0)
    assert len(grid) == 30 and np.allclose(np.diff(grid), 1 / 6)
    assert np.array_equal(grid[: len(curve)], curve.times)
    assert np.all(left.sample(grid) == -30.0)
    assert np.array_equal(cp.frame_grid(LoudnessCurve.constant(9.0, -30.0), 5.0), LoudnessCurve.constant(9.0, -30.0).times)


def test_insert_replaces_at_the_same_time_and_clamps():
    points = bp([0, 10], [-23, -23])
    points, index = cp.insert_point(points, 4.0, 12.0)
    assert index == 1 and points.values.tolist() == [-23, 0.0, -23]
    points, index = cp.insert_point(points, 4.0, -80)
    assert len(points) == 3 and points.values[1] == -70.0
    points, index = cp.insert_point(points, 99.0, -30)
    assert index == 2 and points.times[-1] == 10 and points.values[-1] == -30


def test_first_and_last_points_are_never_deleted():
    points = bp([0, 1, 2, 3], [-1, -2, -3, -4])
    assert cp.delete_points(points, [0, 1, 2, 3]) == bp([0, 3], [-1, -4])
    assert cp.delete_points(points, [2]) == bp([0, 1, 3], [-1, -2, -4])


def test_moves_stay_between_unselected_neighbours_and_ends_keep_their_time():
    points = bp([0, 1, 2, 3, 10], [-20, -20, -20, -20, -20])
    low, high = cp.shift_limits(points, [2, 3])
    assert low == pytest.approx(-1 + cp.MIN_GAP_S) and high == pytest.approx(7 - cp.MIN_GAP_S)
    moved = cp.move_points(points, [2, 3], 50.0, 100.0)
    assert moved.times[3] == pytest.approx(10 - cp.MIN_GAP_S) and moved.values[[2, 3]].tolist() == [0.0, 0.0]
    moved = cp.move_points(points, [0, 1], 0.5, -5.0)
    assert moved.times.tolist() == [0, 1.5, 2, 3, 10] and moved.values[:2].tolist() == [-25, -25]
    assert cp.shift_limits(points, [0, 4]) == (-np.inf, np.inf)  # nothing moves in time
    assert cp.move_points(points, [0, 4], 3.0, 1.0).times.tolist() == [0, 1, 2, 3, 10]


def test_offset_and_scale_act_on_the_selection_only():
    points = bp([0, 1, 2, 3], [-30, -20, -10, -40])
    assert cp.offset_points(points, [1, 2], 1.5).values.tolist() == [-30, -18.5, -8.5, -40]
    scaled = cp.scale_points(points, [1, 2], 2.0)
    assert scaled.values.tolist() == [-30, -25, -5, -40]
    assert cp.scale_points(points, [0, 3], 0.0).values.tolist() == [-35, -20, -10, -35]
    with pytest.raises(ValueError, match="scale factor"):
        cp.scale_points(points, [1], float("nan"))


def test_replace_range_cuts_the_stroke_to_the_curve_and_keeps_the_rest():
    points = bp([0, 2, 4, 6, 8], [-10, -20, -30, -40, -50])
    replaced = cp.replace_range(points, [3, 5], [-60, -60])
    assert replaced == bp([0, 2, 3, 5, 6, 8], [-10, -20, -60, -60, -40, -50])
    over_the_start = cp.replace_range(points, [-2, 2], [-70, -30])
    assert over_the_start.times.tolist() == [0, 2, 4, 6, 8]
    assert over_the_start.values[:2].tolist() == [-50, -30]


def test_with_the_grid_the_frames_outside_a_replaced_range_keep_their_levels():
    grid = np.arange(60) / 6
    points = bp([0, 9.8333], [-23, -23])
    replaced = cp.replace_range(points, [2.0, 4.0], [-60, -10], grid)
    assert np.allclose(replaced.times, [0, 2 - 1 / 6, 2, 4, 4 + 1 / 6, 9.8333])
    samples = replaced.sample(grid)
    outside = (grid < 2) | (grid > 4)
    assert np.all(samples[outside] == -23.0)
    assert np.allclose(samples[(grid >= 2) & (grid <= 4)], np.interp(grid[(grid >= 2) & (grid <= 4)], [2, 4], [-60, -10]))


def test_copy_then_paste_reproduces_the_shape():
    grid = np.arange(60) / 6
    points = bp([0, 1, 2, 3, 9.8333], [-40, -10, -35, -40, -40])
    clip = cp.extract_range(points, 1.0, 3.0)
    assert clip.times.tolist() == [0, 1, 2] and clip.values.tolist() == [-10, -35, -40]
    pasted = cp.replace_range(points, clip.times + 6.0, clip.values)
    assert np.allclose(pasted.sample(grid[36:49]), points.sample(grid[6:19]))
    assert np.array_equal(pasted.sample(grid[:19]), points.sample(grid[:19]))
    with pytest.raises(ValueError):
        cp.extract_range(points, 2.0, 2.0)


def test_a_stroke_redraws_what_it_passes_over_again():
    times, values, last = np.empty(0), np.empty(0), None
    for t, v in ((1.0, -10), (2.0, -20), (3.0, -30), (1.5, -50)):
        times, values = cp.add_stroke_point(times, values, last, t, v)
        last = t
    # Going back from 3.0 to 1.5 erased the point at 2.0 that the pen passed over.
    assert times.tolist() == [1.0, 1.5, 3.0] and values.tolist() == [-10, -50, -30]


def test_pencil_leaves_one_point_per_frame_it_covers():
    grid = np.arange(60) / 6
    times, values = cp.pencil_points([1.05, 2.0], [-10, -20], grid)
    assert times[0] == 1.05 and times[-1] == 2.0
    assert np.allclose(times[1:-1], grid[(grid > 1.05) & (grid < 2.0)])
    assert np.allclose(values, np.interp(times, [1.05, 2.0], [-10, -20]))


def test_snapping_is_exact_for_ntsc_frames_and_picks_the_nearest_grid():
    frame = 1 / Fraction(24000, 1001)
    snapped = cp.snap_time(10.0, [frame])
    assert Fraction(snapped) == Fraction(float(240 * frame)) and round(snapped / float(frame)) == 240
    assert cp.snap_time(0.34, [Fraction(1, 10)]) == 0.3
    assert cp.snap_time(0.34, [Fraction(1, 24), Fraction(1, 10)]) == float(Fraction(8, 24))
    assert cp.snap_time(0.34, []) == 0.34


def test_hit_testing_rectangles_and_linked_matches():
    points = bp([0, 1, 2, 3], [-30, -20, -10, -40])
    assert cp.nearest_point(points, 1.01, -20.5, 0.01, 0.1, 7) == 1
    assert cp.nearest_point(points, 1.5, -20.5, 0.01, 0.1, 7) is None
    assert cp.points_in_rect(points, (2.5, 0.5), (-5, -25)).tolist() == [1, 2]
    other = bp([0, 1, 2.5, 3], [-30, -20, -10, -40])
    assert cp.matching_indices(points, [1, 2, 3], other).tolist() == [1, 3]
