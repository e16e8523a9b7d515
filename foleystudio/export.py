"""Exporting a project: one WAV stem per layer, a mixdown, and a review MP4 (DESIGN §1.7).

Two steps, so the GUI can show and confirm before anything touches the disk:

1. ``plan_export`` lists every file that will be written (``ExportPlan``): names, paths, what
   each holds, the BWF time reference. Pure: it reads the project and, once, the video's metadata.
2. ``write_export`` checks the whole plan first (``check_plan``: take files present, folder
   writable, no existing file unless ``overwrite``), then renders and writes, and returns an
   ``ExportReport`` with the measured loudness of every file.

Design choices:

* **Which layers.** Every layer with a selected take gets a stem, whatever its mute/solo state:
  mute and solo are monitoring states, and a stem delivery hands the re-recording mixer all the
  material. The **mixdown follows mute/solo as heard** (``foleystudio.mix.audible_layers``), so it
  is what the designer was listening to. Stems carry the layer's gain, so the mixdown is exactly
  the sum of the audible stems. Layers without a selected take are listed in ``plan.skipped``.
* **Names.** UCS style (``CatID_FXName_CreatorID_SourceID``; an empty CreatorID is left out,
  SourceID defaults to the project name) or the layer name as is. The default CatID comes from the
  layer's role and a few words of its name (``default_cat_id``): a best-effort starting point, not
  a classification -- every name is editable through ``names`` (layer id, ``MIXDOWN_KEY`` or
  ``REVIEW_KEY`` -> file stem). The mixdown and review video are not library sounds, so they are
  named ``<SourceID>_Mixdown`` / ``<SourceID>_Review`` in both schemes. Every name is sanitised
  for Windows, macOS and Linux (no ``<>:"/\\|?*`` or control characters, no trailing dot or space,
  no reserved device name such as ``CON``) and made unique ignoring case (macOS and Windows file
  systems ignore case), by numbering: ``Steps 2``.
* **Time reference.** The bext time reference of every file is the video's start timecode (the
  container's ``timecode`` tag, read at the project's frame rate) in samples since midnight at the
  export rate; 0 when the video has none. Stems start at the first frame, as on the timeline.
* **Never overwrite silently, never half an export.** Every problem that can be known up front
  (missing take file, missing video, existing file, unwritable folder) is raised before anything
  is written. All files are then written to temporary files in the export folder and only renamed
  onto their names once every one of them is complete (``foleystudio.atomic``), so a failure part
  way (disk full) leaves no new file and replaces no old one.
* **Memory.** One stem and the mixdown accumulator are held at a time (the take is read whole,
  as ``foleystudio.mix`` does); the mixdown is the running sum of the audible stems, not a second
  render.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from pathlib import Path

import numpy as np

from foleystudio.atomic import atomic_output
from foleystudio.audio.loudness import measure
from foleystudio.audio.wav import BextInfo, write_wav
from foleystudio.errors import MediaError, OutputError, UserInputError
from foleystudio.mix import audible_layers, layer_stem
from foleystudio.project.document import Project
from foleystudio.project.layer import Layer, LayerRole
from foleystudio.project.settings import ExportSettings, StemNaming
from foleystudio.project.store import load_project
from foleystudio.video.mux import write_review_mp4
from foleystudio.video.probe import open_container
from foleystudio.video.timecode import timecode_to_seconds

logger = logging.getLogger(__name__)

MIXDOWN_KEY = "mixdown"  # ``names`` key of the mixdown's file stem
REVIEW_KEY = "review"  # ``names`` key of the review video's file stem
ORIGINATOR = "FoleyStudio"
# Keeps full paths well under Windows' 260-character limit in ordinary folders.
MAX_STEM_CHARS = 120
MAX_FX_NAME_CHARS = 64
_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
_SAFE_ID = re.compile(r"[^A-Za-z0-9-]+")

# Default UCS CatIDs: Foley subcategories recognised from words of an on-screen layer's name,
# and a fallback per role. UCS CatIDs are CATEGORY + subcategory, e.g. FOLYFeet.
_FOLEY_WORDS = (
    ("FOLYFeet", ("step", "steps", "footstep", "footsteps", "feet", "foot", "walk", "walking", "run", "running", "shoe", "shoes", "heel", "heels")),
    ("FOLYCloth", ("cloth", "cloths", "clothes", "clothing", "jacket", "coat", "rustle", "fabric", "leather")),
    ("FOLYHand", ("hand", "hands", "grab", "clap", "claps", "touch", "slap")),
)
_ROLE_CAT_IDS = {LayerRole.ON_SCREEN: "FOLYProp", LayerRole.OFF_SCREEN: "DSGNMisc", LayerRole.AMBIENCE: "AMBMisc"}


class ExportKind(Enum):
    STEM = "stem"
    MIXDOWN = "mixdown"
    REVIEW_VIDEO = "review video"


@dataclass(frozen=True)
class ExportItem:
    """One file of an export."""

    kind: ExportKind
    key: str  # layer id, MIXDOWN_KEY or REVIEW_KEY: the key of ``names``
    label: str  # what it holds, for people: the layer name, "Mixdown", "Review video"
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True, eq=False)
class ExportPlan:
    """Every file an export will write, in order: stems (layer order), mixdown, review video."""

    project: Project
    folder: Path
    settings: ExportSettings
    items: tuple[ExportItem, ...]
    time_reference_samples: int
    skipped: tuple[str, ...] = ()  # names of layers without a selected take

    @property
    def stems(self) -> tuple[ExportItem, ...]:
        return tuple(item for item in self.items if item.kind is ExportKind.STEM)

    def item(self, key: str) -> ExportItem:
        for item in self.items:
            if item.key == key:
                return item
        raise KeyError(key)


@dataclass(frozen=True)
class ExportedFile:
    path: Path
    kind: ExportKind
    label: str
    integrated_lufs: float | None  # None: silent (nothing above the gate) or not measured (MP4)
    true_peak_dbtp: float | None  # None: silent or not measured
    duration_s: float
    replaced: bool  # an existing file of that name was overwritten
    clipped_samples: int = 0


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    files: tuple[ExportedFile, ...] = field(default_factory=tuple)

    def file(self, name: str) -> ExportedFile:
        for exported in self.files:
            if exported.path.name == name:
                return exported
        raise KeyError(name)


Progress = Callable[[int, int, ExportItem], None]  # (files done, files in all, the one starting)


# ---- names ---------------------------------------------------------------------------------------


def sanitize_file_stem(text: str, fallback: str = "Untitled") -> str:
    """``text`` as a file name stem every desktop OS accepts (see the module docstring)."""
    text = unicodedata.normalize("NFC", str(text))
    # Tabs and newlines become spaces before other control characters become hyphens. Leading
    # dots hide a file on macOS and Linux; Windows drops trailing dots and spaces.
    text = _FORBIDDEN.sub("-", re.sub(r"\s+", " ", text)).strip(". ")
    text = text[:MAX_STEM_CHARS].strip(". ") or fallback
    if text.split(".")[0].upper() in _WINDOWS_RESERVED:
        text = f"{text}-"
    return text


def _ucs_id(text: str) -> str:
    """An id UCS fields accept: letters, digits and hyphens (underscores separate the fields)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _SAFE_ID.sub("-", folded).strip("-")[:32]


def default_cat_id(layer: Layer) -> str:
    """A starting-point UCS CatID from the layer's role and, for Foley, words of its name."""
    if layer.role is LayerRole.ON_SCREEN:
        words = set(re.findall(r"[a-z]+", layer.name.lower()))
        for cat_id, keys in _FOLEY_WORDS:
            if words & set(keys):
                return cat_id
    return _ROLE_CAT_IDS[layer.role]


def ucs_fx_name(name: str) -> str:
    """A UCS FXName: the words of ``name`` (letters, digits, spaces), no underscores."""
    words = re.findall(r"\w+", unicodedata.normalize("NFC", name).replace("_", " "))
    return " ".join(words)[:MAX_FX_NAME_CHARS].strip() or "Untitled"


def source_id(project: Project, settings: ExportSettings) -> str:
    """The UCS SourceID: the setting, else the project's name as an id."""
    return settings.source_id or _ucs_id(project.name) or "Untitled"


def default_stem_name(layer: Layer, project: Project, settings: ExportSettings) -> str:
    """A layer's stem file name (without .wav) under the project's naming scheme."""
    if settings.stem_naming is StemNaming.LAYER_NAME:
        return layer.name
    fields = [default_cat_id(layer), ucs_fx_name(layer.name), settings.creator_id, source_id(project, settings)]
    return "_".join(part for part in fields if part)


def _numbered(stem: str, number: int, naming: StemNaming, is_stem: bool) -> str:
    """``stem`` with a number that tells it apart; in UCS names the number joins the FXName."""
    if number == 1:
        return stem
    parts = stem.split("_")
    if naming is StemNaming.UCS and is_stem and len(parts) >= 3:
        parts[1] = f"{parts[1]} {number}"
        return "_".join(parts)
    return f"{stem} {number}"


def _unique_name(stem: str, suffix: str, taken: set[str], naming: StemNaming, is_stem: bool) -> str:
    number = 1
    while True:
        name = sanitize_file_stem(_numbered(stem, number, naming, is_stem)) + suffix
        if name.casefold() not in taken:
            taken.add(name.casefold())
            return name
        number += 1


def _requested(names: dict[str, str] | None, key: str, default: str, suffix: str) -> tuple[str, bool]:
    """The user's stem for ``key`` (an extension typed along is dropped), or the default."""
    text = (names or {}).get(key)
    if text is None or not str(text).strip():
        return default, False
    text = str(text).strip()
    if text.lower().endswith(suffix):
        text = text[: -len(suffix)]
    return text, True


# ---- the plan ------------------------------------------------------------------------------------


def plan_export(
    project: Project,
    folder: str | os.PathLike,
    settings: ExportSettings | None = None,
    names: dict[str, str] | None = None,
) -> ExportPlan:
    """Every file exporting ``project`` into ``folder`` writes (see the module docstring).

    ``settings`` default to the project's; ``names`` maps a layer id, ``MIXDOWN_KEY`` or
    ``REVIEW_KEY`` to a file stem the user chose (sanitised and made unique like the defaults).
    """
    if not isinstance(project, Project):
        raise UserInputError(f"export needs a project, got {type(project).__name__}")
    settings = project.export if settings is None else settings
    if not isinstance(settings, ExportSettings):
        raise UserInputError(f"export settings must be ExportSettings, got {type(settings).__name__}")
    folder = Path(folder).expanduser()
    if not str(folder).strip() or str(folder) == ".":
        raise UserInputError("choose a folder to export into")
    taken: set[str] = set()
    items, skipped = [], []
    for layer in project.layers:
        if layer.selected_take is None:
            skipped.append(layer.name)
            continue
        items.append(_item(ExportKind.STEM, layer.id, layer.name, default_stem_name(layer, project, settings),
                           ".wav", folder, names, taken, settings.stem_naming))
    base = source_id(project, settings)
    if settings.mixdown:
        items.append(_item(ExportKind.MIXDOWN, MIXDOWN_KEY, "Mixdown", f"{base}_Mixdown", ".wav",
                           folder, names, taken, settings.stem_naming))
    if settings.review_video and project.video is not None:
        items.append(_item(ExportKind.REVIEW_VIDEO, REVIEW_KEY, "Review video", f"{base}_Review", ".mp4",
                           folder, names, taken, settings.stem_naming))
    reference = round(video_start_timecode_s(project) * settings.sample_rate)
    return ExportPlan(project, folder, settings, tuple(items), reference, tuple(skipped))


def _item(kind, key, label, default, suffix, folder, names, taken, naming) -> ExportItem:
    stem, chosen = _requested(names, key, default, suffix)
    # A name the user typed is theirs: numbered at the end, not inside a UCS field.
    name = _unique_name(stem, suffix, taken, naming, kind is ExportKind.STEM and not chosen)
    return ExportItem(kind, key, label, folder / name)


# ---- the video's start timecode ------------------------------------------------------------------


def video_start_timecode_s(project: Project) -> float:
    """Seconds since midnight of the video's first frame per its timecode tag; 0 without one."""
    if project.video is None:
        return 0.0
    path = project.resolve(project.video)
    if path is None:
        return 0.0
    stat = path.stat()
    return _start_timecode_s(str(path), stat.st_mtime_ns, stat.st_size, project.frame_rate)


@functools.lru_cache(maxsize=16)
def _start_timecode_s(path: str, _mtime_ns: int, _size: int, frame_rate: Fraction) -> float:
    # Cached on the file's identity: the dialog re-plans on every keystroke.
    try:
        with open_container(path) as container:
            tags = [dict(container.metadata)] + [dict(stream.metadata) for stream in container.streams]
    except MediaError as error:
        logger.warning("no start timecode: %s", error)
        return 0.0
    text = next((tag["timecode"] for tag in tags if tag.get("timecode")), None)
    if text is None:
        return 0.0
    try:
        return float(timecode_to_seconds(text, frame_rate))
    except UserInputError as error:
        logger.warning("%s: ignoring its start timecode %r (%s)", Path(path).name, text, error)
        return 0.0


# ---- checks --------------------------------------------------------------------------------------


def missing_sources(plan: ExportPlan) -> list[str]:
    """What the export needs but cannot find, one sentence each (empty when all is there)."""
    problems = []
    for item in plan.stems:
        take = plan.project.layer(item.key).selected_take
        if plan.project.resolve(take.audio) is None:
            problems.append(f"layer {item.label!r}: its take file {take.audio.name} is missing")
    wants_video = any(item.kind is ExportKind.REVIEW_VIDEO for item in plan.items)
    if wants_video and plan.project.resolve(plan.project.video) is None:
        problems.append(f"the video {plan.project.video.name} is missing (needed for the review MP4)")
    return problems


def existing_files(plan: ExportPlan) -> list[Path]:
    """The planned files that already exist (an export would replace them)."""
    return [item.path for item in plan.items if item.path.exists()]


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def _check_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: is a file, not a folder to export into")
    ancestor = _nearest_existing(folder)
    if not ancestor.is_dir():
        raise OutputError(f"{folder}: cannot be created ({ancestor} is a file)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"{ancestor}: folder is not writable (permission denied)")


def check_plan(plan: ExportPlan, overwrite: bool = False) -> list[Path]:
    """Raise the first reason the export cannot be written as planned; return the files it replaces.

    UserInputError when nothing is to be exported or a source (take file, video) is missing,
    OutputError when the folder cannot be written or files exist and ``overwrite`` is False.
    """
    if not plan.stems:
        raise UserInputError("nothing to export: no layer has a selected take")
    problems = missing_sources(plan)
    if problems:
        raise UserInputError("cannot export: " + "; ".join(problems))
    _check_folder(plan.folder)
    existing = existing_files(plan)
    if any(path.is_dir() for path in existing):
        raise OutputError(f"{next(p for p in existing if p.is_dir())}: is a folder, not a file name")
    if existing and not overwrite:
        listed = ", ".join(path.name for path in existing)
        raise OutputError(f"{plan.folder}: already holds {listed} (FoleyStudio does not overwrite files unless asked)")
    return existing


def _prepare_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputError(f"{folder}: cannot write here ({error.strerror or error})") from None


# ---- writing -------------------------------------------------------------------------------------


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _as_written(audio: np.ndarray, settings: ExportSettings) -> np.ndarray:
    """The samples a file holds: integer formats clip to full scale, float keeps everything."""
    if settings.is_float:
        return audio
    return np.clip(audio, -1.0, 1.0 - 2.0 ** -(settings.bit_depth - 1))


def _bext(plan: ExportPlan, item: ExportItem, report) -> BextInfo:
    description = f"{item.label} - {plan.project.name} (FoleyStudio {item.kind.value})"[:256]
    return BextInfo(
        description=description,
        originator=ORIGINATOR,
        time_reference_samples=plan.time_reference_samples,
        integrated_lufs=_finite(report.integrated_lufs),
        loudness_range_lu=_finite(report.loudness_range_lu),
        max_true_peak_dbtp=_finite(report.true_peak_dbtp),
        max_momentary_lufs=_finite(report.max_momentary_lufs),
        max_short_term_lufs=_finite(report.max_short_term_lufs),
    )


def _write_wav_item(plan: ExportPlan, item: ExportItem, audio: np.ndarray, temporary: Path, replaced: bool) -> ExportedFile:
    rate = plan.settings.sample_rate
    report = measure(_as_written(audio, plan.settings), rate)
    written = write_wav(temporary, audio, rate, bit_depth=plan.settings.bit_depth,
                        bext=_bext(plan, item, report), overwrite=True)
    return ExportedFile(item.path, item.kind, item.label, _finite(report.integrated_lufs),
                        _finite(report.true_peak_dbtp), audio.shape[1] / rate, replaced, written.clipped_samples)


def write_export(plan: ExportPlan, overwrite: bool = False, progress: Progress | None = None) -> ExportReport:
    """Write every file of ``plan`` (all or none; see the module docstring) and report on each.

    Raises as ``check_plan`` before writing anything; OutputError if writing fails part way (then
    no file of the plan is created or replaced).
    """
    replaced = set(check_plan(plan, overwrite))
    _prepare_folder(plan.folder)
    project, settings = plan.project, plan.settings
    rate = settings.sample_rate
    frames = max(1, round(project.video_duration_s * rate))
    audible = {layer.id for layer in audible_layers(project)}
    mix = np.zeros((2, frames), dtype=np.float32)
    files: list[ExportedFile] = []
    total = len(plan.items)
    with contextlib.ExitStack() as publish:  # leaving it renames every finished file into place
        for index, item in enumerate(plan.items):
            if progress is not None:
                progress(index, total, item)
            temporary = publish.enter_context(atomic_output(item.path, overwrite))
            if item.kind is ExportKind.STEM:
                layer = project.layer(item.key)
                stem = layer_stem(project, layer, rate, frames)
                if stem is None:  # the take file vanished since check_plan
                    raise UserInputError(f"cannot export: layer {layer.name!r}: its take file is missing")
                if layer.id in audible:
                    mix += stem
                files.append(_write_wav_item(plan, item, stem, temporary, item.path in replaced))
                del stem
            elif item.kind is ExportKind.MIXDOWN:
                files.append(_write_wav_item(plan, item, mix, temporary, item.path in replaced))
            else:
                write_review_mp4(project.resolve(project.video), mix, rate, temporary, overwrite=True)
                files.append(ExportedFile(item.path, item.kind, item.label, None, None,
                                          project.video_duration_s, item.path in replaced))
    if progress is not None:
        progress(total, total, plan.items[-1])
    logger.info("exported %d files to %s", len(files), plan.folder)
    return ExportReport(plan.folder, tuple(files))


def export_project(
    project: Project | str | os.PathLike,
    folder: str | os.PathLike,
    settings: ExportSettings | None = None,
    names: dict[str, str] | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Plan and write an export in one call (CLI, headless demo); ``project`` may be a file path."""
    if not isinstance(project, Project):
        project = load_project(project)
    return write_export(plan_export(project, folder, settings, names), overwrite, progress)
