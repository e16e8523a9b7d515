"""Small validators shared by the document classes: each returns the clean value or raises
``UserInputError`` with a message that names the field and the offending value."""

from __future__ import annotations

import math
import uuid
from enum import Enum
from typing import TypeVar

from foleystudio.errors import UserInputError

E = TypeVar("E", bound=Enum)


def new_id() -> str:
    """A fresh identifier for a layer, take or project (random, so copies never collide)."""
    return uuid.uuid4().hex


def check_id(value, field: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise UserInputError(f"{field} must be non-empty text without surrounding spaces, got {value!r}")
    return value


def check_name(value, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise UserInputError(f"{field} must be text, got {type(value).__name__}")
    name = value.strip()
    if not name:
        raise UserInputError(f"{field} must not be empty")
    if len(name) > max_length:
        raise UserInputError(f"{field} is {len(name)} characters long; at most {max_length} are allowed")
    return name


def check_text(value, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise UserInputError(f"{field} must be text, got {type(value).__name__}")
    if len(value) > max_length:
        raise UserInputError(f"{field} is {len(value)} characters long; at most {max_length} are allowed")
    return value


def check_bool(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise UserInputError(f"{field} must be true or false, got {value!r}")
    return value


def check_number(value, field: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserInputError(f"{field} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise UserInputError(f"{field} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def check_int(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserInputError(f"{field} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise UserInputError(f"{field} must be between {low} and {high}, got {value}")
    return value


def check_choice(value, field: str, choices: tuple) -> object:
    if value not in choices:
        allowed = ", ".join(str(choice) for choice in choices)
        raise UserInputError(f"{field} must be one of {allowed}, got {value!r}")
    return value


def check_enum(value, field: str, enum: type[E]) -> E:
    """An enum member, from a member or its value (the JSON form)."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise UserInputError(f"unknown {field} {value!r} (expected one of: {allowed})") from None


def check_instance(value, field: str, kind: type, optional: bool = False):
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        expected = f"a {kind.__name__}" + (" or None" if optional else "")
        raise UserInputError(f"{field} must be {expected}, got {type(value).__name__}")
    return value
