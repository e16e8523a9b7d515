"""The open corpus recipe: Debian packages -> a captioned, licence-tagged sound library + index.

``build_open_corpus(out_dir)`` reads ``shared/corpus/train_manifest.tsv`` (5,511 non-speech clips
from 86 Debian bookworm packages) and, for each package:

1. ``apt-get download PKG`` into a per-user cache (``platformdirs`` user cache /FoleyStudio/debs),
   unless a ``PKG_*.deb`` is already there. ``apt-get download`` needs no root; ``apt-get update``
   (run only when apt says "Unable to locate package") does, so without root that case is reported
   with a hint instead. Downloads go to a temporary folder first, so a killed run never leaves a
   truncated .deb that a later run would trust.
2. Streams ``dpkg-deb --fsys-tarfile DEB`` through ``tarfile`` (mode ``r|``) and keeps only the
   listed audio files, the zip-format archives that hold listed clips (public.zip, *.pk3, base.wz;
   see ``ARCHIVE_LOCATIONS``) and ``usr/share/doc/PKG/copyright``. Nothing else is written to disk,
   so 1.4 GB of 0ad textures cost one sequential read and no space.
3. Checks every clip's md5 against the manifest (a mismatch is skipped and reported: the package
   changed since the manifest was built) and writes it to ``out_dir/library/PKG/<manifest path>``
   (``_arc/NAME/INNER`` paths keep that prefix, so each clip's origin stays readable), with a
   sidecar ``<clip name>.json`` (caption from ``label_captions``, licence, credit, source=PKG,
   category) that ``foleystudio.training.captions`` reads while indexing.
4. Runs ``foleystudio.training.index.index_library(out_dir/library, out_dir/index)``.

Caching: a package whose clips are all present with the right md5 and a sidecar is skipped before
any download (only its sidecar captions are refreshed, in place, if the caption rules changed), so
a second run costs one md5 pass over the library (about 1 GB) and re-indexing. The .debs stay in
the cache; delete it to reclaim the space. A failing package (download, corrupt deb, missing
files) is recorded in the report and the others continue.

Licences come from each package's DEP-5 copyright file: the ``License:`` of the ``Files: *``
paragraph (a short name such as "GPL-2+" or "CC-BY-SA-3.0"), or every distinct licence joined by
" and " when there is no such paragraph; free-form copyright files are matched against a few
well-known licence names. Credit is the ``Copyright:`` lines of the same paragraph.

Disk and time, measured on a full run (Debian bookworm mirror, 2 cores, 2026-11): 86/86 packages,
5,511 clips, 0 md5 mismatches in 9 min 0 s; 8.0 GB of .debs left in the cache (largest: 0ad-data,
flightgear-data-base, redeclipse-data, supertuxkart-data; budget 10 GB); temporary space peaked at
about 2.3 GB while 0ad's public.zip was unpacked (inside ``out_dir``, removed after each package);
the library is 393 MB (3.44 h of audio, mostly Ogg, with sidecars). A second run with everything
cached took 6.5 s and downloaded and wrote nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from foleystudio.errors import UserInputError
from foleystudio.training.label_captions import caption_for

logger = logging.getLogger(__name__)

__all__ = [
    "ARCHIVE_LOCATIONS", "CorpusReport", "DEFAULT_MANIFEST", "ManifestEntry", "PackageLicence",
    "PackageResult", "build_open_corpus", "default_cache_dir", "parse_copyright", "read_manifest",
]

# The manifest lives in the shared corpus folder beside the repository (/work/shared/corpus).
DEFAULT_MANIFEST = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "train_manifest.tsv"
MANIFEST_COLUMNS = ("package", "path", "label", "context", "categories", "duration_s",
                    "sample_rate", "channels", "md5")
ARCHIVE_PREFIX = "_arc/"
# Where each zip-format archive of the manifest's `_arc/NAME/...` paths is inside its package
# (the README's table). Unknown names fall back to the first member with that file name.
ARCHIVE_LOCATIONS: dict[tuple[str, str], str] = {
    ("0ad-data", "public.zip"): "usr/share/games/0ad/mods/public/public.zip",
    ("ufoai-sound", "0snd.pk3"): "usr/share/games/ufoai/base/0snd.pk3",
    ("warzone2100-data", "base.wz"): "usr/share/games/warzone2100/base.wz",
    ("nexuiz-data", "data.pk3"): "usr/share/games/nexuiz/data/data.pk3",
    ("openarena-data", "pak0.pk3"): "usr/share/games/openarena/baseoa/pak0.pk3",
    ("openarena-data", "mp-pak0.pk3"): "usr/share/games/openarena/missionpack/mp-pak0.pk3",
    ("openarena-081-misc", "pak5-TA.pk3"): "usr/share/games/openarena/baseoa/pak5-TA.pk3",
    ("openarena-081-misc", "pak6-misc.pk3"): "usr/share/games/openarena/baseoa/pak6-misc.pk3",
    ("openarena-085-data", "pak6-patch085.pk3"): "usr/share/games/openarena/baseoa/pak6-patch085.pk3",
    ("openarena-088-data", "pak6-patch088.pk3"): "usr/share/games/openarena/baseoa/pak6-patch088.pk3",
}
SIDECAR_SUFFIX = ".json"
# progress(done_packages, total_packages, message)
Progress = Callable[[int, int, str], None]
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class ManifestEntry:
    """One row of train_manifest.tsv."""

    package: str
    path: str
    label: str
    context: str
    categories: str
    duration_s: float
    sample_rate: int
    channels: int
    md5: str

    @property
    def archive(self) -> tuple[str, str] | None:
        """(archive file name, member path inside it) for `_arc/NAME/INNER` paths, else None."""
        if not self.path.startswith(ARCHIVE_PREFIX):
            return None
        name, _, inner = self.path[len(ARCHIVE_PREFIX):].partition("/")
        return name, inner

    @property
    def category(self) -> str:
        """The first (main) category, "" when there is none."""
        return self.categories.split(",")[0].strip()

    @property
    def caption(self) -> str:
        return caption_for(self.label, self.context, self.categories)


@dataclass(frozen=True)
class PackageLicence:
    licence: str = ""
    credit: str = ""


@dataclass(frozen=True)
class PackageResult:
    """What happened to one package. status: "ok", "cached" (nothing to do) or "failed"."""

    package: str
    status: str
    clips_written: int = 0
    clips_cached: int = 0
    downloaded: bool = False
    deb_size: int = 0
    licence: str = ""
    md5_failures: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    error: str = ""


@dataclass(frozen=True)
class CorpusReport:
    out_dir: Path
    library_dir: Path
    index_dir: Path | None
    packages: tuple[PackageResult, ...]
    index_report: object | None = field(default=None, compare=False)

    @property
    def clips_written(self) -> int:
        return sum(result.clips_written for result in self.packages)

    @property
    def clips_cached(self) -> int:
        return sum(result.clips_cached for result in self.packages)

    @property
    def downloads(self) -> int:
        return sum(result.downloaded for result in self.packages)

    @property
    def failed(self) -> tuple[PackageResult, ...]:
        return tuple(result for result in self.packages if result.status == "failed")

    @property
    def md5_failures(self) -> tuple[str, ...]:
        return tuple(f"{r.package}/{path}" for r in self.packages for path in r.md5_failures)

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f"{r.package}/{path}" for r in self.packages for path in r.missing)

    def summary(self) -> str:
        return (f"{len(self.packages)} packages ({len(self.failed)} failed, {self.downloads} downloaded): "
                f"{self.clips_written} clips written, {self.clips_cached} already present, "
                f"{len(self.md5_failures)} md5 mismatches, {len(self.missing)} missing")


# --- manifest -----------------------------------------------------------------------------------

def read_manifest(path: str | Path) -> list[ManifestEntry]:
    """Rows of a corpus manifest (TSV with a header of `MANIFEST_COLUMNS`)."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
            missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise UserInputError(f"{path}: not a corpus manifest (missing columns: {', '.join(sorted(missing))})")
            return [_entry(row, path, number) for number, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise UserInputError(f"{path}: manifest not found") from None


def _entry(row: dict[str, str], path: Path, line: int) -> ManifestEntry:
    try:
        return ManifestEntry(
            package=row["package"].strip(), path=row["path"].strip(), label=row["label"] or "",
            context=row["context"] or "", categories=row["categories"] or "",
            duration_s=float(row["duration_s"] or 0), sample_rate=int(row["sample_rate"] or 0),
            channels=int(row["channels"] or 0), md5=row["md5"].strip().lower())
    except (TypeError, ValueError) as error:
        raise UserInputError(f"{path}:{line}: bad manifest row ({error})") from None


# --- licences -------------------------------------------------------------------------------------

_KNOWN_LICENCES = (  # free-form copyright files: (pattern, short name); first match wins
    (r"creative\s+commons\s+attribution[- ]share\s*alike\s*(?:licen[cs]e\s*)?(?:version\s*)?(\d\.\d)", "CC-BY-SA-{}"),
    (r"creative\s+commons\s+attribution\s*(?:licen[cs]e\s*)?(?:version\s*)?(\d\.\d)", "CC-BY-{}"),
    (r"cc[- ]by[- ]sa[- ]?(\d\.\d)", "CC-BY-SA-{}"),
    (r"cc[- ]by[- ]?(\d\.\d)", "CC-BY-{}"),
    (r"(?:cc0|public\s+domain)", "public-domain"),
    (r"gnu\s+general\s+public\s+licen[cs]e.{0,200}?version\s*(\d)(?:.{0,120}?(any\s+later))?", "GPL-{}"),
    (r"gnu\s+lesser\s+general\s+public\s+licen[cs]e.{0,200}?version\s*(\d\.?\d?)", "LGPL-{}"),
    (r"\bzlib\b", "Zlib"), (r"\bmit\s+licen[cs]e\b|permission is hereby granted, free of charge", "Expat"),
    (r"artistic\s+licen[cs]e", "Artistic"),
)


def parse_copyright(text: str) -> PackageLicence:
    """Short licence name and credit from a Debian copyright file (DEP-5 or free-form)."""
    paragraphs = [_fields(block) for block in re.split(r"\n\s*\n", text) if block.strip()]
    files = [p for p in paragraphs if "files" in p and p.get("license")]
    if files:
        main = next((p for p in files if "*" in p["files"].split()), None)
        if main is not None:
            licence = _first_line(main["license"])
            credit = _credit(main.get("copyright", ""))
        else:
            names = list(dict.fromkeys(_first_line(p["license"]) for p in files))
            licence = " and ".join(names[:3]) + (" and others" if len(names) > 3 else "")
            credit = _credit(files[0].get("copyright", ""))
        return PackageLicence(licence, credit)
    return PackageLicence(_guess_licence(text), _credit_lines(text))


def _fields(block: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and key:
            fields[key] += "\n" + line.strip()
            continue
        name, colon, value = line.partition(":")
        if colon and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", name):
            key = name.lower()
            fields[key] = value.strip()
    return fields


def _first_line(value: str) -> str:
    return value.strip().splitlines()[0].strip() if value.strip() else ""


def _credit(value: str) -> str:
    # A new holder starts with a year or a copyright sign; other lines continue the previous one.
    holders: list[str] = []
    for line in (line.strip() for line in value.splitlines()):
        if not line or line == ".":
            continue
        if holders and not re.match(r"(\d{4}|©|\(c\)|copyright)", line, re.IGNORECASE):
            holders[-1] += " " + line
        else:
            holders.append(line)
    return _cut("; ".join(holders))


def _credit_lines(text: str) -> str:
    lines = [line.strip() for line in text.splitlines()
             if re.match(r"\s*(copyright\b|\(c\)|©)", line, re.IGNORECASE) and re.search(r"\d{4}", line)]
    return _cut("; ".join(dict.fromkeys(lines)))


def _cut(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _guess_licence(text: str) -> str:
    flat = " ".join(text.split())
    for pattern, name in _KNOWN_LICENCES:
        match = re.search(pattern, flat, re.IGNORECASE)
        if match:
            groups = [g for g in match.groups() if g]
            if "{}" not in name:
                return name
            later = "+" if len(groups) > 1 else ""
            return name.format(groups[0]) + later
    return ""


# --- cache and download --------------------------------------------------------------------------

def default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("FoleyStudio", appauthor=False)) / "debs"


def cached_deb(package: str, cache_dir: Path) -> Path | None:
    """The newest cached ``PKG_VERSION_ARCH.deb`` (apt's own naming), or None."""
    debs = [path for path in cache_dir.glob(f"{package}_*.deb") if path.is_file()]
    return max(debs, key=lambda path: path.stat().st_mtime) if debs else None


def download_deb(package: str, cache_dir: Path) -> Path:
    """`apt-get download PKG` into ``cache_dir`` (via a temporary folder); the .deb's path."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    if shutil.which("apt-get") is None:
        raise RuntimeError("apt-get not found: the open corpus needs a Debian-based system")
    with tempfile.TemporaryDirectory(prefix=".download-", dir=cache_dir) as temporary:
        result = _apt_download(package, Path(temporary))
        if result.returncode != 0 and "unable to locate" in result.stderr.lower():
            _apt_update()
            result = _apt_download(package, Path(temporary))
        if result.returncode != 0:
            raise RuntimeError(f"apt-get download {package} failed: {_last_line(result.stderr)}")
        debs = sorted(Path(temporary).glob(f"{package}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {package} produced no .deb")
        target = cache_dir / debs[0].name
        os.replace(debs[0], target)
    return target


def _apt_download(package: str, folder: Path) -> subprocess.CompletedProcess:
    logger.info("apt-get download %s", package)
    return subprocess.run(["apt-get", "download", "-q", package], cwd=folder, capture_output=True,
                          text=True, check=False)


def _apt_update() -> None:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise RuntimeError("package unknown to apt and `apt-get update` needs root: run "
                           "`sudo apt-get update` once (bookworm main must be in the sources)")
    logger.info("apt-get update (package lists are missing or stale)")
    result = subprocess.run(["apt-get", "update", "-q"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"apt-get update failed: {_last_line(result.stderr)}")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


# --- extraction ----------------------------------------------------------------------------------

def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_COPY_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    # Temporary name + rename: a killed run leaves no half file. No fsync per clip (thousands of
    # small files); a torn file after a power cut fails the md5 check and is rewritten next run.
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _archive_location(package: str, name: str, member_names: Iterable[str]) -> str | None:
    known = ARCHIVE_LOCATIONS.get((package, name))
    if known:
        return known
    return next((member for member in member_names if PurePosixPath(member).name == name), None)


def _scan_deb(deb: Path, wanted: set[str], archives: set[str], copyright_path: str,
              scratch: Path) -> tuple[dict[str, bytes], dict[str, Path], str]:
    """One streaming pass over the deb's data: the wanted files' bytes, archives copied to
    ``scratch`` (by archive file name), and the copyright text ("" if absent)."""
    found: dict[str, bytes] = {}
    copied: dict[str, Path] = {}
    copyright_text = ""
    process = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=process.stdout, mode="r|") as stream:
            for member in stream:
                name = member.name.removeprefix("./")
                if not member.isfile():
                    continue
                if name in wanted:
                    found[name] = _read_member(stream, member)
                elif name in archives:
                    target = scratch / f"{len(copied)}-{PurePosixPath(name).name}"
                    with stream.extractfile(member) as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink, _COPY_CHUNK)
                    copied[name] = target
                elif name == copyright_path:
                    copyright_text = _read_member(stream, member).decode("utf-8", "replace")
    except tarfile.TarError as error:
        raise RuntimeError(f"{deb.name}: not a readable package ({error})") from None
    finally:
        assert process.stdout is not None
        process.stdout.close()
        stderr = process.stderr.read().decode("utf-8", "replace") if process.stderr else ""
        if process.stderr:
            process.stderr.close()
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {_last_line(stderr)}")
    return found, copied, copyright_text


def _read_member(stream: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = stream.extractfile(member)
    if handle is None:
        return b""
    with handle:
        return handle.read()


def _archive_member_names(deb: Path) -> list[str]:
    """All file names in the deb (only needed for an archive missing from ARCHIVE_LOCATIONS)."""
    result = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=False)
    with tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r|") as stream:
        return [member.name.removeprefix("./") for member in stream if member.isfile()]


# --- one package ------------------------------------------------------------------------------------

def _clip_path(library: Path, entry: ManifestEntry) -> Path:
    return library / entry.package / PurePosixPath(entry.path)


def _sidecar_path(clip: Path) -> Path:
    return clip.with_name(clip.name + SIDECAR_SUFFIX)


def _sidecar(entry: ManifestEntry, licence: PackageLicence) -> dict[str, str]:
    return {"caption": entry.caption, "licence": licence.licence, "credit": licence.credit,
            "source": entry.package, "category": entry.category}


def _write_sidecar(clip: Path, fields: dict[str, str]) -> None:
    _write_atomic(_sidecar_path(clip), (json.dumps(fields, ensure_ascii=False, indent=1) + "\n").encode())


def _present(library: Path, entry: ManifestEntry) -> dict[str, str] | None:
    """The clip's sidecar fields when the clip is present with the right md5, else None."""
    clip = _clip_path(library, entry)
    sidecar = _sidecar_path(clip)
    if not clip.is_file() or not sidecar.is_file() or _file_md5(clip) != entry.md5:
        return None
    try:
        fields = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return fields if isinstance(fields, dict) else None


def _refresh_sidecar(library: Path, entry: ManifestEntry, fields: dict[str, str]) -> None:
    """Rewrite the caption/category if the caption rules changed; keep licence and credit."""
    licence = PackageLicence(str(fields.get("licence", "")), str(fields.get("credit", "")))
    fresh = _sidecar(entry, licence)
    if fresh != fields:
        _write_sidecar(_clip_path(library, entry), fresh)


def _build_package(package: str, entries: list[ManifestEntry], library: Path, cache_dir: Path,
                   scratch_root: Path) -> PackageResult:
    present = {entry.path: _present(library, entry) for entry in entries}
    if all(fields is not None for fields in present.values()):
        for entry in entries:
            _refresh_sidecar(library, entry, present[entry.path])
        return PackageResult(package, "cached", clips_cached=len(entries),
                             licence=str(next(iter(present.values()))["licence"]) if entries else "")
    deb = cached_deb(package, cache_dir)
    downloaded = deb is None
    if deb is None:
        deb = download_deb(package, cache_dir)
    todo = [entry for entry in entries if present[entry.path] is None]
    direct = {entry.path for entry in todo if entry.archive is None}
    archive_names = {entry.archive[0] for entry in todo if entry.archive is not None}
    locations = {name: ARCHIVE_LOCATIONS.get((package, name)) for name in archive_names}
    if any(location is None for location in locations.values()):
        names = _archive_member_names(deb)
        locations = {name: _archive_location(package, name, names) for name in archive_names}
    copyright_path = f"usr/share/doc/{package}/copyright"
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=scratch_root) as scratch:
        found, copied, copyright_text = _scan_deb(
            deb, direct, {location for location in locations.values() if location}, copyright_path,
            Path(scratch))
        licence = parse_copyright(copyright_text) if copyright_text else PackageLicence()
        if not copyright_text:
            logger.warning("%s: no %s in the package; licence left unknown", package, copyright_path)
        archives = _open_archives(package, copied, locations)
        written, md5_failures, missing = 0, [], []
        try:
            for entry in todo:
                data = _entry_bytes(entry, found, archives)
                if data is None:
                    missing.append(entry.path)
                elif _md5(data) != entry.md5:
                    md5_failures.append(entry.path)
                else:
                    clip = _clip_path(library, entry)
                    _write_atomic(clip, data)
                    _write_sidecar(clip, _sidecar(entry, licence))
                    written += 1
        finally:
            for zipped in archives.values():
                zipped.close()
    for entry in entries:
        if present[entry.path] is not None:
            _refresh_sidecar(library, entry, present[entry.path])
    for path in md5_failures:
        logger.warning("%s: %s: md5 differs from the manifest, skipped", package, path)
    for path in missing:
        logger.warning("%s: %s: not in the package, skipped", package, path)
    return PackageResult(package, "ok", clips_written=written, clips_cached=len(entries) - len(todo),
                         downloaded=downloaded, deb_size=deb.stat().st_size, licence=licence.licence,
                         md5_failures=tuple(md5_failures), missing=tuple(missing))


def _open_archives(package: str, copied: dict[str, Path], locations: dict[str, str | None]
                   ) -> dict[str, zipfile.ZipFile]:
    """Archive name -> open ZipFile (opened once: public.zip's directory alone is large)."""
    opened = {}
    for name, location in locations.items():
        path = copied.get(location) if location else None
        if path is None:
            continue
        try:
            opened[name] = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            logger.warning("%s: %s is not a readable zip archive (%s)", package, name, error)
    return opened


def _entry_bytes(entry: ManifestEntry, found: dict[str, bytes],
                 archives: dict[str, zipfile.ZipFile]) -> bytes | None:
    if entry.archive is None:
        return found.get(entry.path)
    name, inner = entry.archive
    zipped = archives.get(name)
    if zipped is None:
        return None
    try:
        return zipped.read(inner)
    except KeyError:
        # pk3 files made on Windows sometimes differ in case from the manifest.
        match = next((n for n in zipped.namelist() if n.lower() == inner.lower()), None)
        return zipped.read(match) if match else None


# --- the recipe -----------------------------------------------------------------------------------------

def build_open_corpus(out_dir: str | Path, manifest: str | Path = DEFAULT_MANIFEST, *,
                      packages: Iterable[str] | None = None, cache_dir: str | Path | None = None,
                      progress: Progress | None = None, index: bool = True) -> CorpusReport:
    """Fetch, extract, caption and index the open corpus (see the module docstring).

    ``packages`` limits the run to some of the manifest's packages (unknown names are an error);
    ``progress(done, total, message)`` is called before each package and at the end;
    ``index=False`` skips the indexing step (the library is still complete).
    """
    out_dir = Path(out_dir)
    entries = read_manifest(manifest)
    by_package: dict[str, list[ManifestEntry]] = {}
    for entry in entries:
        by_package.setdefault(entry.package, []).append(entry)
    chosen = list(by_package) if packages is None else list(dict.fromkeys(packages))
    unknown = [name for name in chosen if name not in by_package]
    if unknown:
        raise UserInputError(f"not in the manifest: {', '.join(unknown)}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    library = out_dir / "library"
    library.mkdir(parents=True, exist_ok=True)
    results = []
    for number, package in enumerate(chosen):
        if progress:
            progress(number, len(chosen), f"{package} ({len(by_package[package])} clips)")
        results.append(_safe_build(package, by_package[package], library, cache, out_dir))
    if progress:
        progress(len(chosen), len(chosen), "indexing" if index else "done")
    index_dir, index_report = None, None
    if index:
        from foleystudio.training.index import index_library  # written alongside; imported late

        index_dir = out_dir / "index"
        index_report = index_library(library, index_dir)
    report = CorpusReport(out_dir, library, index_dir, tuple(results), index_report)
    logger.info("open corpus: %s", report.summary())
    return report


def _safe_build(package: str, entries: list[ManifestEntry], library: Path, cache: Path,
                scratch_root: Path) -> PackageResult:
    try:
        return _build_package(package, entries, library, cache, scratch_root)
    except (OSError, RuntimeError, subprocess.SubprocessError, zipfile.BadZipFile) as error:
        logger.error("%s: failed: %s", package, error)
        return PackageResult(package, "failed", error=str(error))

