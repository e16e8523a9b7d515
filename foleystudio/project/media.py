"""References from the project to media files (video, reference audio, take audio), and relinking.

A reference remembers where a file is relative to the project's folder (so a project folder that
is moved or copied as a whole keeps working), its last known absolute path (a fallback when only
the project file moved), and its size and modification time (a fingerprint that tells files of the
same name apart when searching for missing media).

Only the filesystem is consulted (existence, size, mtime): whether a file is readable media is the
business of the audio and video packages. A missing file is never an error here; the project
lists it (``Project.missing_media``) and the user relinks it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from foleystudio.errors import MediaError, UserInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaReference:
    """Where a media file is: ``relative`` to the project folder (POSIX form) and/or ``absolute``.

    ``relative`` is None for a project that was never saved or when no relative path exists
    (another drive on Windows). ``size`` (bytes) and ``mtime`` (seconds) are None when unknown.
    """

    absolute: str
    relative: str | None = None
    size: int | None = None
    mtime: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.absolute, str) or not self.absolute:
            raise UserInputError(f"media reference needs an absolute path, got {self.absolute!r}")
        if self.relative is not None and (not isinstance(self.relative, str) or not self.relative):
            raise UserInputError(f"media reference relative path must be text, got {self.relative!r}")
        if self.size is not None and (type(self.size) is not int or self.size < 0):
            raise UserInputError(f"media reference size must be a whole number of bytes, got {self.size!r}")
        if self.mtime is not None and (isinstance(self.mtime, bool) or not isinstance(self.mtime, (int, float))):
            raise UserInputError(f"media reference mtime must be a number, got {self.mtime!r}")

    @classmethod
    def for_file(cls, path: str | Path, project_folder: Path | None = None) -> MediaReference:
        """A reference to an existing file, with its current fingerprint."""
        path = Path(os.path.abspath(path))
        try:
            status = path.stat()
        except FileNotFoundError:
            raise MediaError(f"{path}: no such file") from None
        except OSError as error:
            raise MediaError(f"{path}: cannot be read ({error.strerror or error})") from None
        if not path.is_file():
            raise MediaError(f"{path}: not a file")
        return cls(str(path), relative_path(path, project_folder), status.st_size, status.st_mtime)

    @property
    def name(self) -> str:
        """The file name, whichever operating system wrote the stored path."""
        return self.absolute.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    def candidates(self, project_folder: Path | None) -> list[Path]:
        """Where the file may be, most trusted first: relative to the project, then absolute."""
        places = []
        if self.relative is not None and project_folder is not None:
            places.append(Path(project_folder).joinpath(*PurePosixPath(self.relative).parts))
        places.append(Path(self.absolute))
        return places

    def resolve(self, project_folder: Path | None) -> Path | None:
        """The path where the file exists now, or None when it is missing."""
        for place in self.candidates(project_folder):
            if place.is_file():
                return place
        return None

    def fingerprint_matches(self, path: Path) -> bool:
        """Whether ``path`` has the remembered size (always true when the size is unknown)."""
        try:
            return self.size is None or path.stat().st_size == self.size
        except OSError:
            return False

    def rebased(self, old_folder: Path | None, new_folder: Path | None) -> MediaReference:
        """The same file, described relative to ``new_folder`` (where the project is saved now).

        A file that is found gets its current absolute path. A missing one keeps what was stored,
        only its relative part re-expressed for the new folder, so nothing is lost by saving.
        """
        found = self.resolve(old_folder)
        if found is not None:
            found = Path(os.path.abspath(found))
            return MediaReference(str(found), relative_path(found, new_folder), self.size, self.mtime)
        if _same_folder(old_folder, new_folder):
            return self
        if self.relative is not None and old_folder is not None:
            expected = Path(old_folder).joinpath(*PurePosixPath(self.relative).parts)
            return MediaReference(self.absolute, relative_path(expected, new_folder), self.size, self.mtime)
        return MediaReference(self.absolute, relative_path(Path(self.absolute), new_folder), self.size, self.mtime)


def relative_path(path: Path, folder: Path | None) -> str | None:
    """``path`` relative to ``folder`` in POSIX form, or None (no folder, or another drive)."""
    if folder is None:
        return None
    try:
        relative = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    except ValueError:  # Windows: a path on another drive has no relative form.
        return None
    return Path(relative).as_posix()


def _same_folder(a: Path | None, b: Path | None) -> bool:
    if a is None or b is None:
        return a is b
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


@dataclass(frozen=True)
class MissingMedia:
    """One place in the project that refers to a file that is not there."""

    kind: str  # "video", "reference audio" or "take"
    reference: MediaReference
    layer_id: str | None = None
    take_id: str | None = None

    @property
    def description(self) -> str:
        return f"{self.kind} {self.reference.name}"


# ---- searching a folder for missing files -----------------------------------------------------
def find_candidates(references: Iterable[MediaReference], search_folder: str | Path) -> dict[MediaReference, Path]:
    """For each reference, the file under ``search_folder`` that is most likely the same file.

    A file name found once is taken. When the name repeats, the one with the remembered size is
    taken, then (if sizes tie) the one with the remembered mtime; a reference that stays
    ambiguous or has no file of its name is left out, so the user decides.
    """
    folder = Path(search_folder)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder to search for missing media")
    wanted = {}
    for reference in references:
        wanted.setdefault(reference.name.casefold(), []).append(reference)
    files_by_name = _files_named(folder, set(wanted))
    found = {}
    for key, refs in wanted.items():
        for reference in refs:
            choice = _best_match(reference, files_by_name.get(key, []))
            if choice is not None:
                found[reference] = choice
    return found


def _files_named(folder: Path, names: set[str]) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}

    def skip_unreadable(error: OSError) -> None:
        logger.info("not searching %s: %s", error.filename, error.strerror)

    for root, _dirs, file_names in os.walk(folder, onerror=skip_unreadable):
        for file_name in file_names:
            key = file_name.casefold()
            if key in names:
                files.setdefault(key, []).append(Path(root) / file_name)
    for paths in files.values():
        paths.sort()
    return files


def _best_match(reference: MediaReference, paths: list[Path]) -> Path | None:
    exact = [path for path in paths if path.name == reference.name] or paths
    if len(exact) <= 1:
        return exact[0] if exact else None
    same_size = [path for path in exact if reference.size is not None and _size(path) == reference.size]
    if len(same_size) == 1:
        return same_size[0]
    same_time = [path for path in same_size if reference.mtime is not None and _mtime(path) == reference.mtime]
    if len(same_time) == 1:
        return same_time[0]
    logger.info("%s: %d files of that name, none told apart by size and mtime", reference.name, len(exact))
    return None


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
