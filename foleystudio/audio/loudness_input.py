"""Validation of what loudness measurement is given: sample rates, window lengths, audio blocks.

Every problem is a ``UserInputError`` whose message names the value and what is wrong with it, so
the CLI and the GUI can show it as is.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from foleystudio.errors import UserInputError

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
MAX_WINDOW_S = 3600.0


def check_sample_rate(sample_rate) -> int:
    """The sample rate as an int, if it is a whole number of Hz from 8 kHz to 192 kHz."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, numbers.Real):
        raise UserInputError(f"sample rate must be a number of Hz, got {sample_rate!r}")
    if not math.isfinite(sample_rate) or sample_rate != int(sample_rate):
        raise UserInputError(f"sample rate must be a whole number of Hz, got {sample_rate}")
    rate = int(sample_rate)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UserInputError(
            f"sample rate {rate} Hz is not supported for loudness (from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz)"
        )
    return rate


def check_duration(seconds, name: str, sample_rate: int) -> float:
    """A window or hop length in seconds: finite, at least one sample, at most an hour."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real) or not math.isfinite(seconds):
        raise UserInputError(f"{name} must be a number of seconds, got {seconds!r}")
    seconds = float(seconds)
    if seconds * sample_rate < 1.0:
        raise UserInputError(f"{name} must be at least one sample long ({1 / sample_rate:.6f} s), got {seconds} s")
    if seconds > MAX_WINDOW_S:
        raise UserInputError(f"{name} must be at most {MAX_WINDOW_S:.0f} s, got {seconds} s")
    return seconds


def check_block(block, channels: int, sample_rate: int, samples_before: int) -> np.ndarray:
    """``block`` as a floating array of shape (channels, n), free of NaN and infinity.

    ``samples_before`` (samples per channel already measured) places a bad sample in time.
    """
    array = _as_float_array(block)
    if array.ndim != 2 or array.shape[0] != channels:
        raise UserInputError(
            f"audio block must have shape (channels={channels}, samples), got shape {array.shape}"
            + _transpose_hint(array, channels)
        )
    _check_finite(array, sample_rate, samples_before)
    return array


def as_channel_first(samples) -> np.ndarray:
    """Whole-programme input: (channels, n), or (n,) for mono, returned as (channels, n)."""
    array = _as_float_array(samples)
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise UserInputError(f"audio must have shape (channels, samples) or (samples,), got shape {array.shape}")
    if array.shape[0] > 64 and array.shape[1] <= 64:
        raise UserInputError(
            f"audio must be channel-first, shape (channels, samples); got shape {array.shape}, "
            "which looks like (samples, channels): transpose it"
        )
    if array.shape[0] == 0:
        raise UserInputError("audio has no channels")
    return array


def _as_float_array(values) -> np.ndarray:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as error:
        raise UserInputError(f"audio must be a numeric array ({error})") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise UserInputError(f"audio samples must be floating point (float32 or float64), got {array.dtype}")
    return array


def _transpose_hint(array: np.ndarray, channels: int) -> str:
    if array.ndim == 2 and array.shape[1] == channels and array.shape[0] != channels:
        return "; it looks like (samples, channels): transpose it"
    return ""


def _check_finite(array: np.ndarray, sample_rate: int, samples_before: int) -> None:
    # One summation is cheaper than a full isfinite pass; a non-finite sum (NaN, infinity, or an
    # overflow of huge but finite samples) triggers the exact search.
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum(array, dtype=np.float64)
    if math.isfinite(total):
        return
    bad = ~np.isfinite(array)
    columns = np.flatnonzero(bad.any(axis=0))
    if len(columns) == 0:
        return
    first = int(columns[0])
    channel = int(np.flatnonzero(bad[:, first])[0])
    seconds = (samples_before + first) / sample_rate
    raise UserInputError(
        f"audio contains NaN or infinite samples (first at {seconds:.3f} s, channel {channel + 1}); "
        "loudness cannot be measured"
    )
