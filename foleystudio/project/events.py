"""Plain-Python change notifications for the project document.

Views never keep their own copy of the document (DESIGN §4.2): they connect to these events and
redraw from the model. The model emits one precise event per mutation, after the mutation is
complete, and nothing when a mutation changes nothing.

A listener that raises does not stop the others and does not undo the mutation: the exception is
logged (with its traceback) and the remaining listeners still run. The document must stay usable
when one view has a bug; the mutation already happened, so re-raising to the caller would only
leave the caller (e.g. an undo command) believing it failed.

Events are emitted on the thread that mutates the document; the document is not thread-safe, so
mutate it from one thread (the UI thread) only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Listener = Callable[[Any], object]


class Event:
    """A list of listeners called with one payload object, in the order they connected."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener] = []

    def connect(self, listener: Listener) -> Listener:
        """Call ``listener(payload)`` on every emit; returns it so this works as a decorator."""
        if not callable(listener):
            raise TypeError(f"event {self.name}: listener must be callable, got {listener!r}")
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def disconnect(self, listener: Listener) -> bool:
        """Stop calling ``listener``; returns whether it was connected."""
        try:
            self._listeners.remove(listener)
        except ValueError:
            return False
        return True

    def emit(self, payload: Any = None) -> None:
        # A snapshot, so listeners may connect or disconnect while being notified.
        for listener in tuple(self._listeners):
            try:
                listener(payload)
            except Exception:
                logger.exception("listener %r of event %s failed", listener, self.name)

    def __len__(self) -> int:
        return len(self._listeners)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self._listeners)} listeners)"


# ---- payloads -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FieldChange:
    """One field of a layer or of the project changed from ``old`` to ``new`` (undo: set ``old``)."""

    name: str
    old: Any
    new: Any


@dataclass(frozen=True)
class FieldsChanged:
    """``source`` (a Layer or the Project) had the listed fields changed by one ``update``."""

    source: Any
    changes: tuple[FieldChange, ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(change.name for change in self.changes)


@dataclass(frozen=True)
class LayerAdded:
    layer: Any
    index: int


@dataclass(frozen=True)
class LayerRemoved:
    layer: Any
    index: int


@dataclass(frozen=True)
class LayerMoved:
    layer: Any
    old_index: int
    new_index: int


@dataclass(frozen=True)
class TakeAdded:
    layer: Any
    take: Any
    index: int


@dataclass(frozen=True)
class TakeRemoved:
    layer: Any
    take: Any
    index: int


@dataclass(frozen=True)
class TakeReplaced:
    """A take was swapped for another with the same id (e.g. its audio file was relinked)."""

    layer: Any
    old: Any
    new: Any
    index: int
