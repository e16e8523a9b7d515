"""Writing outputs safely: never overwrite unless asked, never leave a half-written file behind.

Every file FoleyStudio writes for the user (stems, curves, projects, review videos) goes through
`atomic_output`: the content is written to a temporary file in the destination folder, flushed to
disk, and only then moved onto the final name, so a crash or a full disk leaves the old file intact.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from foleystudio.errors import OutputError

# Write failures that are about the destination, not a bug: said plainly to the user.
_WRITE_FAILURES = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
}


def check_output_path(path: str | Path, overwrite: bool = False) -> Path:
    """The output path, after checking it can be written without destroying anything unasked."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path}: is a folder, not a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"{path}: already exists (FoleyStudio does not overwrite files unless asked)")
    if not path.parent.is_dir():
        raise OutputError(f"{path.parent}: output folder does not exist")
    return path


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (Windows), hence best effort.
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _default_mode() -> int:
    """Permissions a newly created file gets (0o666 less the umask), as open() would give it."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _publish(temporary: Path, path: Path, overwrite: bool) -> None:
    # mkstemp makes owner-only files; give the result the permissions of the file it replaces, or
    # those of any new file, so a stem or project is as readable as if written directly.
    mode = path.stat().st_mode & 0o7777 if path.exists() else _default_mode()
    os.chmod(temporary, mode)
    if overwrite:
        os.replace(temporary, path)
        return
    # A hard link fails if the name exists, so a file that appeared meanwhile is never clobbered.
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise OutputError(f"{path}: already exists (FoleyStudio does not overwrite files unless asked)") from None
    except OSError as error:
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # File systems without hard links (some network or FAT volumes): check, then rename.
        if path.exists():
            raise OutputError(f"{path}: already exists (FoleyStudio does not overwrite files unless asked)") from None
        os.replace(temporary, path)
        return
    temporary.unlink()


@contextlib.contextmanager
def atomic_output(path: str | Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write to; on success it becomes ``path``, on failure it vanishes."""
    path = check_output_path(path, overwrite)
    try:
        descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except PermissionError:
        raise OutputError(f"{path.parent}: folder is not writable (permission denied)") from None
    except OSError as error:
        raise OutputError(f"{path.parent}: cannot write here ({error.strerror})") from None
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        _publish(temporary, path, overwrite)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        if isinstance(error, OSError):
            reason = _WRITE_FAILURES.get(error.errno) or error.strerror or str(error)
            raise OutputError(f"{path}: could not be written ({reason})") from None
        raise
    _fsync_folder(path.parent)


def write_text_atomic(path: str | Path, text: str, overwrite: bool = False) -> Path:
    """Write a UTF-8 text file through `atomic_output`."""
    with atomic_output(path, overwrite) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
