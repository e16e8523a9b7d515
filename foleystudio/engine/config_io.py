"""Frozen config dataclasses to and from JSON-ready dicts, strictly.

Model folders store their config as JSON (`checkpoint.py`); reading it back must fail loudly on any
key the dataclass does not have, any key it lacks, and any value of the wrong type, so a model is
never built from a config it does not match.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import types
import typing
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any, TypeVar

from foleystudio.errors import UserInputError

_MAX_NAMES_SHOWN = 5
READ_DEFAULT_IF_ABSENT = "read_default_if_absent"  # field metadata: see `_dataclass_from`

ConfigT = TypeVar("ConfigT")


class ConfigError(UserInputError):
    """A serialised config that does not match its dataclass: unknown, missing or mistyped keys."""


# ---------------------------------------------------------------------------------------------
# Config dataclasses <-> JSON-ready dicts


def config_to_dict(config: Any) -> dict[str, Any]:
    """A frozen config dataclass (nested dataclasses, tuples, enums) as a JSON-ready dict."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config_to_dict needs a dataclass instance, not {type(config).__name__}")
    return _to_json(config, "")


def _to_json(value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Only init fields: those are what config_from_dict can pass back to the constructor.
        return {
            field.name: _to_json(getattr(value, field.name), _join(key, field.name))
            for field in dataclasses.fields(value)
            if field.init
        }
    if isinstance(value, enum.Enum):
        return _to_json(value.value, key)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"config value '{key}' is {value}, which JSON cannot hold")
        return value
    if isinstance(value, (tuple, list)):
        return [_to_json(item, f"{key}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        if not all(isinstance(name, str) for name in value):
            raise TypeError(f"config value '{key}' is a mapping with non-string keys")
        return {name: _to_json(item, _join(key, name)) for name, item in value.items()}
    if isinstance(value, PurePath):
        return value.as_posix()
    raise TypeError(f"config value '{key}' has type {type(value).__name__}, which cannot be serialised")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def config_from_dict(cls: type[ConfigT], data: Any, source: str = "config") -> ConfigT:
    """Rebuild the config dataclass ``cls`` from `config_to_dict` output, strictly.

    Unknown and missing keys, and values of the wrong type, raise `ConfigError` naming the key
    (dotted for nested configs, e.g. ``dit.depth``) and ``source`` (usually the file read).
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"config_from_dict needs a dataclass type, not {cls!r}")
    return _dataclass_from(cls, data, "", source)


def _dataclass_from(cls: type, data: Any, key: str, source: str) -> Any:
    if not isinstance(data, Mapping):
        raise _type_error(source, key or cls.__name__, f"an object ({cls.__name__})", data)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: unknown {_plural(len(unknown), 'key')} {quoted_names([_join(key, n) for n in unknown])} "
            f"({cls.__name__} has {quoted_names(list(fields))})"
        )
    # A field added after model folders were already written says so (metadata READ_DEFAULT_IF_ABSENT):
    # folders without it read as its default, the behaviour they were written with.
    missing = [name for name in fields if name not in data and not fields[name].metadata.get(READ_DEFAULT_IF_ABSENT)]
    if missing:
        raise ConfigError(
            f"{source}: missing {_plural(len(missing), 'key')} {quoted_names([_join(key, n) for n in missing])}"
        )
    hints = typing.get_type_hints(cls)
    values = {name: _value_from(hints[name], data[name], _join(key, name), source) for name in fields if name in data}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:
        # The dataclass's own validation (__post_init__) rejected the combination of values.
        raise ConfigError(f"{source}: {key or cls.__name__}: {error}") from None


def _value_from(annotation: Any, value: Any, key: str, source: str) -> Any:
    if annotation is Any:
        return value
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return _dataclass_from(annotation, value, key, source)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_from(annotation, value, key, source)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return _union_from(typing.get_args(annotation), value, key, source)
    if origin is typing.Literal:
        choices = typing.get_args(annotation)
        # type() too, so that True does not pass for 1 nor 1 for 1.0.
        if not any(value == choice and type(value) is type(choice) for choice in choices):
            raise ConfigError(f"{source}: '{key}' must be one of {quoted_names(choices)}, not {_shown(value)}")
        return value
    if origin in (tuple, list) or annotation in (tuple, list):
        return _sequence_from(annotation, origin or annotation, value, key, source)
    if origin is dict or annotation is dict:
        return _mapping_from(annotation, value, key, source)
    return _scalar_from(annotation, value, key, source)


def _enum_from(cls: type[enum.Enum], value: Any, key: str, source: str) -> enum.Enum:
    try:
        return cls(value)
    except ValueError:
        choices = [member.value for member in cls]
        raise ConfigError(f"{source}: '{key}' must be one of {quoted_names(choices)}, not {_shown(value)}") from None


def _union_from(options: tuple[Any, ...], value: Any, key: str, source: str) -> Any:
    if value is None:
        if type(None) in options:
            return None
        raise _type_error(source, key, _type_name(options), value)
    candidates = [option for option in options if option is not type(None)]
    first_error: ConfigError | None = None
    for option in candidates:
        try:
            return _value_from(option, value, key, source)
        except ConfigError as error:
            first_error = first_error or error
    if len(candidates) == 1 and first_error is not None:
        raise first_error
    raise _type_error(source, key, _type_name(options), value)


def _sequence_from(annotation: Any, kind: type, value: Any, key: str, source: str) -> Any:
    if not isinstance(value, list):
        raise _type_error(source, key, "a list", value)
    arguments = typing.get_args(annotation)
    if kind is tuple and arguments and arguments[-1] is not Ellipsis:
        if len(value) != len(arguments):
            raise ConfigError(f"{source}: '{key}' must have {len(arguments)} items, not {len(value)}")
        item_types = arguments
    else:
        item_types = (arguments[0] if arguments else Any,) * len(value)
    items = [
        _value_from(item_type, item, f"{key}[{index}]", source)
        for index, (item_type, item) in enumerate(zip(item_types, value))
    ]
    return tuple(items) if kind is tuple else items


def _mapping_from(annotation: Any, value: Any, key: str, source: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise _type_error(source, key, "an object", value)
    arguments = typing.get_args(annotation)
    item_type = arguments[1] if len(arguments) == 2 else Any
    return {name: _value_from(item_type, item, _join(key, name), source) for name, item in value.items()}


def _scalar_from(annotation: Any, value: Any, key: str, source: str) -> Any:
    # bool is a subclass of int in Python, but "true" is never a meaningful layer count.
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(source, key, "true or false", value)
    if annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(source, key, "an integer", value)
    if annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise _type_error(source, key, "a number", value)
    if annotation is str:
        if isinstance(value, str):
            return value
        raise _type_error(source, key, "a string", value)
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        if isinstance(value, str):
            return annotation(value)
        raise _type_error(source, key, "a path string", value)
    raise TypeError(f"config_from_dict cannot read '{key}': unsupported field type {annotation!r}")


def _type_error(source: str, key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{source}: '{key}' must be {expected}, not {_shown(value)}")


def _type_name(options: tuple[Any, ...]) -> str:
    names = ["null" if option is type(None) else getattr(option, "__name__", str(option)) for option in options]
    return " or ".join(names)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        text = f"'{value}'"
    elif _is_json_scalar(value):
        text = json.dumps(value)
    elif isinstance(value, Mapping):
        text = "an object"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _is_json_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def quoted_names(names: typing.Iterable[Any]) -> str:
    names = [f"'{name}'" if isinstance(name, str) else json.dumps(name) for name in names]
    if len(names) > _MAX_NAMES_SHOWN:
        names = names[:_MAX_NAMES_SHOWN] + [f"and {len(names) - _MAX_NAMES_SHOWN} more"]
    return ", ".join(names)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def count_of(items: typing.Sized, word: str) -> str:
    return f"{len(items)} {_plural(len(items), word)}"
