"""The project <-> JSON document mapping (schema version 2), with errors that name the field.

Layout: top level ``schema_version``, ``app_version``, ``id``, ``video``, ``frame_rate`` (text such
as "24000/1001"), ``video_duration_s``, ``export`` and ``layers`` (a list; each layer flat, with its
``takes``). Media references are ``{"relative", "absolute", "size", "mtime"}``. Curves are
``{"times", "left", "right"}`` at full float precision, so a saved curve reads back identical.
Inside take parameters, a curve is tagged ``{"$curve": {...}}``.

Decoding checks every type before the model validates values; a problem becomes a ProjectError
that says which file and which field, e.g. ``x.foley: layers[1].steps must be a whole number``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import foleystudio
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.errors import ProjectError, UserInputError
from foleystudio.project.document import Project
from foleystudio.project.layer import LAYER_FIELDS, Layer, LayerRole
from foleystudio.project.media import MediaReference
from foleystudio.project.migrations import SCHEMA_VERSION
from foleystudio.project.settings import ExportSettings
from foleystudio.project.take import FrozenMapping, Take, format_utc, parse_utc

logger = logging.getLogger(__name__)

CURVE_TAG = "$curve"

RefMap = Callable[[MediaReference], MediaReference]


# ---- encoding ---------------------------------------------------------------------------------
def project_to_document(project: Project, map_reference: RefMap = lambda ref: ref) -> dict:
    """The JSON-ready dict of ``project``; ``map_reference`` re-expresses each media reference."""
    return {
        "schema_version": SCHEMA_VERSION,
        "app_version": foleystudio.__version__,
        "id": project.id,
        "video": _reference(project.video, map_reference),
        "frame_rate": f"{project.frame_rate.numerator}/{project.frame_rate.denominator}",
        "video_duration_s": project.video_duration_s,
        "export": _export(project.export),
        "layers": [_layer(layer, map_reference) for layer in project.layers],
    }


def _reference(reference: MediaReference | None, map_reference: RefMap) -> dict | None:
    if reference is None:
        return None
    reference = map_reference(reference)
    return {"relative": reference.relative, "absolute": reference.absolute, "size": reference.size, "mtime": reference.mtime}


def _curve(curve: LoudnessCurve | None) -> dict | None:
    if curve is None:
        return None
    return {"times": curve.times.tolist(), "left": curve.left.tolist(), "right": curve.right.tolist()}


def _export(settings: ExportSettings) -> dict:
    return {
        "sample_rate": settings.sample_rate,
        "bit_depth": settings.bit_depth,
        "stem_naming": settings.stem_naming.value,
        "creator_id": settings.creator_id,
        "source_id": settings.source_id,
        "mixdown": settings.mixdown,
        "review_video": settings.review_video,
    }


def _layer(layer: Layer, map_reference: RefMap) -> dict:
    data = {}
    for name in LAYER_FIELDS:
        value = getattr(layer, name)
        if name == "role":
            value = value.value
        elif name == "reference_audio":
            value = _reference(value, map_reference)
        elif name == "curve":
            value = _curve(value)
        elif name == "takes":
            value = [_take(take, map_reference) for take in value]
        data[name] = value
    return data


def _take(take: Take, map_reference: RefMap) -> dict:
    return {
        "id": take.id,
        "name": take.name,
        "audio": _reference(take.audio, map_reference),
        "parameters": _parameter_value(take.parameters),
        "measured_curve": _curve(take.measured_curve),
        "model_id": take.model_id,
        "created": format_utc(take.created),
    }


def _parameter_value(value):
    if isinstance(value, LoudnessCurve):
        return {CURVE_TAG: _curve(value)}
    if isinstance(value, FrozenMapping):
        return {key: _parameter_value(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_parameter_value(item) for item in value]
    return value


# ---- decoding ---------------------------------------------------------------------------------
class _Reader:
    """Typed access to a decoded JSON document; every error names the file and the field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, message: str) -> ProjectError:
        return ProjectError(f"{self.source}: {where}{message}")

    def field(self, data: dict, key: str, where: str):
        if key not in data:
            raise self.error("", f"{where}{key} is missing")
        return data[key]

    def typed(self, data: dict, key: str, where: str, kind: str, optional: bool = False):
        value = self.field(data, key, where)
        if value is None and optional:
            return None
        if not _is_kind(value, kind):
            expected = _KIND_NAMES[kind] + (" or null" if optional else "")
            raise self.error("", f"{where}{key} must be {expected}, got {_json_type(value)} {_short(value)}")
        return value

    def build(self, where: str, factory, *args, **kwargs):
        """Run a model constructor, turning its validation error into a ProjectError."""
        try:
            return factory(*args, **kwargs)
        except UserInputError as error:
            raise self.error(where.rstrip(".") + ": " if where else "", str(error)) from None


_KIND_NAMES = {
    "str": "text",
    "int": "a whole number",
    "number": "a number",
    "bool": "true or false",
    "object": "an object",
    "list": "a list",
}


def _is_kind(value, kind: str) -> bool:
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"str": str, "bool": bool, "object": dict, "list": list}[kind])


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def document_to_project(document: dict, source: str, path: Path | None = None) -> Project:
    """The Project described by a current-schema ``document`` (see ``migrations.migrate``)."""
    read = _Reader(source)
    layers_data = read.typed(document, "layers", "", "list")
    layers = [_read_layer(read, item, f"layers[{index}].") for index, item in enumerate(layers_data)]
    return read.build(
        "",
        Project,
        id=read.typed(document, "id", "", "str"),
        video=_read_reference(read, document, "video", ""),
        frame_rate=_read_frame_rate(read, document),
        video_duration_s=read.typed(document, "video_duration_s", "", "number"),
        export=_read_export(read, read.typed(document, "export", "", "object")),
        layers=layers,
        path=path,
    )


def _read_frame_rate(read: _Reader, document: dict) -> Fraction:
    text = read.typed(document, "frame_rate", "", "str")
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise read.error("", f"frame_rate must be a fraction such as 24000/1001, got {text!r}") from None


def _read_reference(read: _Reader, data: dict, key: str, where: str) -> MediaReference | None:
    value = read.typed(data, key, where, "object", optional=True)
    if value is None:
        return None
    inner = f"{where}{key}."
    return read.build(
        inner,
        MediaReference,
        absolute=read.typed(value, "absolute", inner, "str"),
        relative=read.typed(value, "relative", inner, "str", optional=True),
        size=read.typed(value, "size", inner, "int", optional=True),
        mtime=read.typed(value, "mtime", inner, "number", optional=True),
    )


def _read_curve(read: _Reader, data: dict, key: str, where: str, optional: bool = False) -> LoudnessCurve | None:
    value = read.typed(data, key, where, "object", optional=optional)
    return None if value is None else _curve_from(read, value, f"{where}{key}.")


def _curve_from(read: _Reader, value: dict, where: str) -> LoudnessCurve:
    lists = {}
    for key in ("times", "left", "right"):
        items = read.typed(value, key, where, "list")
        if not all(_is_kind(item, "number") for item in items):
            raise read.error("", f"{where}{key} must be a list of numbers")
        lists[key] = items
    return read.build(where, LoudnessCurve, lists["times"], lists["left"], lists["right"])


def _read_export(read: _Reader, data: dict) -> ExportSettings:
    where = "export."
    return read.build(
        where,
        ExportSettings,
        sample_rate=read.typed(data, "sample_rate", where, "int"),
        bit_depth=read.typed(data, "bit_depth", where, "int"),
        stem_naming=read.typed(data, "stem_naming", where, "str"),
        creator_id=read.typed(data, "creator_id", where, "str"),
        source_id=read.typed(data, "source_id", where, "str"),
        mixdown=read.typed(data, "mixdown", where, "bool"),
        review_video=read.typed(data, "review_video", where, "bool"),
    )


# JSON kind of each plain layer field (the others have their own readers below).
_LAYER_KINDS = {
    "id": "str",
    "name": "str",
    "role": "str",
    "on_screen_prompt": "str",
    "off_screen_prompt": "str",
    "negative_prompt": "str",
    "follow_video": "bool",
    "curves_linked": "bool",
    "video_guidance": "number",
    "text_guidance": "number",
    "audio_guidance": "number",
    "loudness_adherence": "number",
    "reference_likeness": "number",
    "steps": "int",
    "seed": "int",
    "seed_locked": "bool",
    "variations": "int",
    "mute": "bool",
    "solo": "bool",
    "gain_db": "number",
}


def _read_layer(read: _Reader, data, where: str) -> Layer:
    if not isinstance(data, dict):
        raise read.error("", f"{where.rstrip('.')} must be an object, got {_json_type(data)}")
    values = {key: read.typed(data, key, where, kind) for key, kind in _LAYER_KINDS.items()}
    values["role"] = _read_role(read, values["role"], where)
    values["selected_take_id"] = read.typed(data, "selected_take_id", where, "str", optional=True)
    values["reference_audio"] = _read_reference(read, data, "reference_audio", where)
    values["curve"] = _read_curve(read, data, "curve", where)
    takes = read.typed(data, "takes", where, "list")
    values["takes"] = [_read_take(read, item, f"{where}takes[{index}].") for index, item in enumerate(takes)]
    _warn_unknown(read, data, set(LAYER_FIELDS), where)
    return read.build(where, Layer, **values)


def _read_role(read: _Reader, value: str, where: str) -> LayerRole:
    try:
        return LayerRole(value)
    except ValueError:
        allowed = ", ".join(role.value for role in LayerRole)
        raise read.error("", f"{where}role {value!r} is unknown (expected one of: {allowed})") from None


def _read_take(read: _Reader, data, where: str) -> Take:
    if not isinstance(data, dict):
        raise read.error("", f"{where.rstrip('.')} must be an object, got {_json_type(data)}")
    created_text = read.typed(data, "created", where, "str")
    created = read.build(f"{where}created", parse_utc, created_text)
    parameters = _parameters_from(read, read.typed(data, "parameters", where, "object"), f"{where}parameters.")
    return read.build(
        where,
        Take,
        id=read.typed(data, "id", where, "str"),
        name=read.typed(data, "name", where, "str"),
        audio=_read_reference(read, data, "audio", where),
        parameters=parameters,
        measured_curve=_read_curve(read, data, "measured_curve", where, optional=True),
        model_id=read.typed(data, "model_id", where, "str"),
        created=created,
    )


def _parameters_from(read: _Reader, value, where: str):
    if isinstance(value, dict):
        if set(value) == {CURVE_TAG}:
            curve = value[CURVE_TAG]
            if not isinstance(curve, dict):
                raise read.error("", f"{where}{CURVE_TAG} must be an object")
            return _curve_from(read, curve, where)
        return {key: _parameters_from(read, item, f"{where}{key}.") for key, item in value.items()}
    if isinstance(value, list):
        return [_parameters_from(read, item, where) for item in value]
    return value


def _warn_unknown(read: _Reader, data: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        logger.warning("%s: %signoring unknown fields %s", read.source, where, ", ".join(unknown))
