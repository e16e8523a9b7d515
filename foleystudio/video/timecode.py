"""SMPTE timecode (HH:MM:SS:FF) for a frame index or a time at a video frame rate.

Frames are counted at the *nominal* integer rate ("timecode base"): 24 for 24000/1001, 30 for
30000/1001, 25 for 25. Drop-frame timecode (written HH:MM:SS;FF) applies to 30000/1001 and
60000/1001: it skips the frame *numbers* 0 and 1 (resp. 0-3) at the start of every minute except
each tenth, so the label stays within a frame of the wall clock; no picture is dropped. 23.976 has
no drop-frame form: its non-drop timecode runs 0.1 % slower than the clock, as in every NLE.
Other non-integer rates (e.g. a variable-frame-rate average) count at the rounded rate.

Timecode is a 24-hour clock: formatting wraps at 24 h like a timecode generator does (frame
86400 * base is 00:00:00:00 again); parsing rejects hours of 24 or more and any field out of range,
including drop-frame labels that do not exist (e.g. 00:01:00;00).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from foleystudio.errors import UserInputError

DROP_FRAME_RATES = {Fraction(30000, 1001): 2, Fraction(60000, 1001): 4}
HOURS_PER_DAY = 24
# A time exactly on a frame boundary given as a float (k / rate) may land a hair before it.
_BOUNDARY_EPSILON_S = 1e-6

_TIMECODE_PATTERN = re.compile(r"^\s*(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})\s*$")


def timecode_base(rate: Fraction | float) -> int:
    """The integer number of frame labels per second for ``rate`` (24000/1001 -> 24)."""
    rate = _checked_rate(rate)
    return max(1, round(rate))


def supports_drop_frame(rate: Fraction | float) -> bool:
    """Whether ``rate`` has a drop-frame timecode (29.97 and 59.94)."""
    return _checked_rate(rate) in DROP_FRAME_RATES


def frames_to_timecode(frame: int, rate: Fraction | float, drop_frame: bool | None = None) -> str:
    """The timecode label of frame ``frame`` (0 is 00:00:00:00).

    ``drop_frame`` None means drop-frame wherever the rate has it; True on a rate without one is
    an error.
    """
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise UserInputError(f"frame index must be a whole number >= 0, got {frame!r}")
    rate = _checked_rate(rate)
    base = timecode_base(rate)
    drop = _drop_count(rate, drop_frame)
    frame %= _frames_per_day(base, drop)
    if drop:
        frame = _add_dropped_labels(frame, base, drop)
    frames = frame % base
    seconds = frame // base
    separator = ";" if drop else ":"
    return (
        f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        f"{separator}{frames:0{max(2, len(str(base - 1)))}d}"
    )


def seconds_to_frame(seconds: float | Fraction, rate: Fraction | float) -> int:
    """Index of the frame whose display interval [k / rate, (k + 1) / rate) contains ``seconds``."""
    rate = _checked_rate(rate)
    if not math.isfinite(seconds) or seconds < 0:
        raise UserInputError(f"time must be a finite number of seconds >= 0, got {seconds!r}")
    if isinstance(seconds, Fraction):
        return math.floor(seconds * rate)
    return math.floor((seconds + _BOUNDARY_EPSILON_S) * float(rate))


def seconds_to_timecode(seconds: float | Fraction, rate: Fraction | float, drop_frame: bool | None = None) -> str:
    """The timecode of the frame shown at ``seconds`` (see :func:`seconds_to_frame`)."""
    return frames_to_timecode(seconds_to_frame(seconds, rate), rate, drop_frame)


def timecode_to_frames(text: str, rate: Fraction | float, drop_frame: bool | None = None) -> int:
    """The frame index a timecode label names.

    The last separator tells drop-frame (``;``) from non-drop (``:``) unless ``drop_frame`` is
    given. UserInputError for malformed text, out-of-range fields or a dropped label.
    """
    rate = _checked_rate(rate)
    match = _TIMECODE_PATTERN.match(text) if isinstance(text, str) else None
    if match is None:
        raise UserInputError(f"not a timecode: {text!r} (expected HH:MM:SS:FF or HH:MM:SS;FF)")
    hours, minutes, seconds, separator, frames = match.groups()
    hours, minutes, seconds, frames = int(hours), int(minutes), int(seconds), int(frames)
    if drop_frame is None:
        drop_frame = separator in ";,"
    drop = _drop_count(rate, drop_frame)
    base = timecode_base(rate)
    if hours >= HOURS_PER_DAY or minutes >= 60 or seconds >= 60 or frames >= base:
        raise UserInputError(f"timecode {text.strip()} is out of range at {base} frames per second")
    total_minutes = hours * 60 + minutes
    if drop and seconds == 0 and frames < drop and minutes % 10 != 0:
        raise UserInputError(f"timecode {text.strip()} does not exist in drop-frame (labels ;00-;{drop - 1:02d} are skipped)")
    label_index = (total_minutes * 60 + seconds) * base + frames
    return label_index - drop * (total_minutes - total_minutes // 10)


def timecode_to_seconds(text: str, rate: Fraction | float, drop_frame: bool | None = None) -> Fraction:
    """The start time (s, exact) of the frame a timecode names."""
    rate = _checked_rate(rate)
    return timecode_to_frames(text, rate, drop_frame) / rate


def _checked_rate(rate: Fraction | float) -> Fraction:
    try:
        rate = Fraction(rate)
    except (TypeError, ValueError):
        raise UserInputError(f"frame rate must be a number, got {rate!r}") from None
    if rate <= 0:
        raise UserInputError(f"frame rate must be positive, got {rate}")
    return rate


def _drop_count(rate: Fraction, drop_frame: bool | None) -> int:
    """Frame labels skipped per minute: 0 for non-drop."""
    if drop_frame is False:
        return 0
    drop = DROP_FRAME_RATES.get(rate, 0)
    if drop_frame and not drop:
        raise UserInputError(f"drop-frame timecode exists only at 29.97 and 59.94 fps, not {float(rate):.3f}")
    return drop


def _frames_per_day(base: int, drop: int) -> int:
    minutes = HOURS_PER_DAY * 60
    return minutes * 60 * base - drop * (minutes - minutes // 10)


def _add_dropped_labels(frame: int, base: int, drop: int) -> int:
    """Frame count -> label index: add back the labels skipped before this frame."""
    frames_per_minute = 60 * base - drop
    frames_per_ten_minutes = 10 * 60 * base - 9 * drop
    tens, rest = divmod(frame, frames_per_ten_minutes)
    skipped = 9 * drop * tens
    if rest >= drop:
        # The first minute of each ten keeps all its labels; each later one skips `drop`.
        skipped += drop * ((rest - drop) // frames_per_minute)
    return frame + skipped
