"""Channel layouts for loudness: BS.1770 channel weights and the stereo downmix used by the curve.

ITU-R BS.1770-4 sums the mean squares of the K-weighted channels with a weight per channel: 1.0 for
left, right and centre, 1.41 (+1.5 dB) for the surround channels, and the LFE channel is left out.
Audio files do not say where their channels sit, so the layout is inferred from the channel count:

* 1 channel: mono.
* 2 channels: stereo, L R.
* 5 channels: 5.0, L R C Ls Rs (the order of the EBU test material).
* 6 channels: 5.1, L R C LFE Ls Rs (the WAV/SMPTE order); the LFE weight is 0.
* any other count: every channel weighs 1.0 and none is assumed to be an LFE channel. If a file of
  another count does carry an LFE channel, its loudness is over-read; pass an explicit
  ``ChannelLayout`` to the meter to correct that.

The loudness curve is a stereo (left/right) quantity. Layouts with more than two channels are folded
into left and right with the standard stereo downmix (ITU-R BS.775 coefficients): left = L +
0.7071 C + 0.7071 Ls, right = R + 0.7071 C + 0.7071 Rs, LFE dropped. For the generic layout the first
two channels are taken as L and R and every further channel, whose position is unknown, is mixed into
both sides at 0.7071 as if it were a centre channel. Mono feeds the same signal to both sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from foleystudio.errors import UserInputError

SURROUND_WEIGHT = 1.41  # BS.1770-4 Table 3 (about +1.5 dB)
DOWNMIX_GAIN = 1.0 / math.sqrt(2.0)  # -3 dB, ITU-R BS.775 downmix coefficient
MAX_CHANNELS = 64


@dataclass(frozen=True)
class ChannelLayout:
    """Names, BS.1770 weights and left/right downmix coefficients of a channel arrangement."""

    name: str
    labels: tuple[str, ...]
    weights: tuple[float, ...]
    left_mix: tuple[float, ...]
    right_mix: tuple[float, ...]

    def __post_init__(self) -> None:
        count = len(self.labels)
        if count < 1 or count > MAX_CHANNELS:
            raise UserInputError(f"a channel layout needs 1 to {MAX_CHANNELS} channels, got {count}")
        for field_name in ("weights", "left_mix", "right_mix"):
            values = getattr(self, field_name)
            if len(values) != count:
                raise UserInputError(
                    f"channel layout {self.name!r}: {field_name} has {len(values)} values for {count} channels"
                )
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise UserInputError(f"channel layout {self.name!r}: {field_name} must be finite and >= 0")

    @property
    def channels(self) -> int:
        return len(self.labels)

    @property
    def is_mono(self) -> bool:
        return self.channels == 1

    @property
    def is_stereo(self) -> bool:
        """True when left and right of the curve are exactly channels 0 and 1."""
        return self.left_mix == (1.0, 0.0) and self.right_mix == (0.0, 1.0)


MONO = ChannelLayout("mono", ("M",), (1.0,), (1.0,), (1.0,))
STEREO = ChannelLayout("stereo", ("L", "R"), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0))
SURROUND_5_0 = ChannelLayout(
    "5.0",
    ("L", "R", "C", "Ls", "Rs"),
    (1.0, 1.0, 1.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    (1.0, 0.0, DOWNMIX_GAIN, DOWNMIX_GAIN, 0.0),
    (0.0, 1.0, DOWNMIX_GAIN, 0.0, DOWNMIX_GAIN),
)
SURROUND_5_1 = ChannelLayout(
    "5.1",
    ("L", "R", "C", "LFE", "Ls", "Rs"),
    (1.0, 1.0, 1.0, 0.0, SURROUND_WEIGHT, SURROUND_WEIGHT),
    (1.0, 0.0, DOWNMIX_GAIN, 0.0, DOWNMIX_GAIN, 0.0),
    (0.0, 1.0, DOWNMIX_GAIN, 0.0, 0.0, DOWNMIX_GAIN),
)
_KNOWN = {layout.channels: layout for layout in (MONO, STEREO, SURROUND_5_0, SURROUND_5_1)}


def generic_layout(channels: int) -> ChannelLayout:
    """Every channel weighs 1.0, no LFE; channels beyond the first two go to both sides at -3 dB."""
    rest = channels - 2
    return ChannelLayout(
        f"{channels}ch",
        tuple(f"ch{i + 1}" for i in range(channels)),
        (1.0,) * channels,
        (1.0, 0.0) + (DOWNMIX_GAIN,) * rest,
        (0.0, 1.0) + (DOWNMIX_GAIN,) * rest,
    )


def layout_for(channels: int | ChannelLayout) -> ChannelLayout:
    """The layout for a channel count (see the module docstring), or the given layout as is."""
    if isinstance(channels, ChannelLayout):
        return channels
    if isinstance(channels, bool):
        raise UserInputError(f"channel count must be a whole number, got {channels!r}")
    if not isinstance(channels, int):
        try:
            if float(channels) != int(channels):
                raise ValueError
            channels = int(channels)
        except (TypeError, ValueError):
            raise UserInputError(f"channel count must be a whole number, got {channels!r}") from None
    if channels < 1 or channels > MAX_CHANNELS:
        raise UserInputError(f"channel count must be between 1 and {MAX_CHANNELS}, got {channels}")
    return _KNOWN.get(channels) or generic_layout(channels)


# ---- named speaker positions (FFmpeg's names) -----------------------------------------------------
@dataclass(frozen=True)
class Speaker:
    """A speaker position's BS.1770 weight and its (left, right) gains in the stereo downmix."""

    weight: float
    left: float
    right: float


# One table for loudness weights and the stereo downmix (ITU-R BS.775 gains), used by the meter and
# by the audio reader's channel conversion alike. Surround and back speakers carry the 1.41 weight.
SPEAKERS = {
    "FL": Speaker(1.0, 1.0, 0.0),
    "FR": Speaker(1.0, 0.0, 1.0),
    "FC": Speaker(1.0, DOWNMIX_GAIN, DOWNMIX_GAIN),
    "LFE": Speaker(0.0, 0.0, 0.0),
    "LFE2": Speaker(0.0, 0.0, 0.0),
    "BL": Speaker(SURROUND_WEIGHT, DOWNMIX_GAIN, 0.0),
    "BR": Speaker(SURROUND_WEIGHT, 0.0, DOWNMIX_GAIN),
    "SL": Speaker(SURROUND_WEIGHT, DOWNMIX_GAIN, 0.0),
    "SR": Speaker(SURROUND_WEIGHT, 0.0, DOWNMIX_GAIN),
    "BC": Speaker(SURROUND_WEIGHT, 0.5, 0.5),
    "FLC": Speaker(1.0, 1.0, 0.0),
    "FRC": Speaker(1.0, 0.0, 1.0),
}

# Channel order of WAVE_FORMAT_EXTENSIBLE files by channel count, for files that name no layout.
WAVE_ORDER = {
    1: ("FC",),
    2: ("FL", "FR"),
    3: ("FL", "FR", "FC"),
    4: ("FL", "FR", "BL", "BR"),
    5: ("FL", "FR", "FC", "BL", "BR"),
    6: ("FL", "FR", "FC", "LFE", "BL", "BR"),
    7: ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    8: ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
}


def layout_from_positions(positions: tuple[str, ...]) -> ChannelLayout:
    """The layout of channels whose speaker positions are known (e.g. from a file's channel layout).

    Mono, stereo, 5.0 and 5.1 in their usual orders give the standard layouts; other arrangements
    take each speaker's weight and downmix gains from SPEAKERS. Positions FoleyStudio does not know
    fall back to the channel-count layout of `layout_for`.
    """
    positions = tuple(positions)
    for layout, order in ((MONO, ("FC",)), (STEREO, WAVE_ORDER[2]), (SURROUND_5_0, WAVE_ORDER[5]),
                          (SURROUND_5_1, WAVE_ORDER[6]), (SURROUND_5_0, ("FL", "FR", "FC", "SL", "SR")),
                          (SURROUND_5_1, ("FL", "FR", "FC", "LFE", "SL", "SR"))):
        if positions == order:
            return layout
    if not positions or any(p not in SPEAKERS for p in positions):
        return layout_for(len(positions))
    speakers = [SPEAKERS[p] for p in positions]
    return ChannelLayout(
        " ".join(positions),
        positions,
        tuple(s.weight for s in speakers),
        tuple(s.left for s in speakers),
        tuple(s.right for s in speakers),
    )
