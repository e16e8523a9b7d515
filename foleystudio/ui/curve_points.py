"""Breakpoint editing math for the loudness-curve editor (numpy only, no Qt).

The stored curve (``LoudnessCurve``) is a list of samples at fixed frame times (6 Hz). The editor
lets a designer work on **breakpoints** instead: per channel, a few (time, LUFS) points whose
piecewise-linear interpolation, sampled at the frame times, *is* the curve.

Design choices:

* **Exact round trip.** ``breakpoints_from_samples`` keeps only the samples where the slope
  changes, then checks the result with the very function that samples it (``np.interp``) and adds
  back any sample that would not come out bit-identical. So loading any stored curve and sampling
  it again gives the same samples, and an edit changes only the stretch it touches: untouched
  stretches are re-sampled from unchanged breakpoints and stay identical.
* **Pure functions on immutable values.** Every edit takes ``Breakpoints`` and returns new ones;
  a drag recomputes its result from the breakpoints at the mouse press plus the total motion, so
  rounding never accumulates and a gesture can be redone from scratch at every mouse move.
* **Vectorised.** Nothing loops over points in Python, so a 3600-point curve edits at mouse rate.
* **Levels are clamped** to [-70, 0] LUFS when a point is placed, moved or scaled. A loaded curve
  keeps its values (also any above 0 LUFS) until its points are edited.
* **End points.** The first and last breakpoints sit at the first and last frame times; they can be
  raised or lowered but never deleted or moved in time, so the curve always covers its frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve

CEILING_LUFS = 0.0
# Two breakpoints closer than this cannot be told apart on screen and make the slope explode.
MIN_GAP_S = 1e-3
# A slope change below this (LU per second, relative) is rounding noise, not a corner: such points
# are dropped first, and the exactness check puts back any that are really needed.
_SLOPE_TOLERANCE = 1e-9


def _frozen(values) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Breakpoints:
    """One channel's breakpoints: strictly increasing ``times`` (s) and ``values`` (LUFS)."""

    times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        times, values = _frozen(self.times), _frozen(self.values)
        if times.ndim != 1 or times.shape != values.shape or len(times) == 0:
            raise ValueError(f"breakpoints need equal, non-empty 1-D times and values, got {times.shape}, {values.shape}")
        if not np.all(np.isfinite(times)) or not np.all(np.isfinite(values)):
            raise ValueError("breakpoint times and values must be finite")
        if np.any(np.diff(times) <= 0):
            raise ValueError("breakpoint times must be strictly increasing")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def __len__(self) -> int:
        return len(self.times)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Breakpoints):
            return NotImplemented
        return np.array_equal(self.times, other.times) and np.array_equal(self.values, other.values)

    __hash__ = None  # mutable-looking arrays inside: compare, never hash

    def sample(self, frame_times) -> np.ndarray:
        """The curve these breakpoints describe at ``frame_times`` (end values held outside)."""
        return np.interp(np.asarray(frame_times, np.float64), self.times, self.values)


# ---- curves <-> breakpoints ----------------------------------------------------------------------
def frame_grid(curve: LoudnessCurve, duration_s: float) -> np.ndarray:
    """The frame times an edit samples at: the curve's own, extended at its frame rate to ``duration_s``.

    A curve made before the video was opened may be shorter than the project; extending it lets the
    designer draw over the whole picture. A longer curve keeps all its frames.
    """
    times = curve.times
    last, step = float(times[-1]), curve.frame_s
    missing = math.ceil((float(duration_s) - last) / step - 1e-9) - 1
    if missing <= 0:
        return times
    return np.concatenate([times, last + step * np.arange(1, missing + 1)])


def breakpoints_from_samples(times, values) -> Breakpoints:
    """The fewest-corner breakpoints whose ``sample(times)`` equals ``values`` exactly."""
    times, values = np.asarray(times, np.float64), np.asarray(values, np.float64)
    count = len(times)
    keep = np.zeros(count, bool)
    keep[[0, -1]] = True
    if count > 2:
        slopes = np.diff(values) / np.diff(times)
        scale = np.maximum(np.abs(slopes[:-1]), np.abs(slopes[1:])) + 1.0
        keep[1:-1] = np.abs(np.diff(slopes)) > _SLOPE_TOLERANCE * scale
    # Each pass adds the samples that do not come back bit-identical; the set only grows, so this
    # ends (at worst with every sample kept), usually after one pass.
    while True:
        rebuilt = np.interp(times, times[keep], values[keep])
        wrong = rebuilt != values
        if not wrong.any():
            return Breakpoints(times[keep], values[keep])
        keep |= wrong


def channels_from_curve(curve: LoudnessCurve, duration_s: float) -> tuple[np.ndarray, Breakpoints, Breakpoints]:
    """The frame grid and left/right breakpoints of ``curve`` (held past its end to ``duration_s``)."""
    grid = frame_grid(curve, duration_s)
    extra = len(grid) - len(curve)
    left = np.concatenate([curve.left, np.full(extra, curve.left[-1])])
    right = np.concatenate([curve.right, np.full(extra, curve.right[-1])])
    return grid, breakpoints_from_samples(grid, left), breakpoints_from_samples(grid, right)


def curve_from_breakpoints(grid, left: Breakpoints, right: Breakpoints) -> LoudnessCurve:
    """The stored curve: both channels' breakpoints sampled at the frame grid."""
    return LoudnessCurve(grid, left.sample(grid), right.sample(grid))


def clamp_level(values) -> np.ndarray:
    return np.clip(np.asarray(values, np.float64), FLOOR_LUFS, CEILING_LUFS)


# ---- point edits ----------------------------------------------------------------------------------
def _indices(points: Breakpoints, indices) -> np.ndarray:
    array = np.unique(np.asarray(indices, dtype=np.intp).ravel())
    if len(array) and (array[0] < 0 or array[-1] >= len(points)):
        raise ValueError(f"breakpoint index out of range 0..{len(points) - 1}: {array.tolist()}")
    return array


def insert_point(points: Breakpoints, time_s: float, lufs: float) -> tuple[Breakpoints, int]:
    """Add a breakpoint (clamped to the curve's span and levels); returns it and its index.

    A point at the time of an existing one replaces that one's level.
    """
    time_s = float(np.clip(time_s, points.times[0], points.times[-1]))
    lufs = float(clamp_level(lufs))
    index = int(np.searchsorted(points.times, time_s))
    if index < len(points) and points.times[index] == time_s:
        values = points.values.copy()
        values[index] = lufs
        return Breakpoints(points.times, values), index
    return (
        Breakpoints(np.insert(points.times, index, time_s), np.insert(points.values, index, lufs)),
        index,
    )


def deletable(points: Breakpoints, indices) -> np.ndarray:
    """``indices`` less the first and last breakpoint (which are never deleted)."""
    indices = _indices(points, indices)
    return indices[(indices > 0) & (indices < len(points) - 1)]


def delete_points(points: Breakpoints, indices) -> Breakpoints:
    """Remove the breakpoints at ``indices``, except the first and last."""
    doomed = deletable(points, indices)
    return Breakpoints(np.delete(points.times, doomed), np.delete(points.values, doomed))


def _time_movable(points: Breakpoints, indices) -> np.ndarray:
    indices = _indices(points, indices)
    return indices[(indices > 0) & (indices < len(points) - 1)]


def shift_limits(points: Breakpoints, indices) -> tuple[float, float]:
    """How far (s) the selected points may move in time without crossing an unselected one.

    The first and last breakpoint keep their time (they move in level only), so they bound the
    others like unselected points do. Unbounded when no selected point moves in time.
    """
    movable = _time_movable(points, indices)
    if len(movable) == 0:
        return -math.inf, math.inf
    selected = np.zeros(len(points), bool)
    selected[movable] = True
    run_starts = movable[~selected[movable - 1]]
    run_ends = movable[~selected[movable + 1]]
    low = float(np.max(points.times[run_starts - 1] - points.times[run_starts])) + MIN_GAP_S
    high = float(np.min(points.times[run_ends + 1] - points.times[run_ends])) - MIN_GAP_S
    return min(low, 0.0), max(high, 0.0)


def move_points(points: Breakpoints, indices, shift_s: float, offset_db: float) -> Breakpoints:
    """Move the selected points by ``shift_s`` (clamped to ``shift_limits``) and ``offset_db`` (levels clamped).

    Call it with the breakpoints from the start of the drag and the drag's total motion.
    """
    indices = _indices(points, indices)
    low, high = shift_limits(points, indices)
    shift = float(np.clip(shift_s, low, high))
    times, values = points.times.copy(), points.values.copy()
    times[_time_movable(points, indices)] += shift
    values[indices] = clamp_level(values[indices] + offset_db)
    return Breakpoints(times, values)


def offset_points(points: Breakpoints, indices, offset_db: float) -> Breakpoints:
    """Raise (or lower) the selected points' levels by ``offset_db`` dB."""
    return move_points(points, indices, 0.0, offset_db)


def scale_points(points: Breakpoints, indices, factor: float) -> Breakpoints:
    """Scale the selected levels around their mean by ``factor`` (> 1 widens the dynamics)."""
    if not (math.isfinite(factor) and factor >= 0):
        raise ValueError(f"scale factor must be a finite number >= 0, got {factor}")
    indices = _indices(points, indices)
    if len(indices) == 0:
        return points
    values = points.values.copy()
    mean = float(np.mean(values[indices]))
    values[indices] = clamp_level(mean + (values[indices] - mean) * factor)
    return Breakpoints(points.times, values)


def replace_range(points: Breakpoints, times, values, grid=None) -> Breakpoints:
    """Put the points (``times``, ``values``) in place of every breakpoint within their time span.

    The new points are cut to the curve's span (their line is interpolated at the cut) and their
    levels clamped. With the frame ``grid``, the old curve is pinned at the last frame before and
    the first frame after the new points, so frames outside their span keep their levels (up to
    rounding in the last bit where the old stretch was sloped) and the change is a step at the edges,
    not a slope reaching back to the neighbouring breakpoints. Used by the pencil, the line tool
    and paste.
    """
    times, values = np.asarray(times, np.float64), np.asarray(values, np.float64)
    order = np.argsort(times, kind="stable")
    times, values = times[order], values[order]
    first, last = float(points.times[0]), float(points.times[-1])
    start, end = max(float(times[0]), first), min(float(times[-1]), last)
    if end < start:
        return points
    inside = (times > start) & (times < end)
    new_times = np.unique(np.concatenate([[start], times[inside], [end]]))
    new_values = clamp_level(np.interp(new_times, times, values))
    keep = (points.times < start) | (points.times > end)
    anchor_times = _anchors(points, start, end, grid)
    merged_times = np.concatenate([points.times[keep], anchor_times, new_times])
    merged_values = np.concatenate([points.values[keep], points.sample(anchor_times), new_values])
    order = np.argsort(merged_times, kind="stable")
    return Breakpoints(merged_times[order], merged_values[order])


def _anchors(points: Breakpoints, start: float, end: float, grid) -> np.ndarray:
    """The frames just outside [start, end] that are not breakpoints yet."""
    if grid is None:
        return np.empty(0)
    grid = np.asarray(grid, np.float64)
    before, after = grid[grid < start], grid[grid > end]
    anchors = ([before[-1]] if len(before) else []) + ([after[0]] if len(after) else [])
    return np.setdiff1d(np.asarray(anchors, np.float64), points.times)


def extract_range(points: Breakpoints, start_s: float, end_s: float) -> Breakpoints:
    """The shape of the curve over [start_s, end_s], times from 0 (for copy and paste)."""
    start_s, end_s = float(start_s), float(end_s)
    if not end_s > start_s:
        raise ValueError(f"copy range must end after it starts, got {start_s}..{end_s}")
    inside = (points.times > start_s) & (points.times < end_s)
    times = np.concatenate([[start_s], points.times[inside], [end_s]])
    return Breakpoints(times - start_s, np.concatenate([points.sample([start_s]), points.values[inside], points.sample([end_s])]))


# ---- gestures -----------------------------------------------------------------------------------
def add_stroke_point(stroke_times, stroke_values, last_time_s: float | None, time_s: float, lufs: float):
    """A freehand stroke after the pen moved from ``last_time_s`` to (``time_s``, ``lufs``).

    The stroke is kept sorted by time; what the pen passes over again is redrawn (points strictly
    between the previous and the new pen time, and any at the new time, are replaced).
    """
    times, values = np.asarray(stroke_times, np.float64), np.asarray(stroke_values, np.float64)
    if last_time_s is not None and len(times):
        low, high = sorted((float(last_time_s), float(time_s)))
        keep = ~((times > low) & (times < high)) & (times != time_s)
        times, values = times[keep], values[keep]
    index = int(np.searchsorted(times, time_s))
    return np.insert(times, index, time_s), np.insert(values, index, lufs)


def pencil_points(stroke_times, stroke_values, grid) -> tuple[np.ndarray, np.ndarray]:
    """The breakpoints a stroke leaves: its ends plus one per frame it covers.

    The curve only exists at frame times, so finer points would add nothing but weight.
    """
    stroke_times, stroke_values = np.asarray(stroke_times, np.float64), np.asarray(stroke_values, np.float64)
    start, end = stroke_times[0], stroke_times[-1]
    grid = np.asarray(grid, np.float64)
    times = np.unique(np.concatenate([[start], grid[(grid > start) & (grid < end)], [end]]))
    return times, np.interp(times, stroke_times, stroke_values)


def nearest_point(points: Breakpoints, time_s: float, lufs: float, seconds_per_px: float, lufs_per_px: float,
                  radius_px: float) -> int | None:
    """Index of the breakpoint nearest (on screen) to a position, if within ``radius_px`` pixels."""
    dx = (points.times - time_s) / seconds_per_px
    dy = (points.values - lufs) / lufs_per_px
    distance = np.hypot(dx, dy)
    index = int(np.argmin(distance))
    return index if distance[index] <= radius_px else None


def points_in_rect(points: Breakpoints, time_range, level_range) -> np.ndarray:
    """Indices of the breakpoints inside a time x level rectangle (corners in any order)."""
    t0, t1 = sorted(time_range)
    v0, v1 = sorted(level_range)
    inside = (points.times >= t0) & (points.times <= t1) & (points.values >= v0) & (points.values <= v1)
    return np.flatnonzero(inside)


def matching_indices(source: Breakpoints, indices, target: Breakpoints) -> np.ndarray:
    """Indices of ``target``'s breakpoints at exactly the times of ``source[indices]`` (linked lanes)."""
    indices = _indices(source, indices)
    return np.flatnonzero(np.isin(target.times, source.times[indices]))


def snap_time(time_s: float, steps) -> float:
    """``time_s`` moved to the nearest multiple of any of ``steps`` (Fractions of a second).

    Exact arithmetic, so a frame of 1001/24000 s lands on the frame, not next to it.
    """
    steps = [Fraction(step) for step in steps if step]
    if not steps:
        return float(time_s)
    exact = Fraction(float(time_s))
    candidates = [round(exact / step) * step for step in steps]
    return float(min(candidates, key=lambda candidate: abs(candidate - exact)))
