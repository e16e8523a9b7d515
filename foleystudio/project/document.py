"""The project document: the video it is for, its export settings and its ordered layers.

``Project`` is the single source of truth the views observe. Its own fields change through
``update`` (emits ``changed``), its layer list through ``add_layer`` / ``remove_layer`` /
``move_layer`` / ``duplicate_layer`` (each emits one precise event). Every mutation, of the project
or of any of its layers, also emits ``edited`` (with the specific payload) and sets ``dirty``;
``dirty_changed`` fires when the flag flips, ``saved`` when the store has written the file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

from foleystudio.errors import UserInputError
from foleystudio.project import checks
from foleystudio.project.events import Event, FieldChange, FieldsChanged, LayerAdded, LayerMoved, LayerRemoved
from foleystudio.project.layer import Layer, LayerRole
from foleystudio.project.media import MediaReference, MissingMedia, find_candidates
from foleystudio.project.paths import takes_folder_for, unsaved_takes_folder
from foleystudio.project.settings import ExportSettings

logger = logging.getLogger(__name__)

DEFAULT_FRAME_RATE = Fraction(24)
DEFAULT_DURATION_S = 10.0  # before a video is opened, new layers' curves cover this long
MAX_FRAME_RATE = 1000
MAX_DURATION_S = 24 * 3600.0
UNTITLED = "Untitled"
_LAYER_EVENTS = ("changed", "take_added", "take_removed", "take_replaced")
_PROJECT_EVENTS = ("changed", "layer_added", "layer_removed", "layer_moved", "edited", "dirty_changed", "saved")


def check_frame_rate(value) -> Fraction:
    # A float cannot say 24000/1001 exactly, and frame-accurate sync needs it exact.
    if isinstance(value, bool) or not isinstance(value, (int, Fraction)):
        raise UserInputError(f"frame rate must be an exact fraction such as 24000/1001, got {value!r}")
    rate = Fraction(value)
    if not 0 < rate <= MAX_FRAME_RATE:
        raise UserInputError(f"frame rate must be above 0 and at most {MAX_FRAME_RATE} frames/s, got {rate}")
    return rate


def _check_duration(value) -> float:
    duration = checks.check_number(value, "video duration (s)", 0.0, MAX_DURATION_S)
    if duration == 0:
        raise UserInputError("video duration (s) must be above 0")
    return duration


_CHECKS = {
    "video": lambda v: checks.check_instance(v, "video", MediaReference, optional=True),
    "frame_rate": check_frame_rate,
    "video_duration_s": _check_duration,
    "export": lambda v: checks.check_instance(v, "export settings", ExportSettings),
}


@dataclass(kw_only=True)
class Project:
    """A FoleyStudio project: one video, its layers and how they are exported."""

    id: str = field(default_factory=checks.new_id)
    video: MediaReference | None = None
    frame_rate: Fraction = DEFAULT_FRAME_RATE
    video_duration_s: float = DEFAULT_DURATION_S
    export: ExportSettings = field(default_factory=ExportSettings)
    layers: tuple[Layer, ...] = ()
    # Where the document was last saved or loaded from; not part of its content.
    path: Path | None = field(default=None, compare=False)

    changed: Event = field(init=False, repr=False, compare=False)
    layer_added: Event = field(init=False, repr=False, compare=False)
    layer_removed: Event = field(init=False, repr=False, compare=False)
    layer_moved: Event = field(init=False, repr=False, compare=False)
    edited: Event = field(init=False, repr=False, compare=False)
    dirty_changed: Event = field(init=False, repr=False, compare=False)
    saved: Event = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        checks.check_id(self.id, "project id")
        for name, check in _CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name)))
        layers = tuple(self.layers)
        _check_layers(layers)
        object.__setattr__(self, "layers", layers)
        object.__setattr__(self, "path", None if self.path is None else Path(self.path))
        self._dirty = False
        for name in _PROJECT_EVENTS:
            object.__setattr__(self, name, Event(f"project.{name}"))
        for layer in self.layers:
            self._watch(layer)
        self._sealed = True

    def __setattr__(self, name: str, value) -> None:
        if getattr(self, "_sealed", False) and not name.startswith("_"):
            raise AttributeError(f"project {name} changes through Project methods, which validate and notify")
        object.__setattr__(self, name, value)

    # ---- identity and state --------------------------------------------------------------------
    @property
    def name(self) -> str:
        return UNTITLED if self.path is None else self.path.stem

    @property
    def folder(self) -> Path | None:
        """The folder that relative media paths start from (None until first saved)."""
        return None if self.path is None else self.path.parent

    def takes_folder(self) -> Path:
        """Where new take audio goes: ``<stem> Takes/`` beside the file, or a per-user working
        folder until the project is first saved (the save then copies those takes in)."""
        if self.path is None:
            return unsaved_takes_folder(self.id)
        return takes_folder_for(self.path)

    @property
    def dirty(self) -> bool:
        """Whether the document has changes that are not saved."""
        return self._dirty

    def mark_dirty(self) -> None:
        self._set_dirty(True)

    def mark_saved(self, path: Path) -> None:
        """Called by the store once the file at ``path`` holds this document."""
        object.__setattr__(self, "path", Path(path))
        self._set_dirty(False)
        self.saved.emit(self.path)

    def _set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    def _edited(self, payload) -> None:
        self._set_dirty(True)
        self.edited.emit(payload)

    # ---- project fields ------------------------------------------------------------------------
    def update(self, **values) -> tuple[FieldChange, ...]:
        """Set video, frame_rate, video_duration_s or export; returns and emits what changed."""
        clean = {}
        for name, value in values.items():
            if name not in _CHECKS:
                raise UserInputError(f"project has no field named {name!r} that update() can set")
            clean[name] = _CHECKS[name](value)
        changes = tuple(
            FieldChange(name, getattr(self, name), value)
            for name, value in clean.items()
            if not (type(getattr(self, name)) is type(value) and getattr(self, name) == value)
        )
        for change in changes:
            object.__setattr__(self, change.name, change.new)
        if changes:
            payload = FieldsChanged(self, changes)
            self.changed.emit(payload)
            self._edited(payload)
        return changes

    # ---- layers --------------------------------------------------------------------------------
    def layer(self, layer_id: str) -> Layer:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        raise UserInputError(f"the project has no layer with id {layer_id!r}")

    def layer_index(self, layer_id: str) -> int:
        return self.layers.index(self.layer(layer_id))

    def new_layer(self, name: str, role: LayerRole | str = LayerRole.ON_SCREEN, **fields) -> Layer:
        """Create a layer with the defaults for this video's duration, and add it at the end."""
        return self.add_layer(Layer.new(name, role, self.video_duration_s, **fields))

    def add_layer(self, layer: Layer, index: int | None = None) -> Layer:
        checks.check_instance(layer, "layer", Layer)
        _check_layers((*self.layers, layer))
        index = len(self.layers) if index is None else _insert_index(index, len(self.layers))
        self._set_layers((*self.layers[:index], layer, *self.layers[index:]))
        self._watch(layer)
        self._emit(self.layer_added, LayerAdded(layer, index))
        return layer

    def remove_layer(self, layer_id: str) -> tuple[Layer, int]:
        """Remove a layer; returns it and its index, so ``add_layer(layer, index)`` undoes it."""
        index = self.layer_index(layer_id)
        layer = self.layers[index]
        self._set_layers(self.layers[:index] + self.layers[index + 1 :])
        self._unwatch(layer)
        self._emit(self.layer_removed, LayerRemoved(layer, index))
        return layer, index

    def move_layer(self, layer_id: str, new_index: int) -> None:
        old_index = self.layer_index(layer_id)
        new_index = _insert_index(new_index, len(self.layers) - 1)
        if new_index == old_index:
            return
        layer = self.layers[old_index]
        others = self.layers[:old_index] + self.layers[old_index + 1 :]
        self._set_layers((*others[:new_index], layer, *others[new_index:]))
        self._emit(self.layer_moved, LayerMoved(layer, old_index, new_index))

    def duplicate_layer(self, layer_id: str) -> Layer:
        """Add a copy (new id, name "<name> copy", same takes) right after the original."""
        original = self.layer(layer_id)
        copy = original.copy(self._copy_name(original.name))
        return self.add_layer(copy, self.layer_index(layer_id) + 1)

    def _copy_name(self, name: str) -> str:
        taken = {layer.name for layer in self.layers}
        candidate, number = f"{name} copy", 2
        while candidate in taken:
            candidate, number = f"{name} copy {number}", number + 1
        return candidate

    def _set_layers(self, layers: tuple[Layer, ...]) -> None:
        object.__setattr__(self, "layers", layers)

    def _emit(self, event: Event, payload) -> None:
        event.emit(payload)
        self._edited(payload)

    def _watch(self, layer: Layer) -> None:
        for name in _LAYER_EVENTS:
            getattr(layer, name).connect(self._edited)

    def _unwatch(self, layer: Layer) -> None:
        for name in _LAYER_EVENTS:
            getattr(layer, name).disconnect(self._edited)

    # ---- media ---------------------------------------------------------------------------------
    def media_uses(self) -> list[MissingMedia]:
        """Every place that refers to a file: the video, reference sounds, take audio."""
        uses = [] if self.video is None else [MissingMedia("video", self.video)]
        for layer in self.layers:
            if layer.reference_audio is not None:
                uses.append(MissingMedia("reference audio", layer.reference_audio, layer.id))
            uses.extend(MissingMedia("take", take.audio, layer.id, take.id) for take in layer.takes)
        return uses

    def missing_media(self) -> list[MissingMedia]:
        """The uses whose file is not where the project says (relative, then absolute path)."""
        return [use for use in self.media_uses() if use.reference.resolve(self.folder) is None]

    def find_missing_media(self, search_folder: str | Path) -> dict[MediaReference, Path]:
        """Proposals for missing files found under ``search_folder``; apply each with ``relink``."""
        missing = {use.reference for use in self.missing_media()}
        return find_candidates(sorted(missing, key=lambda ref: ref.absolute), search_folder)

    def resolve(self, reference: MediaReference) -> Path | None:
        """Where the referenced file is now, or None when it is missing."""
        return reference.resolve(self.folder)

    def reference_to(self, path: str | Path) -> MediaReference:
        """A reference to an existing file, relative to this project's folder."""
        return MediaReference.for_file(path, self.folder)

    def relink(self, reference: MediaReference, new_path: str | Path) -> int:
        """Point every use of ``reference`` at ``new_path`` (an edit: events, dirty); returns the count."""
        new = self.reference_to(new_path)
        count = 0
        if self.video == reference:
            self.update(video=new)
            count += 1
        for layer in self.layers:
            if layer.reference_audio == reference:
                layer.update(reference_audio=new)
                count += 1
            for take in layer.takes:
                if take.audio == reference:
                    layer.replace_take(replace(take, audio=new))
                    count += 1
        if count == 0:
            raise UserInputError(f"{reference.name}: the project does not use this file")
        logger.info("relinked %s to %s (%d uses)", reference.absolute, new.absolute, count)
        return count

    def replace_references_quietly(self, mapping: dict[MediaReference, MediaReference]) -> None:
        """Swap references for equivalent ones (same files, re-expressed for a new project folder).

        Used by the store after saving; not an edit, so no events and the dirty flag is untouched.
        """
        if self.video in mapping:
            object.__setattr__(self, "video", mapping[self.video])
        for layer in self.layers:
            if layer.reference_audio in mapping:
                object.__setattr__(layer, "reference_audio", mapping[layer.reference_audio])
            takes = tuple(
                replace(take, audio=mapping[take.audio]) if take.audio in mapping else take for take in layer.takes
            )
            object.__setattr__(layer, "takes", takes)


def _insert_index(index, high: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= high:
        raise UserInputError(f"layer position must be a whole number between 0 and {high}, got {index!r}")
    return index


def _check_layers(layers: tuple[Layer, ...]) -> None:
    seen = set()
    for layer in layers:
        checks.check_instance(layer, "layer", Layer)
        if layer.id in seen:
            raise UserInputError(f"two layers have the id {layer.id!r}")
        seen.add(layer.id)
