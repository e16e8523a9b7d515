"""A take: one generated sound for a layer, with every parameter that made it.

Takes are immutable values. Their ``parameters`` are a deep-frozen mapping (prompts, guidance,
steps, seed, model id, the loudness curve, ...) so a take can be regenerated exactly, and so what
a take says about itself can never drift from what made it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.errors import UserInputError
from foleystudio.project.checks import check_id, check_instance, check_name, new_id
from foleystudio.project.media import MediaReference

MAX_TAKE_NAME_LENGTH = 120


class FrozenMapping(Mapping):
    """A read-only, hashable mapping whose nested lists are tuples and nested dicts are frozen.

    Values may be None, bool, int, finite float, str, LoudnessCurve, and lists or str-keyed
    mappings of those: what JSON (plus curves) can hold, so a take's parameters always save.
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, items: Mapping | None = None) -> None:
        items = {} if items is None else items
        if not isinstance(items, Mapping):
            raise UserInputError(f"parameters must be a mapping, got {type(items).__name__}")
        self._items = {key: _freeze(value, key) for key, value in _checked_keys(items)}
        self._hash = None

    def __getitem__(self, key):
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._items.items()))
        return self._hash

    def __eq__(self, other) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMapping({self._items!r})"

    def thaw(self) -> dict:
        """A plain, mutable deep copy (lists and dicts again)."""
        return {key: _thaw(value) for key, value in self._items.items()}


def _checked_keys(items: Mapping):
    for key, value in items.items():
        if not isinstance(key, str):
            raise UserInputError(f"parameter names must be text, got {key!r}")
        yield key, value


def _freeze(value, name: str):
    if value is None or isinstance(value, (bool, int, str, LoudnessCurve)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserInputError(f"parameter {name} must be a finite number, got {value}")
        return value
    if isinstance(value, FrozenMapping):
        return value
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(item, name) for item in value)
    raise UserInputError(f"parameter {name} cannot be stored in a project: {type(value).__name__}")


def _thaw(value):
    if isinstance(value, FrozenMapping):
        return value.thaw()
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True, kw_only=True)
class Take:
    """One generated sound: its audio file, what made it, and its measured loudness."""

    id: str = field(default_factory=new_id)
    name: str
    audio: MediaReference
    parameters: FrozenMapping = field(default_factory=FrozenMapping, repr=False)
    measured_curve: LoudnessCurve | None = field(default=None, repr=False)
    model_id: str
    created: datetime = field(default_factory=utc_now)

    def __post_init__(self) -> None:
        label = f"take {self.name!r}"
        check_id(self.id, f"{label} id")
        object.__setattr__(self, "name", check_name(self.name, "take name", MAX_TAKE_NAME_LENGTH))
        check_instance(self.audio, f"{label} audio", MediaReference)
        if not isinstance(self.parameters, FrozenMapping):
            object.__setattr__(self, "parameters", FrozenMapping(self.parameters))
        check_instance(self.measured_curve, f"{label} measured curve", LoudnessCurve, optional=True)
        check_name(self.model_id, f"{label} model id", 200)
        object.__setattr__(self, "created", _utc(self.created, label))


def _utc(value, label: str) -> datetime:
    if not isinstance(value, datetime):
        raise UserInputError(f"{label} created time must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise UserInputError(f"{label} created time must say its time zone, got {value.isoformat()}")
    return value.astimezone(timezone.utc)


def format_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, e.g. ``2025-03-01T09:30:00.250000Z``."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise UserInputError(f"not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise UserInputError(f"time {text!r} does not say its time zone")
    return moment.astimezone(timezone.utc)
