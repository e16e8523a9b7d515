"""Loudness conformance: a smooth gain curve brings a take onto a loudness curve (DESIGN.md §2).

The generator is conditioned on the curve but follows it only roughly; conformance makes the take's
measured curve (1/6 s K-weighted frames, ``loudness.loudness_curve``) match it, per channel, to the
chosen adherence, then a true-peak limiter keeps it under the ceiling. The take is never
peak-normalised: absolute level is the point.

Per channel and frame k (frames of the measured curve):

* **goal**: ``before[k] + adherence * (target[k] - before[k])`` in LUFS. Adherence 1 matches the
  target, 0 leaves the take as it is, 0.5 moves it halfway in dB.
* **gain**: ``goal - before``, clamped to [-MAX_CUT_DB, +MAX_BOOST_DB]. A frame whose take is
  below SILENCE_LUFS (-60 LUFS: a gap, a tail, or near-silence) is boosted by at most QUIET_BOOST_DB
  (20 dB): enough to carry a tail or a bed up to a quiet curve, never enough to turn near-silence
  into a foreground sound, which would only make the take's residue audible. A frame the meter
  reads at its floor (-70 LUFS) has nothing to measure and is never boosted. Any of them may be
  cut. Frames below SILENCE_LUFS are counted in ``ConformanceResult.silent_frames`` and left out
  of ``max_deviation_lu``.
* **gain curve** (dB per sample): the frame gains as steps at the frame boundaries, each step turned
  into a linear ramp centred on its boundary. Steps up to STEP_DB (6 dB) get a ramp one frame long
  (so a smooth target gives a gain that is linear between frame centres, with no staircase); larger
  steps get proportionally shorter ramps, down to MIN_RAMP_S (10 ms), so a 20 dB step in the target
  lands within its frame. The curve is then smoothed by two centred moving averages of
  SMOOTHING_S / 2 each (a 5 ms triangular kernel), which rounds the ramps' corners. The largest
  per-sample change is therefore about step / ramp: 0.009 dB per sample for a 20 dB step.
* **iteration**: the ramps spill gain across frame boundaries, which matters most when a loud event
  sits near a boundary, so the frame gains are solved on a cheap energy model of the take (cell
  energies of the K-weighted audio, see ``_EnergyModel``); the result is applied and measured for
  real, and the model's remaining error per frame is fed back into the next solve. Up to
  MAX_PASSES real measurements, stopping once no frame gain moves by more than CONVERGED_DB;
  one or two passes in practice.
* **limiter make-up**: where the true-peak limiter then takes a frame below its goal (a take
  spikier than the sound the curve was drawn from cannot be that loud under the ceiling), the
  shortfall is added to that frame's aim and the take is conformed and limited again, up to
  MAKEUP_PASSES times, as a loudness normaliser does. The make-up is capped at LIMITER_MAKEUP_DB
  (3 dB) per frame, so it costs transients at most about that much more limiting; a target
  further out of reach stays short of it and shows as a deviation. Adherence 0 asks for no
  loudness, so it gets no make-up.

Target curves of any frame rate are resampled to the take's frames (energy mean, see
``LoudnessCurve.resample``). The target must start at 0 s and cover the take; a target that ends
less than one frame (1/6 s) before the take has its last value held, as ``GenerationRequest``
allows; one that ends earlier is an error.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import numpy as np

from foleystudio.audio.curve import CURVE_RATE_HZ, FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.kweighting import KWeightingFilter
from foleystudio.audio.limiter import DEFAULT_CEILING_DBTP, check_ceiling_dbtp, limit_and_measure
from foleystudio.audio.loudness import loudness_curve
from foleystudio.audio.loudness_input import check_sample_rate
from foleystudio.audio.loudness_programme import lufs_from_power
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

# Frames of the take below this are gaps, tails or near-silence: boosted at most QUIET_BOOST_DB, so
# a quiet curve can be met but near-silence never becomes a foreground sound (that only makes the
# residue audible). Frames at the meter's floor hold nothing measurable and are never boosted.
SILENCE_LUFS = -60.0
QUIET_BOOST_DB = 20.0
MAX_BOOST_DB = 40.0
# Extra gain (dB per frame) to win back loudness the true-peak limiter took, and how many times
# the take is conformed and limited again to find it.
LIMITER_MAKEUP_DB = 3.0
MAKEUP_PASSES = 3
MAKEUP_TOLERANCE_DB = 0.05  # shortfalls and changes smaller than this are left alone
# Cuts may go much deeper than boosts: cutting never makes noise audible, a target at the -70 LUFS
# floor asks for silence, and a generated take can come out far too loud (an untrained or
# out-of-range decode of +40 LUFS has been seen from the tiny test preset).
MAX_CUT_DB = 140.0
STEP_DB = 6.0  # steps up to this get a full-frame ramp; larger ones proportionally shorter
MIN_RAMP_S = 0.010  # the shortest ramp: a fade this long does not click
SMOOTHING_S = 0.005  # length of the triangular kernel that rounds the ramps' corners
MAX_PASSES = 4  # real measurements at most
CONVERGED_DB = 0.05  # stop when no frame gain would move by this much
CELLS_PER_FRAME = 150  # energy model resolution: about 1.1 ms cells at 44.1 kHz
CELLS_PER_PIECE = 150 * 64  # K-weighting runs in pieces of 64 frames (about 10 s) to bound memory
MODEL_ITERATIONS = 60
MODEL_TOLERANCE_DB = 0.005
FRAME_S = 1.0 / CURVE_RATE_HZ
# How far the target may end before the take (its last value is held); as in GenerationRequest.
CURVE_SLACK_S = FRAME_S + 1e-6
START_TOLERANCE_S = 1e-6


@dataclass(frozen=True, eq=False)
class ConformanceResult:
    """A conformed take and how it got there. Curves are on the take's 1/6 s frames."""

    audio: np.ndarray  # (2, n) float32: conformed and limited
    sample_rate: int
    gain_db: np.ndarray  # (2, n) float32: the conformance gain per sample, before the limiter
    limiter_reduction_db: np.ndarray  # (n,) float32 >= 0: the limiter's reduction, same on both channels
    before: LoudnessCurve  # the take as given
    target: LoudnessCurve  # the requested curve on the take's frames
    goal: LoudnessCurve  # what conformance aimed at: before + adherence * (target - before)
    after: LoudnessCurve  # the result, limiter included
    adherence: float
    ceiling_dbtp: float
    passes: int  # measurements made while iterating (0 when no gain was needed)
    max_deviation_lu: float  # max |after - goal| where the target is above -60 LUFS and the take is not silent
    silent_frames: int  # frames (of both channels) with a target above -60 LUFS where the take is silent
    true_peak_dbtp: float  # of ``audio``

    @property
    def limited_s(self) -> float:
        """Seconds of audio on which the limiter reduced the gain."""
        return float(np.count_nonzero(self.limiter_reduction_db)) / self.sample_rate

    @property
    def max_limiter_reduction_db(self) -> float:
        return float(self.limiter_reduction_db.max(initial=0.0))

    def deviation_lu(self) -> np.ndarray:
        """(2, frames) after - goal in LU (positive: louder than aimed at)."""
        return _sides(self.after) - _sides(self.goal)


def conform_to_curve(
    audio,
    sample_rate,
    target: LoudnessCurve,
    adherence: float,
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP,
) -> ConformanceResult:
    """Bring a stereo take (2, n) onto ``target`` to the given adherence (0..1), then limit it."""
    samples = _checked_audio(audio)
    rate = check_sample_rate(sample_rate)
    adherence = _checked_adherence(adherence)
    ceiling_dbtp = check_ceiling_dbtp(ceiling_dbtp)
    before = loudness_curve(samples, rate)
    target_on_frames = _target_on_frames(target, len(before), samples.shape[1] / rate)
    goal = _goal(before, target_on_frames, adherence)
    grid = _FrameGrid(rate, samples.shape[1], len(before))
    gain_db, limited, after, passes = _conform_and_limit(samples, rate, grid, before, goal, adherence, ceiling_dbtp)
    reduction = limited.reduction_db
    deviation, silent = _deviation(before, target_on_frames, goal, after)
    logger.debug(
        "conformed %.1f s at adherence %.2f in %d pass(es): max deviation %.3f LU, limiter up to %.2f dB",
        samples.shape[1] / rate, adherence, passes, deviation, float(reduction.max(initial=0.0)),
    )
    return ConformanceResult(
        audio=_frozen(limited.audio),
        sample_rate=rate,
        gain_db=_frozen(gain_db),
        limiter_reduction_db=_frozen(reduction),
        before=before,
        target=target_on_frames,
        goal=goal,
        after=after,
        adherence=adherence,
        ceiling_dbtp=ceiling_dbtp,
        passes=passes,
        max_deviation_lu=deviation,
        silent_frames=silent,
        true_peak_dbtp=limited.true_peak_dbtp,
    )


# ---- the goal --------------------------------------------------------------------------------------
def _target_on_frames(target: LoudnessCurve, frames: int, duration_s: float) -> LoudnessCurve:
    if not isinstance(target, LoudnessCurve):
        raise UserInputError(f"the target must be a LoudnessCurve, got {type(target).__name__}")
    if abs(float(target.times[0])) > START_TOLERANCE_S:
        raise UserInputError(f"the target curve must start at 0 s (the take's start), not {target.times[0]:.3f} s")
    if target.end_s + CURVE_SLACK_S < duration_s:
        raise UserInputError(f"the target curve covers {target.end_s:.2f} s but the take is {duration_s:.2f} s long")
    if np.allclose(target.times, np.arange(len(target)) * FRAME_S, rtol=0.0, atol=START_TOLERANCE_S):
        # Already on the frames: take the values as they are, holding the last one if short.
        index = np.minimum(np.arange(frames), len(target) - 1)
        return LoudnessCurve.uniform(target.left[index], target.right[index], CURVE_RATE_HZ)
    # Another rate: the energy mean over each 1/6 s frame (the last value held past the end).
    resampled = target.resample(CURVE_RATE_HZ, frames * FRAME_S)
    return LoudnessCurve.uniform(resampled.left[:frames], resampled.right[:frames], CURVE_RATE_HZ)


def _goal(before: LoudnessCurve, target: LoudnessCurve, adherence: float) -> LoudnessCurve:
    start = _sides(before)
    goal = start + adherence * (_sides(target) - start)
    return LoudnessCurve(before.times, goal[0], goal[1])


def _gain_limits(before: np.ndarray) -> tuple[float, np.ndarray]:
    """(lowest, highest per frame) gain: quiet frames are boosted a little, frames at the floor not at all."""
    quiet = np.where(before > FLOOR_LUFS, QUIET_BOOST_DB, 0.0)
    return -MAX_CUT_DB, np.where(before >= SILENCE_LUFS, MAX_BOOST_DB, quiet)


def _deviation(before, target, goal, after) -> tuple[float, int]:
    start, wanted = _sides(before), _sides(target)
    audible_target = wanted > SILENCE_LUFS
    counted = audible_target & (start >= SILENCE_LUFS)
    errors = np.abs(_sides(after) - _sides(goal))[counted]
    return float(errors.max(initial=0.0)), int(np.count_nonzero(audible_target & ~counted))


# ---- the iteration -------------------------------------------------------------------------------
def _conform_and_limit(samples, rate, grid, before, goal, adherence, ceiling_dbtp):
    """Conform, limit, and win back what the limiter took (see the module notes).

    Returns (gain dB before the limiter, the limited take, its measured curve, measurements made).
    """
    aim = _sides(goal)
    makeup = np.zeros_like(aim)
    model = _LazyEnergyModel(samples, rate, grid)
    passes, defect = 0, np.zeros_like(aim)
    for attempt in range(1 + MAKEUP_PASSES):
        # Each pass starts from the model's last known error, so it needs few real measurements.
        conformed, gain_db, measured, used, defect = _iterate(samples, grid, before, aim + makeup, model, defect)
        passes += used
        limited = limit_and_measure(conformed, rate, ceiling_dbtp)
        if not np.any(limited.reduction_db):
            return gain_db, limited, measured, passes
        after = loudness_curve(limited.audio, rate)
        if adherence == 0.0 or attempt == MAKEUP_PASSES:
            break
        more = _more_makeup(makeup, aim, measured, after)
        if np.max(np.abs(more - makeup)) < MAKEUP_TOLERANCE_DB:
            break
        makeup = more
    return gain_db, limited, after, passes


def _more_makeup(makeup: np.ndarray, aim: np.ndarray, measured: LoudnessCurve, after: LoudnessCurve) -> np.ndarray:
    """Make-up per frame: the old one plus the shortfall where the limiter took loudness, capped."""
    unlimited, limited = _sides(measured), _sides(after)
    taken = unlimited - limited > MAKEUP_TOLERANCE_DB
    shortfall = np.where(taken & (limited > FLOOR_LUFS), aim - limited, 0.0)
    return np.clip(makeup + shortfall, 0.0, LIMITER_MAKEUP_DB)


class _LazyEnergyModel:
    """Builds ``_EnergyModel`` (one K-weighting pass) on first use and keeps it for later passes."""

    def __init__(self, samples: np.ndarray, rate: int, grid: "_FrameGrid"):
        self._arguments = (samples, rate, grid)
        self._model = None

    def get(self) -> "_EnergyModel":
        if self._model is None:
            self._model = _EnergyModel(*self._arguments)
        return self._model


def _iterate(samples, grid, before, aim, lazy_model, defect):
    """Solve for frame gains, apply, measure, correct.

    Returns (audio, gain dB, measured, passes, defect). Frame gains are solved on
    ``_EnergyModel`` (cheap), the result is applied and measured for real, and the model's error
    on each frame (the defect: real - predicted, starting from the one given) is carried into the
    next solve (defect correction), so the real passes only have to fix what the model cannot see.
    """
    start = _sides(before)
    lowest, highest = _gain_limits(start)
    gains = np.clip(aim - start, lowest, highest)
    if not np.any(gains):
        # Nothing to do (adherence 0, or the take is on its goal): the audio stays bit-exact.
        return samples.copy(), np.zeros(samples.shape, np.float32), before, 0, defect
    model = lazy_model.get()
    gains = model.solve(gains, aim - defect, lowest, highest)
    passes = 0
    while True:
        gain_db = grid.gain_curve(gains)
        conformed = _apply_gain(samples, gain_db)
        measured = loudness_curve(conformed, grid.rate)
        passes += 1
        if passes == MAX_PASSES:
            break
        real, predicted = _sides(measured), model.loudness(gains)
        # Where either reads the floor, the difference says nothing about the model.
        defect = np.where((real > FLOOR_LUFS) & (predicted > FLOOR_LUFS), real - predicted, 0.0)
        corrected = model.solve(gains, aim - defect, lowest, highest)
        if np.max(np.abs(corrected - gains)) < CONVERGED_DB:
            break
        gains = corrected
    return conformed, gain_db, measured, passes, defect


def _apply_gain(samples: np.ndarray, gain_db: np.ndarray) -> np.ndarray:
    gain = np.exp(gain_db * np.float32(math.log(10.0) / 20.0))
    return np.multiply(samples, gain, dtype=np.float32)


class _FrameGrid:
    """The take's curve frames in samples, and the per-sample gain curve built on them."""

    def __init__(self, rate: int, samples: int, frames: int):
        hop = rate * FRAME_S
        self.rate = rate
        # Frame k starts where the meter's window k starts (loudness_windows.WindowSums.starts).
        self.boundaries = np.floor(np.arange(1, frames) * hop + 0.5).astype(np.int64)
        self.samples = samples
        self.frame_samples = hop
        # Ramps around neighbouring boundaries must not overlap: at most one frame in all.
        self.max_half = max(1, int(math.floor(hop)) // 2)
        self.min_half = max(1, min(self.max_half, round(MIN_RAMP_S * rate / 2)))
        self.smoothing = max(1, round(SMOOTHING_S * rate / 2)) | 1  # odd, so it is centred
        self.window = max(1, int(round(FRAME_S * rate)))  # the meter's window length

    def gain_curve(self, gains: np.ndarray) -> np.ndarray:
        """(channels, n) float32 gain in dB from (channels, frames) frame gains."""
        curve = np.empty((gains.shape[0], self.samples), dtype=np.float32)
        for channel, frame_gains in enumerate(gains):
            curve[channel] = self._ramped_steps(frame_gains)
        return curve

    def knots(self, gains: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Corners (positions in samples, dB) of the gain curve before its corners are rounded.

        Each step between frame gains becomes a linear ramp centred on its boundary: one frame
        long for steps up to STEP_DB, shorter for larger ones (down to MIN_RAMP_S). Sample i sits at
        position i, so boundary b (between samples b - 1 and b) is at b - 1/2. The curve is flat
        before the first and after the last corner.
        """
        steps = np.diff(gains)
        moving = np.flatnonzero(steps)
        if len(moving) == 0:
            return np.zeros(1), gains[:1].astype(np.float64)
        ramp = np.minimum(self.frame_samples, self.frame_samples * STEP_DB / np.abs(steps[moving]))
        half = np.clip(ramp / 2, self.min_half, self.max_half)
        centre = self.boundaries[moving] - 0.5
        positions = np.stack([centre - half, centre + half], axis=1).ravel()
        values = np.stack([gains[moving], gains[moving + 1]], axis=1).ravel()
        return positions, values

    def _ramped_steps(self, gains: np.ndarray) -> np.ndarray:
        """Per-sample gains in dB: the knots joined by straight lines, corners rounded."""
        positions, values = self.knots(gains)
        curve = np.interp(np.arange(self.samples, dtype=np.float64), positions, values)
        return _round_corners(curve, positions, self.smoothing)


class _EnergyModel:
    """Predicts the measured curve for given frame gains without filtering the audio again.

    The K-weighted energy of the take is summed once over short cells (CELLS_PER_FRAME per
    frame, about 1 ms); a frame's loudness under a gain curve is then the sum over its cells of
    cell energy x 10^(gain at the cell's centre / 10). What it leaves out (the K-weighting
    filter's memory across a gain change, the rounded corners, energy moving within a cell) is
    small, and the real measurement after each pass corrects it.
    """

    def __init__(self, samples: np.ndarray, rate: int, grid: _FrameGrid):
        self.grid = grid
        starts = np.concatenate([[0], grid.boundaries])
        ends = np.concatenate([grid.boundaries, [min(int(starts[-1]) + grid.window, grid.samples)]])
        cells = np.minimum(CELLS_PER_FRAME, ends - starts)
        self.frame_first_cell = np.concatenate([[0], np.cumsum(cells)[:-1]])
        owner = np.repeat(np.arange(len(starts)), cells)
        within = np.arange(int(cells.sum())) - self.frame_first_cell[owner]
        edges = starts[owner] + (within * (ends - starts)[owner]) // cells[owner]
        self.cell_edges = np.append(edges, ends[-1])
        self.centres = 0.5 * (self.cell_edges[:-1] + self.cell_edges[1:] - 1)
        self.frame_lengths = ends - starts
        self.energy = self._cell_energy(samples, rate)

    def _cell_energy(self, samples: np.ndarray, rate: int) -> np.ndarray:
        """(channels, cells) sums of K-weighted squares, filtered in pieces to bound memory."""
        kweighting = KWeightingFilter(rate, samples.shape[0])
        energy = np.empty((samples.shape[0], len(self.cell_edges) - 1))
        for first in range(0, len(energy[0]), CELLS_PER_PIECE):
            edges = self.cell_edges[first : first + CELLS_PER_PIECE + 1]
            begin = int(edges[0])
            weighted = kweighting.process(samples[:, begin : int(edges[-1])])
            squares = np.multiply(weighted, weighted, out=weighted)
            energy[:, first : first + len(edges) - 1] = np.add.reduceat(squares, edges[:-1] - begin, axis=1)
        return energy

    def loudness(self, gains: np.ndarray) -> np.ndarray:
        """(channels, frames) predicted LUFS for (channels, frames) frame gains."""
        predicted = np.empty(gains.shape)
        for channel, frame_gains in enumerate(gains):
            positions, values = self.grid.knots(frame_gains)
            cell_gain = np.interp(self.centres, positions, values)
            power = np.add.reduceat(10.0 ** (cell_gain / 10.0) * self.energy[channel], self.frame_first_cell)
            predicted[channel] = lufs_from_power(power / self.frame_lengths)
        return np.maximum(predicted, FLOOR_LUFS)

    def solve(self, gains: np.ndarray, aim: np.ndarray, lowest, highest) -> np.ndarray:
        """Frame gains whose predicted curve is ``aim``, by fixed-point iteration from ``gains``.

        Every sample of a frame takes at least half its gain (in dB) from the frame's own gain,
        since ramps are centred on the boundaries, so the iteration usually contracts fast (a few
        iterations; more when loud events sit right at boundaries). The best gains seen are kept
        in case a pathological take makes it wander.
        """
        best, best_error = gains, math.inf
        for _ in range(MODEL_ITERATIONS):
            predicted = self.loudness(gains)
            error = aim - predicted
            error[(aim <= FLOOR_LUFS) & (predicted <= FLOOR_LUFS)] = 0.0
            corrected = np.clip(gains + error, lowest, highest)
            movable = np.abs(corrected - gains)
            if movable.max() < best_error:
                best, best_error = gains, float(movable.max())
            if best_error < MODEL_TOLERANCE_DB:
                break
            gains = corrected
        return best


def _round_corners(curve: np.ndarray, corners: np.ndarray, span: int) -> np.ndarray:
    """``curve`` (piecewise linear) smoothed by two centred moving averages of ``span`` samples.

    Averaging leaves a straight line as it is, so only the samples near a corner change: each
    corner's neighbourhood is smoothed on its own (the ends of the audio are held), in place.
    """
    if span == 1:
        return curve
    radius = span // 2
    reach = 2 * radius + 1  # farthest a corner's effect goes, counting the half-sample offset
    centres = np.unique(np.clip(np.round(corners).astype(np.int64), 0, len(curve) - 1))
    offsets = np.arange(-(reach + 2 * radius), reach + 2 * radius + 1)
    around = curve[np.clip(centres[:, None] + offsets, 0, len(curve) - 1)]
    for _ in range(2):
        total = np.concatenate([np.zeros((len(centres), 1)), np.cumsum(around, axis=1)], axis=1)
        around = (total[:, span:] - total[:, :-span]) / span
    targets = centres[:, None] + np.arange(-reach, reach + 1)
    inside = (targets >= 0) & (targets < len(curve))
    curve[targets[inside]] = around[inside]
    return curve


# ---- helpers -------------------------------------------------------------------------------------
def _sides(curve: LoudnessCurve) -> np.ndarray:
    return np.stack([curve.left, curve.right])


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _checked_audio(audio) -> np.ndarray:
    try:
        array = np.asarray(audio)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"take audio must be a numeric array ({error})") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise UserInputError(f"take audio must be floating point (float32 or float64), got {array.dtype}")
    if array.ndim != 2 or array.shape[0] != 2:
        hint = "; it looks like (samples, 2): transpose it" if array.ndim == 2 and array.shape[1] == 2 else ""
        raise UserInputError(f"take audio must be stereo, shape (2, samples), got shape {array.shape}{hint}")
    if array.shape[1] == 0:
        raise UserInputError("take audio is empty")
    finite = np.isfinite(array)
    if not finite.all():
        channel, first = np.argwhere(~finite)[np.argmin(np.argwhere(~finite)[:, 1])]
        raise UserInputError(
            f"take audio contains NaN or infinite samples (first at sample {first}, channel {channel + 1})"
        )
    return array.astype(np.float32, copy=False)


def _checked_adherence(adherence) -> float:
    if isinstance(adherence, bool) or not isinstance(adherence, numbers.Real) or not 0.0 <= adherence <= 1.0:
        raise UserInputError(f"loudness adherence must be a number from 0 to 1, got {adherence!r}")
    return float(adherence)
