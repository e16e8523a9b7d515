"""Copy and paste of a time range of the loudness curve (Qt-free helpers of the curve editor).

A clip keeps both channels' shapes with times from 0 and remembers which lane was active when it
was copied, so a paste can go left onto left and right onto right (linked lanes) or from the
copied lane into the active one (unlinked lanes).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from foleystudio.ui import curve_points as cp

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurveClip:
    """A copied time range: both channels' shapes, times from 0, and which lane was active."""

    channels: tuple[cp.Breakpoints, cp.Breakpoints]
    source_channel: int


def copy_clip(points: Sequence[cp.Breakpoints], start_s: float, end_s: float, active: int) -> CurveClip:
    """Both lanes' shape over [start_s, end_s]."""
    return CurveClip(tuple(cp.extract_range(channel, start_s, end_s) for channel in points), active)


def pasted_points(
    clip: CurveClip,
    points: Sequence[cp.Breakpoints],
    channels: tuple[int, ...],
    time_s: float,
    grid: np.ndarray,
) -> dict[int, cp.Breakpoints]:
    """``channels``' breakpoints with the clip put at ``time_s``, replacing the points it covers.

    Two channels: each from its own copied channel. One: from the lane active when copying.
    """
    new = {}
    for ch in channels:
        source = clip.channels[ch if len(channels) == 2 else clip.source_channel]
        new[ch] = cp.replace_range(points[ch], source.times + float(time_s), source.values, grid)
    return new
