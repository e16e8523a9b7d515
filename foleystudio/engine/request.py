"""What a generation is asked for: a frozen, validated `GenerationRequest`.

The request is built from a project layer (or the command line), checked once here with precise
errors, and then passed unchanged through the pipeline; the take records it, so the same request and
seed reproduce the same take. Per-request changes use `dataclasses.replace`, never mutation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.errors import UserInputError

MAX_VARIATIONS = 8
MAX_STEPS = 200
SAMPLERS = ("euler", "heun")
# A curve may end up to one frame before the take: its last value is held to the end.
_CURVE_SLACK_S = 1.0 / 6.0 + 1e-6


@dataclass(frozen=True)
class VideoSpan:
    """A stretch of a video file that the take accompanies."""

    path: Path
    start_s: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        _check_seconds(self.start_s, "video start", allow_zero=True)


@dataclass(frozen=True)
class GenerationRequest:
    """Everything that makes a take. ``duration_s`` is the take's length in seconds."""

    duration_s: float
    on_screen_prompt: str = ""
    off_screen_prompt: str = ""
    negative_prompt: str = ""
    reference_audio: Path | None = None
    video: VideoSpan | None = None
    follow_video: bool = True
    curve: LoudnessCurve | None = None
    adherence: float = 0.8
    # How much of the reference sound the take keeps (`reference_layout`): 0 uses it as a prompt
    # only; above 0 the take starts from the reference laid along a first take, at this flow time.
    reference_likeness: float = 0.0
    guidance: GuidanceScales = field(default_factory=GuidanceScales)
    steps: int = 25
    sampler: str = "euler"
    seed: int = 0
    variations: int = 1
    model: str = "default"
    device: str = "auto"

    def __post_init__(self) -> None:
        _check_seconds(self.duration_s, "duration")
        for name in ("on_screen_prompt", "off_screen_prompt", "negative_prompt"):
            if not isinstance(getattr(self, name), str):
                raise UserInputError(f"{name.replace('_', ' ')} must be text")
            object.__setattr__(self, name, " ".join(getattr(self, name).split()))
        if self.reference_audio is not None:
            object.__setattr__(self, "reference_audio", Path(self.reference_audio))
        _check_whole(self.steps, "steps", 1, MAX_STEPS)
        _check_whole(self.variations, "variations", 1, MAX_VARIATIONS)
        _check_whole(self.seed, "seed", 0, 2**63 - 1)
        if self.sampler not in SAMPLERS:
            raise UserInputError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if isinstance(self.adherence, bool) or not isinstance(self.adherence, (int, float)) \
                or not 0.0 <= self.adherence <= 1.0:
            raise UserInputError(f"loudness adherence must be between 0 and 1, got {self.adherence!r}")
        if isinstance(self.reference_likeness, bool) or not isinstance(self.reference_likeness, (int, float)) \
                or not 0.0 <= self.reference_likeness <= 1.0:
            raise UserInputError(f"reference likeness must be between 0 and 1, got {self.reference_likeness!r}")
        if self.curve is not None:
            self._check_curve(self.curve)

    def _check_curve(self, curve: LoudnessCurve) -> None:
        if not isinstance(curve, LoudnessCurve):
            raise UserInputError("the loudness curve must be a LoudnessCurve")
        if curve.times[0] > 1e-6:
            raise UserInputError(f"the loudness curve must start at 0 s (the take's start), not {curve.times[0]:.3f} s")
        if curve.end_s + _CURVE_SLACK_S < self.duration_s:
            raise UserInputError(
                f"the loudness curve covers {curve.end_s:.2f} s but the take is {self.duration_s:.2f} s long"
            )

    @property
    def text_present(self) -> bool:
        return bool(self.on_screen_prompt or self.off_screen_prompt)

    @property
    def video_present(self) -> bool:
        return self.video is not None and self.follow_video

    @property
    def audio_present(self) -> bool:
        return self.reference_audio is not None

    @property
    def modalities(self) -> frozenset[str]:
        """The prompt modalities this request conditions on: a subset of video, text, audio."""
        present = {"video": self.video_present, "text": self.text_present, "audio": self.audio_present}
        return frozenset(name for name, here in present.items() if here)

    @property
    def caption(self) -> str:
        """The text condition: on-screen and off-screen prompts in the captions' training form."""
        return compose_caption(self.on_screen_prompt, self.off_screen_prompt)


def compose_caption(on_screen: str, off_screen: str) -> str:
    """One caption saying which sound is on screen and which off screen (VinTAGe-style captions).

    The training captions use the same form, so the model learns what "off screen" means.
    """
    parts = []
    if on_screen.strip():
        parts.append(f"on screen: {on_screen.strip()}")
    if off_screen.strip():
        parts.append(f"off screen: {off_screen.strip()}")
    return "; ".join(parts)


def _check_seconds(value, name: str, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserInputError(f"{name} must be a number of seconds, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        limit = ">= 0" if allow_zero else "> 0"
        raise UserInputError(f"{name} must be {limit} s, got {value}")


def _check_whole(value, name: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserInputError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise UserInputError(f"{name} must be between {low} and {high}, got {value}")
