"""The per-channel loudness curve (DESIGN.md §2), accumulated from K-weighted audio.

Frame k measures the window that starts at k * hop: its value per side is -0.691 + 10 log10(mean
square of that side's K-weighted signal over the window), floored at -70 LUFS. Window and hop are
independent: windows overlap when the window is longer than the hop and leave gaps when shorter.
Frame times are the nominal window starts k * hop (the window itself starts at the nearest sample).

Sides: stereo gives left and right; mono feeds both; more channels are folded into left and right by
the layout's stereo downmix (see ``foleystudio.audio.channels``).

End of the audio: a frame is reported when at least half a hop of audio follows its start (the
first frame always is), so a duration of d seconds gives round(d / hop) frames. A frame whose window
runs past the end is measured over the audio it has.
"""

from __future__ import annotations

import numpy as np

from foleystudio.audio.channels import ChannelLayout
from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.loudness_programme import lufs_from_power
from foleystudio.audio.loudness_windows import WindowSums


class CurveFrames:
    """Consumes K-weighted (channels, n) blocks; ``curve()`` gives the LoudnessCurve so far."""

    def __init__(self, sample_rate: int, layout: ChannelLayout, window_s: float, hop_s: float):
        self.sample_rate = sample_rate
        self.layout = layout
        self.window_s = window_s
        self.hop_s = hop_s
        window_samples = max(1, int(round(window_s * sample_rate)))
        self._sides = WindowSums(1 if layout.is_mono else 2, hop_s * sample_rate, window_samples)
        self._mean_squares: list[np.ndarray] = []

    @property
    def sides_are_channels(self) -> bool:
        """True for mono and stereo: the curve's sides are the channels themselves."""
        return self.layout.is_mono or self.layout.is_stereo

    def push(self, weighted: np.ndarray) -> None:
        """Add a K-weighted block (channels, n); for mono and stereo it is squared in place."""
        if self.sides_are_channels:
            self.push_squares(np.multiply(weighted, weighted, out=weighted))
            return
        sides = np.stack([_mix(weighted, self.layout.left_mix), _mix(weighted, self.layout.right_mix)])
        self.push_squares(np.multiply(sides, sides, out=sides))

    def push_squares(self, squares: np.ndarray) -> None:
        """Add the squared K-weighted sides (channels, n) and measure the frames they complete."""
        sums, lengths = self._sides.push(squares)
        if sums.shape[1]:
            self._mean_squares.append(sums / lengths)

    def frame_count(self) -> int:
        """Frames the audio so far makes: those with at least half a hop of audio after their start."""
        total = self._sides.received
        if total == 0:
            return 0
        half_hop = 0.5 * self.hop_s * self.sample_rate
        count = int(np.floor((total - half_hop) / self._sides.hop_samples)) + 1
        # Exact check against the sample grid the windows use.
        while count > 1 and total - int(self._sides.starts(count - 1)) < half_hop - 1e-9:
            count -= 1
        while total - int(self._sides.starts(count)) >= half_hop - 1e-9:
            count += 1
        return max(count, 1)

    def curve(self) -> LoudnessCurve | None:
        """The curve of everything pushed so far, or None before the first sample."""
        count = self.frame_count()
        if count == 0:
            return None
        _, sums, lengths = self._sides.partial()
        parts = self._mean_squares + ([sums / lengths] if sums.shape[1] else [])
        mean_squares = np.concatenate(parts, axis=1)[:, :count]
        values = np.maximum(lufs_from_power(mean_squares), FLOOR_LUFS)
        return LoudnessCurve.uniform(values[0], values[-1], rate_hz=1.0 / self.hop_s)


def _mix(channels: np.ndarray, gains: tuple[float, ...]) -> np.ndarray:
    # Fixed-order elementwise sum, not a matrix product, so results do not depend on block sizes.
    mixed = np.zeros(channels.shape[1])
    for gain, channel in zip(gains, channels, strict=True):
        if gain:
            mixed = mixed + gain * channel
    return mixed
