"""Project-wide export settings: sample rate, sample format and how stems are named.

The defaults are those of film and TV delivery (48 kHz, 24-bit PCM); they are starting points the
user changes, not facts about any particular deliverable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from foleystudio.errors import UserInputError
from foleystudio.project.checks import check_bool, check_choice, check_enum

SUPPORTED_SAMPLE_RATES = (44100, 48000)
DEFAULT_SAMPLE_RATE = 48000
# 24 means 24-bit integer PCM, 32 means 32-bit float (DESIGN §1.7).
SUPPORTED_BIT_DEPTHS = (24, 32)
DEFAULT_BIT_DEPTH = 24
# UCS file name fields are separated by underscores, so an id may not contain one.
_UCS_ID = re.compile(r"[A-Za-z0-9-]{0,32}")


class StemNaming(Enum):
    """How exported stem files are named."""

    UCS = "ucs"  # CatID_FXName_CreatorID_SourceID (Universal Category System style)
    LAYER_NAME = "layer-name"  # the layer's name as is


@dataclass(frozen=True, kw_only=True)
class ExportSettings:
    sample_rate: int = DEFAULT_SAMPLE_RATE
    bit_depth: int = DEFAULT_BIT_DEPTH
    stem_naming: StemNaming = StemNaming.UCS
    creator_id: str = ""  # UCS CreatorID (who made the sound); empty: left out
    source_id: str = ""  # UCS SourceID (the show or project); empty: the project's name
    mixdown: bool = True  # also write a mix of all audible layers
    review_video: bool = False  # also write an MP4 of the picture with the mix

    def __post_init__(self) -> None:
        for field, label, choices in (
            ("sample_rate", "export sample rate", SUPPORTED_SAMPLE_RATES),
            ("bit_depth", "export bit depth", SUPPORTED_BIT_DEPTHS),
        ):
            value = getattr(self, field)
            if type(value) is not int:
                raise UserInputError(f"{label} must be a whole number, got {value!r}")
            check_choice(value, label, choices)
        object.__setattr__(self, "stem_naming", check_enum(self.stem_naming, "stem naming", StemNaming))
        for field in ("creator_id", "source_id"):
            value = getattr(self, field)
            if not isinstance(value, str) or not _UCS_ID.fullmatch(value):
                raise UserInputError(
                    f"export {field.replace('_', ' ')} may hold up to 32 letters, digits and hyphens, got {value!r}"
                )
        check_bool(self.mixdown, "export mixdown")
        check_bool(self.review_video, "export review video")

    @property
    def is_float(self) -> bool:
        return self.bit_depth == 32
