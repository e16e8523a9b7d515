"""Whole curves the editor can fill a layer with: one given in code, or one measured from a sound file.

Qt-free. The audio readers are imported inside the function that needs them, so opening the
curve editor does not pay for them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from foleystudio.audio.curve import CURVE_RATE_HZ, FLOOR_LUFS, LoudnessCurve
from foleystudio.errors import UserInputError
from foleystudio.ui import curve_points as cp

logger = logging.getLogger(__name__)


def clipped_to_ceiling(curve: LoudnessCurve) -> LoudnessCurve:
    """``curve`` with levels above the editor's ceiling (0 LUFS) cut to it."""
    if not isinstance(curve, LoudnessCurve):
        # ValueError, not TypeError: the editor reports every bad argument as one (its documented API).
        raise ValueError(f"fill_from_curve needs a LoudnessCurve, got {type(curve).__name__}")  # noqa: TRY004
    ceiling = cp.CEILING_LUFS
    return LoudnessCurve(curve.times, np.minimum(curve.left, ceiling), np.minimum(curve.right, ceiling))


def curve_from_audio_file(path: Path, duration_s: float) -> LoudnessCurve:
    """The loudness curve of the sound file at ``path``, cut or padded (silence) to ``duration_s``.

    Raises UserInputError / MediaError for a file that cannot be read.
    """
    from foleystudio.audio.io import read_audio
    from foleystudio.audio.loudness import loudness_curve

    audio, rate = read_audio(path, channels=2)
    if audio.shape[1] == 0:
        raise UserInputError(f"{path}: the file holds no audio")
    return fit_to_length(loudness_curve(audio, rate), duration_s)


def fit_to_length(curve: LoudnessCurve, duration_s: float) -> LoudnessCurve:
    """``curve`` (6 Hz from 0 s) cut or padded with silence to cover ``duration_s``."""
    count = max(1, int(np.ceil(duration_s * CURVE_RATE_HZ - 1e-9)))
    have = min(count, len(curve))
    pad = np.full(count - have, FLOOR_LUFS)
    left = np.concatenate([curve.left[:have], pad])
    right = np.concatenate([curve.right[:have], pad])
    return LoudnessCurve.uniform(left, right, CURVE_RATE_HZ)
