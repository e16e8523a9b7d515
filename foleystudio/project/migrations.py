"""Schema versions of the project file and the functions that upgrade old documents.

Each migration upgrades a decoded JSON document from version n to n + 1; on load they run in order
until the document is at ``SCHEMA_VERSION``. A migration is registered with ``@migration(n)``
when the schema changes. A document from a newer
schema is refused with a message telling the user to update FoleyStudio.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable

from foleystudio.errors import ProjectError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2

Migration = Callable[[dict], dict]
# from_version -> function upgrading a document from from_version to from_version + 1.
MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register ``fn(document) -> document`` upgrading ``from_version`` to ``from_version + 1``."""

    def register(function: Migration) -> Migration:
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from schema {from_version} is already registered")
        MIGRATIONS[from_version] = function
        return function

    return register


def schema_version_of(document: dict, source: str) -> int:
    if "schema_version" not in document:
        raise ProjectError(f"{source}: not a FoleyStudio project (it has no schema_version)")
    version = document["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProjectError(f"{source}: schema_version must be a whole number, got {version!r}")
    return version


def migrate(document: dict, source: str) -> dict:
    """``document`` upgraded to ``SCHEMA_VERSION`` (a new dict; the argument is left alone)."""
    version = schema_version_of(document, source)
    if version > SCHEMA_VERSION:
        raise ProjectError(
            f"{source}: made by a newer FoleyStudio (schema {version}, this version reads up to "
            f"{SCHEMA_VERSION}); update FoleyStudio to open it"
        )
    document = copy.deepcopy(document)
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise ProjectError(f"{source}: schema {version} is too old for this FoleyStudio to read")
        try:
            document = step(document)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ProjectError(
                f"{source}: cannot upgrade from schema {version} to {version + 1} ({type(error).__name__}: {error})"
            ) from None
        if not isinstance(document, dict):
            raise ProjectError(f"{source}: upgrading from schema {version} did not give a document")
        version += 1
        document["schema_version"] = version
        logger.info("%s: upgraded to schema %d", source, version)
    return document


@migration(1)
def _layers_gain_reference_likeness(document: dict) -> dict:
    """Schema 2 gives every layer a reference likeness; a layer from before keeps its behaviour (0:
    the reference sound is a prompt only)."""
    for layer in document.get("layers", []):
        layer.setdefault("reference_likeness", 0.0)
    return document
