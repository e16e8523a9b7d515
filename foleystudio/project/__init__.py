"""The project document: Project, Layer, Take; JSON with schema migrations. Never imports Qt.

The names below are the package's public API; the submodules hold the details.
"""

from foleystudio.project.autosave import (
    Recovery,
    autosave,
    discard_recovery,
    find_recovery,
    list_recoveries,
    restore_recovery,
)
from foleystudio.project.document import Project
from foleystudio.project.events import (
    Event,
    FieldChange,
    FieldsChanged,
    LayerAdded,
    LayerMoved,
    LayerRemoved,
    TakeAdded,
    TakeRemoved,
    TakeReplaced,
)
from foleystudio.project.layer import Layer, LayerRole, default_curve
from foleystudio.project.media import MediaReference, MissingMedia
from foleystudio.project.migrations import SCHEMA_VERSION
from foleystudio.project.paths import PROJECT_SUFFIX, TAKES_FOLDER_SUFFIX
from foleystudio.project.settings import ExportSettings, StemNaming
from foleystudio.project.store import load_project, save_project
from foleystudio.project.take import FrozenMapping, Take

__all__ = [
    "PROJECT_SUFFIX",
    "SCHEMA_VERSION",
    "TAKES_FOLDER_SUFFIX",
    "Event",
    "ExportSettings",
    "FieldChange",
    "FieldsChanged",
    "FrozenMapping",
    "Layer",
    "LayerAdded",
    "LayerMoved",
    "LayerRemoved",
    "LayerRole",
    "MediaReference",
    "MissingMedia",
    "Project",
    "Recovery",
    "StemNaming",
    "Take",
    "TakeAdded",
    "TakeRemoved",
    "TakeReplaced",
    "autosave",
    "default_curve",
    "discard_recovery",
    "find_recovery",
    "list_recoveries",
    "load_project",
    "restore_recovery",
    "save_project",
]
