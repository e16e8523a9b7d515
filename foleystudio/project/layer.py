"""A sound layer: what to generate (prompts, reference sound, loudness curve, guidance) and its takes.

A layer is observable: its fields are read as attributes and changed only through ``update``
(validated, all or nothing, emits ``changed`` with one ``FieldChange(name, old, new)`` per field
that really changed, nothing when none did) and the take methods. The defaults below are starting
points a sound designer can work from, chosen by us; they are not facts about any model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields, replace
from enum import Enum

from foleystudio.audio.curve import CURVE_RATE_HZ, LoudnessCurve
from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.events import (
    Event,
    FieldChange,
    FieldsChanged,
    TakeAdded,
    TakeRemoved,
    TakeReplaced,
)
from foleystudio.project.media import MediaReference
from foleystudio.project.take import Take

logger = logging.getLogger(__name__)


class LayerRole(Enum):
    ON_SCREEN = "on-screen"  # Foley synced to what is seen
    OFF_SCREEN = "off-screen"  # sounds described in words, not seen
    AMBIENCE = "ambience"  # backgrounds, room tones


# ---- defaults (our choices, documented as such) ---------------------------------------------
DEFAULT_CURVE_LUFS = -23.0  # EBU R128 programme level: a neutral place to start drawing from
DEFAULT_CURVE_RATE_HZ = CURVE_RATE_HZ  # the Tri-Ergon momentary curve, 6 frames per second
# Guidance and steps as the engine's GenerationRequest defaults (tests/test_defaults_agree.py):
# VinTAGe's 2.5 for every modality (equal scales need only two guidance branches per step) until
# the trained model's own sweep says otherwise.
DEFAULT_VIDEO_GUIDANCE = 2.5
DEFAULT_TEXT_GUIDANCE = 2.5
DEFAULT_AUDIO_GUIDANCE = 2.5
DEFAULT_LOUDNESS_ADHERENCE = 0.8  # close to the curve, leaving the take some natural dynamics
DEFAULT_STEPS = 25
DEFAULT_VARIATIONS = 2
DEFAULT_SEED = 0

# ---- limits -------------------------------------------------------------------------------------
MAX_LAYER_NAME_LENGTH = 80
MAX_PROMPT_LENGTH = 1000
GUIDANCE_RANGE = (0.0, 20.0)
STEPS_RANGE = (1, 1000)
VARIATIONS_RANGE = (1, 8)
SEED_RANGE = (0, 2**32 - 1)  # what every RNG we use accepts
GAIN_DB_RANGE = (-60.0, 12.0)
ADHERENCE_RANGE = (0.0, 1.0)
LIKENESS_RANGE = (0.0, 1.0)

# Fields that change through dedicated methods, never through ``update``.
_NOT_UPDATABLE = {"id": "a layer's id never changes", "takes": "takes change through add_take / remove_take"}

_CHECKS = {
    "name": lambda v: checks.check_name(v, "layer name", MAX_LAYER_NAME_LENGTH),
    "role": lambda v: checks.check_enum(v, "layer role", LayerRole),
    "on_screen_prompt": lambda v: checks.check_text(v, "on-screen prompt", MAX_PROMPT_LENGTH),
    "off_screen_prompt": lambda v: checks.check_text(v, "off-screen prompt", MAX_PROMPT_LENGTH),
    "negative_prompt": lambda v: checks.check_text(v, "negative prompt", MAX_PROMPT_LENGTH),
    "reference_audio": lambda v: checks.check_instance(v, "reference audio", MediaReference, optional=True),
    "follow_video": lambda v: checks.check_bool(v, "follow video"),
    "curve": lambda v: checks.check_instance(v, "loudness curve", LoudnessCurve),
    "curves_linked": lambda v: checks.check_bool(v, "curves linked"),
    "video_guidance": lambda v: checks.check_number(v, "video guidance", *GUIDANCE_RANGE),
    "text_guidance": lambda v: checks.check_number(v, "text guidance", *GUIDANCE_RANGE),
    "audio_guidance": lambda v: checks.check_number(v, "reference-audio guidance", *GUIDANCE_RANGE),
    "loudness_adherence": lambda v: checks.check_number(v, "loudness adherence", *ADHERENCE_RANGE),
    "reference_likeness": lambda v: checks.check_number(v, "reference likeness", *LIKENESS_RANGE),
    "steps": lambda v: checks.check_int(v, "steps", *STEPS_RANGE),
    "seed": lambda v: checks.check_int(v, "seed", *SEED_RANGE),
    "seed_locked": lambda v: checks.check_bool(v, "seed locked"),
    "variations": lambda v: checks.check_int(v, "variations", *VARIATIONS_RANGE),
    "selected_take_id": lambda v: None if v is None else checks.check_id(v, "selected take id"),
    "mute": lambda v: checks.check_bool(v, "mute"),
    "solo": lambda v: checks.check_bool(v, "solo"),
    "gain_db": lambda v: checks.check_number(v, "gain (dB)", *GAIN_DB_RANGE),
}


def default_curve(duration_s: float) -> LoudnessCurve:
    """A new layer's curve: flat at -23 LUFS on both channels over ``duration_s``, 6 frames/s."""
    return LoudnessCurve.constant(duration_s, DEFAULT_CURVE_LUFS, DEFAULT_CURVE_RATE_HZ)


@dataclass(kw_only=True)
class Layer:
    """One sound layer; read fields as attributes, change them with ``update``."""

    id: str = field(default_factory=checks.new_id)
    name: str
    role: LayerRole = LayerRole.ON_SCREEN
    on_screen_prompt: str = ""
    off_screen_prompt: str = ""
    negative_prompt: str = ""
    reference_audio: MediaReference | None = None
    follow_video: bool = True
    curve: LoudnessCurve = field(repr=False)
    curves_linked: bool = True
    video_guidance: float = DEFAULT_VIDEO_GUIDANCE
    text_guidance: float = DEFAULT_TEXT_GUIDANCE
    audio_guidance: float = DEFAULT_AUDIO_GUIDANCE
    loudness_adherence: float = DEFAULT_LOUDNESS_ADHERENCE
    reference_likeness: float = 0.0
    steps: int = DEFAULT_STEPS
    seed: int = DEFAULT_SEED
    seed_locked: bool = False
    variations: int = DEFAULT_VARIATIONS
    takes: tuple[Take, ...] = ()
    selected_take_id: str | None = None
    mute: bool = False
    solo: bool = False
    gain_db: float = 0.0

    changed: Event = field(init=False, repr=False, compare=False)
    take_added: Event = field(init=False, repr=False, compare=False)
    take_removed: Event = field(init=False, repr=False, compare=False)
    take_replaced: Event = field(init=False, repr=False, compare=False)

    @classmethod
    def new(cls, name: str, role: LayerRole | str = LayerRole.ON_SCREEN, duration_s: float = 10.0, **fields) -> Layer:
        """A layer with the defaults: flat -23 LUFS curve over ``duration_s``; on-screen follows video."""
        role = checks.check_enum(role, "layer role", LayerRole)
        fields.setdefault("curve", default_curve(duration_s))
        fields.setdefault("follow_video", role is LayerRole.ON_SCREEN)
        return cls(name=name, role=role, **fields)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", checks.check_id(self.id, "layer id"))
        object.__setattr__(self, "name", _CHECKS["name"](self.name))
        for name, check in _CHECKS.items():
            object.__setattr__(self, name, self._checked(name, check, getattr(self, name)))
        object.__setattr__(self, "takes", _checked_takes(self.takes, self.name))
        self._check_selection(self.selected_take_id, self.takes)
        for event in ("changed", "take_added", "take_removed", "take_replaced"):
            object.__setattr__(self, event, Event(f"layer.{event}"))
        object.__setattr__(self, "_sealed", True)

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_sealed", False) and not name.startswith("_"):
            raise AttributeError(f"layer {name} changes through Layer.update(), which validates and notifies")
        object.__setattr__(self, name, value)

    # ---- fields -----------------------------------------------------------------------------
    def update(self, **values) -> tuple[FieldChange, ...]:
        """Set fields (validated all before any is set); returns and emits what really changed."""
        clean = {name: self._checked_update(name, value) for name, value in values.items()}
        if "selected_take_id" in clean:
            self._check_selection(clean["selected_take_id"], self.takes)
        changes = tuple(
            FieldChange(name, getattr(self, name), value)
            for name, value in clean.items()
            if not _same(getattr(self, name), value)
        )
        for change in changes:
            object.__setattr__(self, change.name, change.new)
        if changes:
            self.changed.emit(FieldsChanged(self, changes))
        return changes

    def _checked_update(self, name: str, value):
        if name in _NOT_UPDATABLE:
            raise UserInputError(f"layer {self.name!r}: {_NOT_UPDATABLE[name]}")
        if name not in _CHECKS:
            raise UserInputError(f"layer {self.name!r}: no field named {name!r}")
        return self._checked(name, _CHECKS[name], value)

    def _checked(self, name: str, check, value):
        try:
            return check(value)
        except UserInputError as error:
            raise UserInputError(f"layer {self.name!r}: {error}") from None

    def _check_selection(self, take_id: str | None, takes: tuple[Take, ...]) -> None:
        if take_id is not None and all(take.id != take_id for take in takes):
            raise UserInputError(f"layer {self.name!r}: selected take {take_id!r} is not one of its takes")

    # ---- takes ------------------------------------------------------------------------------
    @property
    def selected_take(self) -> Take | None:
        return None if self.selected_take_id is None else self.take(self.selected_take_id)

    def take(self, take_id: str) -> Take:
        for take in self.takes:
            if take.id == take_id:
                return take
        raise UserInputError(f"layer {self.name!r} has no take with id {take_id!r}")

    def take_index(self, take_id: str) -> int:
        return self.takes.index(self.take(take_id))

    def add_take(self, take: Take, index: int | None = None) -> int:
        """Insert ``take`` (at the end by default); returns its index."""
        takes = _checked_takes((*self.takes, take), self.name)
        index = len(self.takes) if index is None else _insert_index(index, len(self.takes))
        object.__setattr__(self, "takes", (*self.takes[:index], takes[-1], *self.takes[index:]))
        self.take_added.emit(TakeAdded(self, takes[-1], index))
        return index

    def remove_take(self, take_id: str) -> tuple[Take, int]:
        """Remove a take (its file stays on disk, for undo); returns it and where it was.

        Removing the selected take first clears the selection (a ``changed`` event).
        """
        index = self.take_index(take_id)
        if self.selected_take_id == take_id:
            self.update(selected_take_id=None)
        take = self.takes[index]
        object.__setattr__(self, "takes", self.takes[:index] + self.takes[index + 1 :])
        self.take_removed.emit(TakeRemoved(self, take, index))
        return take, index

    def replace_take(self, take: Take) -> Take:
        """Swap the take with ``take.id`` for ``take``; returns the old one."""
        checks.check_instance(take, "take", Take)
        index = self.take_index(take.id)
        old = self.takes[index]
        if old == take:
            return old
        object.__setattr__(self, "takes", (*self.takes[:index], take, *self.takes[index + 1 :]))
        self.take_replaced.emit(TakeReplaced(self, old, take, index))
        return old

    def select_take(self, take_id: str | None) -> tuple[FieldChange, ...]:
        return self.update(selected_take_id=take_id)

    # ---- helpers ------------------------------------------------------------------------------
    def copy(self, name: str | None = None) -> Layer:
        """An independent copy with a new id (takes are shared values: same files)."""
        return replace(self, id=checks.new_id(), name=self.name if name is None else name)

    def generation_parameters(self) -> dict:
        """What this layer asks the generator for, as a plain dict (a take stores a frozen copy)."""
        return {
            "role": self.role.value,
            "on_screen_prompt": self.on_screen_prompt,
            "off_screen_prompt": self.off_screen_prompt,
            "negative_prompt": self.negative_prompt,
            "reference_audio": None if self.reference_audio is None else self.reference_audio.absolute,
            "follow_video": self.follow_video,
            "curve": self.curve,
            "video_guidance": self.video_guidance,
            "text_guidance": self.text_guidance,
            "audio_guidance": self.audio_guidance,
            "loudness_adherence": self.loudness_adherence,
            "reference_likeness": self.reference_likeness,
            "steps": self.steps,
            "seed": self.seed,
        }


LAYER_FIELDS = tuple(f.name for f in fields(Layer) if f.init)


def _same(old, new) -> bool:
    # Enum members and numbers compare by value; 3 and 3.0 are the same guidance.
    return type(old) is type(new) and old == new


def _insert_index(index, length: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= length:
        raise UserInputError(f"index must be a whole number between 0 and {length}, got {index!r}")
    return index


def _checked_takes(takes, layer_name: str) -> tuple[Take, ...]:
    if not isinstance(takes, (tuple, list)):
        raise UserInputError(f"layer {layer_name!r}: takes must be a list, got {type(takes).__name__}")
    seen = set()
    for take in takes:
        checks.check_instance(take, f"layer {layer_name!r}: take", Take)
        if take.id in seen:
            raise UserInputError(f"layer {layer_name!r}: two takes have the id {take.id!r}")
        seen.add(take.id)
    return tuple(takes)
