"""Indexing a sound library: one record per clip (caption, audio facts, licence, split).

Design:

- Scan, then probe. The scan walks the folder tree with ``os.scandir`` (hidden files and folders
  skipped, entries sorted so the index is the same on every machine) and keeps only a small
  ``ScannedFile`` per audio file; the total is then known for ``progress(done, total)``.
- Probing reads the header only: soundfile (libsndfile: WAV/BWF/RF64, FLAC, OGG, AIFF, MP3) and,
  where it fails, PyAV (M4A, Opus in odd containers, damaged MP3 headers). The same open gives the
  embedded tags that captions.py needs, so each changed file is opened once (plus a look at the
  ``bext``/``iXML`` chunks of WAVs).
- Incremental: a clip of the previous ``clips.jsonl`` whose (size, mtime) is unchanged is reused
  without opening it, unless a sidecar of it changed since that index was made (its mtime is newer
  than the index) or the sidecar it was captioned from is gone.
- Resumable: newly probed records are appended to ``clips.jsonl.partial`` and flushed every
  ``FLUSH_EVERY`` clips and when the run stops for any reason (an error, Ctrl-C); the next run
  reuses them like records of a finished index. The final ``clips.jsonl`` and ``index.json`` are
  written atomically (foleystudio.atomic), then the partial file is deleted.
- Tolerant: a file that cannot be probed (broken, empty, not audio, a name that is not UTF-8) is
  listed in ``index.json["unreadable"]`` with the reason and left out of the clips.
- Split by source, never by clip: every clip of one source (sidecar ``source``, else the top folder
  of the library, else the UCS SourceID, else the file name without its numbers) lands on the same
  side, so near-duplicates from one recording session cannot leak from training into validation.
  A source goes to validation when a seeded hash of its name falls below ``val_fraction``; with two
  or more sources at least one goes to each side.

The format is the shared contract in notes/training_contract.md (schema 1).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path, PurePosixPath

from foleystudio.atomic import atomic_output
from foleystudio.errors import MediaError, UserInputError
from foleystudio.training.captions import SIDECAR_SUFFIXES, derive_caption, sidecar_names, ucs_caption

logger = logging.getLogger(__name__)

SCHEMA = 1
# .wv (WavPack) and .voc (Creative Voice) are in the open corpus; FFmpeg (PyAV) reads both.
AUDIO_SUFFIXES = frozenset({".wav", ".wave", ".bwf", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
                            ".m4a", ".wv", ".voc"})
CLIPS_FILE = "clips.jsonl"
INDEX_FILE = "index.json"
PARTIAL_FILE = "clips.jsonl.partial"
FLUSH_EVERY = 200
SPLITS = ("train", "val")

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Clip:
    """One indexed clip (fields and meaning as in the training contract)."""

    id: str
    path: str  # POSIX, relative to the library root
    caption: str
    caption_source: str
    category: str
    duration_s: float
    channels: int
    sample_rate: int
    licence: str
    credit: str
    source: str
    split: str
    size: int
    mtime: float

    def absolute(self, root: str | os.PathLike) -> Path:
        return Path(root).joinpath(*PurePosixPath(self.path).parts)

    @classmethod
    def from_json(cls, data: dict) -> Clip:
        return cls(**{field.name: data[field.name] for field in fields(cls)})


@dataclass(frozen=True)
class Index:
    library_root: Path
    clips: list[Clip]
    unreadable: list[tuple[str, str]]

    def split(self, name: str) -> list[Clip]:
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return [clip for clip in self.clips if clip.split == name]


@dataclass(frozen=True)
class IndexReport:
    index_dir: Path
    clips: int
    sources: int
    unreadable: list[tuple[str, str]]
    probed: int  # files opened this run (the rest were reused from an earlier run)
    reused: int
    caption_sources: dict[str, int]
    splits: dict[str, int]

    def summary(self) -> str:
        captions = ", ".join(f"{name} {count}" for name, count in sorted(self.caption_sources.items()))
        return (
            f"{self.clips} clips from {self.sources} sources ({self.splits.get('train', 0)} train, "
            f"{self.splits.get('val', 0)} val), {len(self.unreadable)} unreadable; "
            f"captions: {captions or 'none'}; {self.probed} probed, {self.reused} unchanged"
        )


@dataclass(frozen=True)
class AudioFacts:
    duration_s: float
    channels: int
    sample_rate: int
    tags: dict[str, str]


@dataclass(frozen=True)
class ScannedFile:
    relative: str  # POSIX path inside the library
    size: int
    mtime: float
    sidecars: tuple[str, ...]  # names of sidecar files beside it
    sidecar_mtime: float  # newest sidecar's mtime (0 without sidecars)
    bad_name: bool = False  # not valid UTF-8: cannot be written to the index


# --- scanning ---------------------------------------------------------------------------------


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def scan_library(root: Path) -> Iterator[ScannedFile]:
    """Every audio file under ``root`` in sorted order (hidden entries and symlink loops skipped)."""
    stack = [(root, "")]
    visited: set[tuple[int, int]] = set()
    while stack:
        folder, prefix = stack.pop()
        try:
            stat = folder.stat()
            if (stat.st_dev, stat.st_ino) in visited:
                continue
            visited.add((stat.st_dev, stat.st_ino))
            with os.scandir(folder) as scanner:
                entries = sorted((entry for entry in scanner if not entry.name.startswith(".")), key=lambda e: e.name)
        except OSError as error:
            logger.warning("%s: folder cannot be read (%s), skipped", folder, error.strerror or error)
            continue
        files: dict[str, os.DirEntry] = {}
        subfolders = []
        for entry in entries:
            try:
                if entry.is_dir():
                    subfolders.append(entry)
                elif entry.is_file():
                    files[entry.name] = entry
            except OSError:
                continue
        yield from _audio_files(files, prefix)
        for entry in reversed(subfolders):  # a stack: reversed so folders come out in sorted order
            stack.append((Path(entry.path), f"{prefix}{entry.name}/"))


def _audio_files(files: dict[str, os.DirEntry], prefix: str) -> Iterator[ScannedFile]:
    for name, entry in files.items():
        if os.path.splitext(name)[1].lower() not in AUDIO_SUFFIXES:
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        sidecars = tuple(n for n in sidecar_names(name) if n in files)
        sidecar_mtime = 0.0
        for sidecar in sidecars:
            try:
                sidecar_mtime = max(sidecar_mtime, files[sidecar].stat().st_mtime)
            except OSError:
                pass
        relative = prefix + name
        yield ScannedFile(relative, stat.st_size, stat.st_mtime, sidecars, sidecar_mtime, not _utf8(relative))


# --- probing ----------------------------------------------------------------------------------


def _first_line(error: BaseException) -> str:
    """The error's first line, without FFmpeg's errno and the file name (the index lists it)."""
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    line = re.sub(r"\[Errno -?\d+\] ", "", line)
    return re.sub(r": '[^']*'$", "", line)


def _probe_soundfile(path: Path) -> AudioFacts:
    import soundfile as sf

    with sf.SoundFile(str(path)) as file:
        frames, rate, channels = file.frames, file.samplerate, file.channels
        tags = {key.lower(): value for key, value in file.copy_metadata().items() if value}
    if rate <= 0 or channels <= 0:
        raise MediaError(f"{path.name}: no audio format")
    return AudioFacts(frames / rate, channels, rate, tags)


def _probe_pyav(path: Path) -> AudioFacts:
    import av

    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise MediaError(f"{path.name}: no audio stream")
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        else:
            duration = 0.0
        tags = {str(k).lower(): str(v) for k, v in {**container.metadata, **stream.metadata}.items() if v}
        return AudioFacts(duration, stream.codec_context.channels, stream.codec_context.sample_rate, tags)


def probe_audio(path: Path) -> AudioFacts:
    """Duration, channels, rate and tags of an audio file; MediaError (or any error) if unreadable."""
    if path.stat().st_size == 0:
        raise MediaError("empty file (0 bytes)")
    try:
        facts = _probe_soundfile(path)
    except Exception as first:  # noqa: BLE001 - libsndfile does not know every format: try FFmpeg
        logger.debug("%s: soundfile cannot read it (%s); trying PyAV", path, first)
        try:
            facts = _probe_pyav(path)
        except Exception as second:  # noqa: BLE001 - any failure means "unreadable", listed with why
            raise MediaError(f"not readable audio ({_first_line(second)})") from second
    if facts.duration_s <= 0 or facts.sample_rate <= 0:
        raise MediaError("no audio samples")
    return facts


# --- sources and splits -----------------------------------------------------------------------


def source_of(relative: str, sidecar_source: str = "") -> str:
    """What groups near-duplicates: the sidecar's source, else the top folder, else the UCS
    SourceID, else the file name without digits (door_01 and door_02 are one source)."""
    if sidecar_source:
        return sidecar_source
    parts = PurePosixPath(relative).parts
    if len(parts) > 1:
        return parts[0]
    stem = PurePosixPath(relative).stem
    ucs = ucs_caption(stem)
    if ucs and ucs[2]:
        return ucs[2]
    return re.sub(r"[\d\W_]+", " ", stem).strip().lower() or stem


def _hash_fraction(source: str, seed: int) -> float:
    digest = hashlib.sha1(f"{seed}\x00{source}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(sources, val_fraction: float, seed: int = 0) -> dict[str, str]:
    """source -> "train"/"val", deterministic for a seed; see the module docstring."""
    if not 0.0 <= val_fraction < 1.0:
        raise UserInputError(f"the validation fraction must be at least 0 and below 1, got {val_fraction}")
    draws = {source: _hash_fraction(source, seed) for source in set(sources)}
    splits = {source: "val" if draw < val_fraction else "train" for source, draw in draws.items()}
    if len(draws) >= 2 and val_fraction > 0:
        ordered = sorted(draws, key=lambda source: (draws[source], source))
        if "val" not in splits.values():
            splits[ordered[0]] = "val"
        if "train" not in splits.values():
            splits[ordered[-1]] = "train"
    return splits


# --- previous runs ----------------------------------------------------------------------------


@dataclass
class _Known:
    """Records from the previous index and from an interrupted run, by relative path."""

    records: dict[str, dict]
    valid_since: dict[str, float]  # when each record's sidecar check was true (its run's start)


def _read_jsonl(path: Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as file:
        for line in file:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if isinstance(record, dict):
                yield record


def _load_known(index_dir: Path, library_root: Path) -> tuple[_Known, float | None]:
    """Records that may be reused, and the start time of an interrupted run (None if none)."""
    known = _Known({}, {})
    meta_path = index_dir / INDEX_FILE
    clips_path = index_dir / CLIPS_FILE
    if meta_path.is_file() and clips_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("library_root") == str(library_root) and meta.get("schema") == SCHEMA:
                made = float(meta.get("created_epoch", 0.0))
                for record in _read_jsonl(clips_path):
                    known.records[record["path"]] = record
                    known.valid_since[record["path"]] = made
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("%s: previous index unreadable (%s); indexing everything", index_dir, error)
    partial_started = None
    partial_path = index_dir / PARTIAL_FILE
    if partial_path.is_file():
        for record in _read_jsonl(partial_path):
            if "partial" in record:
                same_root = record.get("library_root") == str(library_root)
                partial_started = float(record.get("started", 0.0)) if same_root else None
                if not same_root:
                    break
            elif partial_started is not None and "path" in record:
                known.records[record["path"]] = record
                known.valid_since[record["path"]] = partial_started
    return known, partial_started


def _reusable(known: _Known, scanned: ScannedFile) -> dict | None:
    record = known.records.get(scanned.relative)
    if record is None or record.get("size") != scanned.size or record.get("mtime") != scanned.mtime:
        return None
    if scanned.sidecar_mtime >= known.valid_since.get(scanned.relative, 0.0):
        return None  # a sidecar changed after the record was made
    if record.get("caption_source") == "sidecar" and not scanned.sidecars:
        return None  # the sidecar it was captioned from is gone
    return record


# --- indexing ---------------------------------------------------------------------------------


def _new_record(root: Path, scanned: ScannedFile) -> dict:
    """A clip record without its split, or {"path", "unreadable": reason, ...}; never raises."""
    base = {"path": scanned.relative, "size": scanned.size, "mtime": scanned.mtime}
    if scanned.bad_name:
        return {**base, "path": _printable(scanned.relative), "unreadable": "file name is not valid UTF-8"}
    path = root.joinpath(*PurePosixPath(scanned.relative).parts)
    try:
        facts = probe_audio(path)
        text = derive_caption(path, scanned.relative, tags=facts.tags, sidecars=[path.with_name(n) for n in scanned.sidecars])
    except Exception as error:  # noqa: BLE001 - one bad file must not stop a library of thousands
        logger.info("%s: skipped (%s)", scanned.relative, error)
        return {**base, "unreadable": _first_line(error)}
    return {
        "id": hashlib.sha1(scanned.relative.encode("utf-8")).hexdigest(),
        "path": scanned.relative,
        "caption": text.caption,
        "caption_source": text.caption_source,
        "category": text.category,
        "duration_s": round(facts.duration_s, 6),
        "channels": int(facts.channels),
        "sample_rate": int(facts.sample_rate),
        "licence": text.licence,
        "credit": text.credit,
        "source": source_of(scanned.relative, text.source),
        "split": "",
        **base,
    }


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _check_folders(library_dir, index_dir) -> tuple[Path, Path]:
    root = Path(library_dir).expanduser().resolve()
    if not root.is_dir():
        raise UserInputError(f"{library_dir}: not a folder (give the folder that holds the sounds)")
    index_dir = Path(index_dir).expanduser().resolve()
    if index_dir.exists() and not index_dir.is_dir():
        raise UserInputError(f"{index_dir}: exists and is not a folder")
    index_dir.mkdir(parents=True, exist_ok=True)
    return root, index_dir


def index_library(
    library_dir: str | os.PathLike,
    index_dir: str | os.PathLike,
    *,
    progress: Progress | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> IndexReport:
    """Index (or bring up to date) the library in ``library_dir`` into ``index_dir``."""
    assign_splits([], val_fraction, seed)  # checks the fraction before any work
    root, index_dir = _check_folders(library_dir, index_dir)
    started = time.time()
    known, partial_started = _load_known(index_dir, root)
    scanned = list(scan_library(root))
    total = len(scanned)
    records: list[dict] = []
    probed = 0
    partial_path = index_dir / PARTIAL_FILE
    mode = "a" if partial_started is not None else "w"
    with open(partial_path, mode, encoding="utf-8") as partial:
        if mode == "w":
            partial.write(json.dumps({"partial": SCHEMA, "started": started, "library_root": str(root)}) + "\n")
        try:
            for done, item in enumerate(scanned, start=1):
                record = _reusable(known, item)
                if record is None:
                    record = _new_record(root, item)
                    probed += 1
                    partial.write(json.dumps(record, ensure_ascii=False) + "\n")
                    if probed % FLUSH_EVERY == 0:
                        partial.flush()
                records.append(record)
                if progress is not None:
                    progress(done, total)
        finally:
            partial.flush()
    valid_since = min(started, partial_started) if partial_started is not None else started
    report = _finish(root, index_dir, records, val_fraction, seed, valid_since, probed)
    partial_path.unlink(missing_ok=True)
    logger.info("indexed %s: %s", root, report.summary())
    return report


def _finish(root: Path, index_dir: Path, records: list[dict], val_fraction: float, seed: int,
            valid_since: float, probed: int) -> IndexReport:
    clips = [record for record in records if "unreadable" not in record]
    unreadable = [(record["path"], record["unreadable"]) for record in records if "unreadable" in record]
    splits = assign_splits((clip["source"] for clip in clips), val_fraction, seed)
    with atomic_output(index_dir / CLIPS_FILE, overwrite=True) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            for clip in clips:
                clip = {**clip, "split": splits[clip["source"]]}
                file.write(json.dumps(asdict(Clip.from_json(clip)), ensure_ascii=False) + "\n")
    meta = {
        "schema": SCHEMA,
        "library_root": str(root),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "created_epoch": valid_since,
        "clips": len(clips),
        "sources": len(splits),
        "unreadable": [list(item) for item in unreadable],
    }
    with atomic_output(index_dir / INDEX_FILE, overwrite=True) as temporary:
        temporary.write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return IndexReport(
        index_dir=index_dir,
        clips=len(clips),
        sources=len(splits),
        unreadable=unreadable,
        probed=probed,
        reused=len(records) - probed,
        caption_sources=dict(Counter(clip["caption_source"] for clip in clips)),
        splits=dict(Counter(splits[clip["source"]] for clip in clips)),
    )


def read_index(index_dir: str | os.PathLike) -> Index:
    """The index written by ``index_library``; UserInputError if there is none or it is damaged."""
    index_dir = Path(index_dir)
    try:
        meta = json.loads((index_dir / INDEX_FILE).read_text(encoding="utf-8"))
        if meta.get("schema") != SCHEMA:
            raise UserInputError(f"{index_dir}: index schema {meta.get('schema')!r}, expected {SCHEMA}")
        clips = [Clip.from_json(record) for record in _read_jsonl(index_dir / CLIPS_FILE)]
    except FileNotFoundError as error:
        raise UserInputError(f"{index_dir}: no dataset index here ({Path(error.filename).name} missing)") from None
    except (ValueError, KeyError, TypeError) as error:
        if isinstance(error, UserInputError):
            raise
        raise UserInputError(f"{index_dir}: the dataset index is damaged ({error})") from None
    unreadable = [(str(path), str(reason)) for path, reason in meta.get("unreadable", [])]
    return Index(Path(meta["library_root"]), clips, unreadable)


__all__ = [
    "AUDIO_SUFFIXES", "SIDECAR_SUFFIXES", "AudioFacts", "Clip", "Index", "IndexReport", "ScannedFile",
    "assign_splits", "index_library", "probe_audio", "read_index", "scan_library", "source_of",
]
