"""The per-channel loudness curve: the one loudness-over-time representation of FoleyStudio.

A curve is a sequence of frames. Frame k starts at ``times[k]`` and lasts until ``times[k + 1]``
(the last frame lasts as long as the one before it); its value is the K-weighted loudness of that
stretch of audio, per channel, in LUFS, never below ``FLOOR_LUFS``. The default frame rate is 6 Hz
(a 1/6 s window every 1/6 s, the Tri-Ergon momentary curve). ``times`` are window starts.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleystudio.errors import UserInputError

FLOOR_LUFS = -70.0
CURVE_RATE_HZ = 6.0
CSV_HEADER = ("time_s", "left_lufs", "right_lufs")


def _frozen_array(values, name: str) -> np.ndarray:
    array = np.array(values, dtype=np.float64)
    if array.ndim != 1:
        raise UserInputError(f"loudness curve {name} must be one-dimensional, got shape {array.shape}")
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class LoudnessCurve:
    """Left and right loudness in LUFS over time; values are floored at -70 LUFS."""

    times: np.ndarray
    left: np.ndarray
    right: np.ndarray

    def __post_init__(self) -> None:
        times = _frozen_array(self.times, "times")
        left = _frozen_array(self.left, "left")
        right = _frozen_array(self.right, "right")
        if not len(times) == len(left) == len(right):
            raise UserInputError(
                f"loudness curve lengths differ: {len(times)} times, {len(left)} left, {len(right)} right"
            )
        if len(times) == 0:
            raise UserInputError("a loudness curve needs at least one frame")
        if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
            raise UserInputError("loudness curve times must be finite and strictly increasing")
        for name, values in (("left", left), ("right", right)):
            if np.any(np.isnan(values)) or np.any(values == np.inf):
                raise UserInputError(f"loudness curve {name} values contain NaN or +inf")
        # -inf (digital silence) and anything quieter than the floor read as the floor.
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "left", _frozen_array(np.maximum(left, FLOOR_LUFS), "left"))
        object.__setattr__(self, "right", _frozen_array(np.maximum(right, FLOOR_LUFS), "right"))

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def uniform(cls, left, right, rate_hz: float = CURVE_RATE_HZ, start_s: float = 0.0) -> LoudnessCurve:
        """A curve whose frames are ``1 / rate_hz`` apart, starting at ``start_s``."""
        _check_rate(rate_hz)
        count = len(np.asarray(left))
        return cls(start_s + np.arange(count) / rate_hz, left, right)

    @classmethod
    def constant(cls, duration_s: float, lufs: float, rate_hz: float = CURVE_RATE_HZ) -> LoudnessCurve:
        """A flat curve at ``lufs`` on both channels covering ``duration_s``."""
        _check_rate(rate_hz)
        if not duration_s > 0:
            raise UserInputError(f"curve duration must be positive, got {duration_s}")
        count = max(1, math.ceil(duration_s * rate_hz - 1e-9))
        values = np.full(count, float(lufs))
        return cls.uniform(values, values, rate_hz)

    # ---- properties -----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.times)

    @property
    def frame_s(self) -> float:
        """Length of one frame: the median spacing (1/6 s for a default curve)."""
        if len(self.times) < 2:
            return 1.0 / CURVE_RATE_HZ
        return float(np.median(np.diff(self.times)))

    @property
    def end_s(self) -> float:
        """Time at which the last frame ends."""
        return float(self.times[-1] + self.frame_s)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LoudnessCurve):
            return NotImplemented
        return (
            np.array_equal(self.times, other.times)
            and np.array_equal(self.left, other.left)
            and np.array_equal(self.right, other.right)
        )

    def __hash__(self) -> int:
        return hash((self.times.tobytes(), self.left.tobytes(), self.right.tobytes()))

    # ---- resampling -------------------------------------------------------------------------
    def resample(self, rate_hz: float, duration_s: float | None = None) -> LoudnessCurve:
        """The curve at another frame rate, from the start of this one to ``duration_s``.

        Each new frame is the energy mean of the audio it covers (power, not LUFS, is averaged),
        so downsampling behaves like measuring with a longer window and upsampling holds values.
        """
        _check_rate(rate_hz)
        start = float(self.times[0])
        end = self.end_s if duration_s is None else start + float(duration_s)
        if not end > start:
            raise UserInputError(f"resample duration must be positive, got {duration_s}")
        count = max(1, math.ceil((end - start) * rate_hz - 1e-9))
        new_starts = start + np.arange(count) / rate_hz
        new_ends = np.minimum(new_starts + 1.0 / rate_hz, max(end, self.end_s))
        left = _mean_power_lufs(self.times, self.end_s, self.left, new_starts, new_ends)
        right = _mean_power_lufs(self.times, self.end_s, self.right, new_starts, new_ends)
        return LoudnessCurve(new_starts, left, right)

    def values_at(self, times) -> tuple[np.ndarray, np.ndarray]:
        """Left and right values of the frames that contain ``times`` (held past both ends)."""
        index = np.clip(np.searchsorted(self.times, np.asarray(times, float), side="right") - 1, 0, None)
        return self.left[index], self.right[index]

    # ---- CSV ------------------------------------------------------------------------------------
    def to_csv_text(self) -> str:
        buffer = io.StringIO()
        buffer.write(",".join(CSV_HEADER) + "\n")
        for t, lv, rv in zip(self.times, self.left, self.right):
            buffer.write(f"{t:.6f},{lv:.4f},{rv:.4f}\n")
        return buffer.getvalue()

    def write_csv(self, path: str | Path) -> None:
        Path(path).write_text(self.to_csv_text(), encoding="utf-8")

    @classmethod
    def from_csv_text(cls, text: str, source: str = "curve CSV") -> LoudnessCurve:
        rows = list(csv.reader(io.StringIO(text)))
        rows = [row for row in rows if row and any(cell.strip() for cell in row)]
        if not rows:
            raise UserInputError(f"{source} is empty")
        header = tuple(cell.strip() for cell in rows[0])
        if header != CSV_HEADER:
            raise UserInputError(f"{source}: header must be {','.join(CSV_HEADER)}, got {','.join(header)}")
        values = []
        for line_number, row in enumerate(rows[1:], start=2):
            if len(row) != 3:
                raise UserInputError(f"{source} line {line_number}: expected 3 columns, got {len(row)}")
            try:
                values.append([float(cell) for cell in row])
            except ValueError:
                raise UserInputError(f"{source} line {line_number}: not a number in {row}") from None
        if not values:
            raise UserInputError(f"{source} has a header but no rows")
        table = np.array(values)
        try:
            return cls(table[:, 0], table[:, 1], table[:, 2])
        except UserInputError as error:
            raise UserInputError(f"{source}: {error}") from None

    @classmethod
    def read_csv(cls, path: str | Path) -> LoudnessCurve:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserInputError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise UserInputError(f"{path}: is a directory, not a curve CSV") from None
        except UnicodeDecodeError:
            raise UserInputError(f"{path}: not a text file") from None
        return cls.from_csv_text(text, source=str(path))

    # ---- JSON-friendly form (the project document stores curves this way) ----------------
    def to_dict(self) -> dict:
        # Full precision, so a curve read back from a project is equal to the one saved.
        return {"times": self.times.tolist(), "left": self.left.tolist(), "right": self.right.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> LoudnessCurve:
        try:
            return cls(data["times"], data["left"], data["right"])
        except (KeyError, TypeError) as error:
            raise UserInputError(f"loudness curve needs times, left and right lists ({error})") from None


def _check_rate(rate_hz: float) -> None:
    if not (isinstance(rate_hz, (int, float)) and math.isfinite(rate_hz) and rate_hz > 0):
        raise UserInputError(f"curve rate must be a positive number of frames per second, got {rate_hz}")


def _mean_power_lufs(times, end_s, lufs, new_starts, new_ends) -> np.ndarray:
    """Energy mean of a piecewise-constant LUFS signal over each [new_start, new_end)."""
    power = 10.0 ** (np.asarray(lufs) / 10.0)
    edges = np.append(times, end_s)
    # Cumulative energy at each frame edge; energy at any time is interpolated linearly inside a
    # frame because power is constant there. Outside the curve the end values are held.
    energy = np.concatenate([[0.0], np.cumsum(power * np.diff(edges))])

    def energy_at(t):
        inside = np.interp(t, edges, energy)
        before = np.minimum(t - edges[0], 0.0) * power[0]
        after = np.maximum(t - edges[-1], 0.0) * power[-1]
        return inside + before + after

    span = new_ends - new_starts
    mean_power = (energy_at(new_ends) - energy_at(new_starts)) / span
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(mean_power), FLOOR_LUFS)
