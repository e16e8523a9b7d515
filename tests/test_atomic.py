"""Outputs are never overwritten unasked and never left half-written."""

import os

import pytest

from foleystudio.atomic import atomic_output, write_text_atomic
from foleystudio.errors import OutputError


def test_writes_new_file(tmp_path):
    target = tmp_path / "ünï cöde out.csv"
    write_text_atomic(target, "a,b\n")
    assert target.read_text(encoding="utf-8") == "a,b\n"
    assert os.listdir(tmp_path) == [target.name]


def test_existing_file_is_kept_unless_overwrite(tmp_path):
    target = tmp_path / "curve.csv"
    target.write_text("precious")
    with pytest.raises(OutputError, match="already exists"):
        write_text_atomic(target, "new")
    assert target.read_text() == "precious"
    write_text_atomic(target, "new", overwrite=True)
    assert target.read_text() == "new"


def test_failure_mid_write_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "take.wav"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target, overwrite=True) as temporary:
            temporary.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["take.wav"]


def test_file_appearing_during_write_is_not_clobbered(tmp_path):
    target = tmp_path / "stem.wav"
    with pytest.raises(OutputError, match="already exists"):
        with atomic_output(target) as temporary:
            temporary.write_text("ours")
            target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert os.listdir(tmp_path) == ["stem.wav"]


def test_folder_and_missing_folder_are_refused(tmp_path):
    with pytest.raises(OutputError, match="is a folder"):
        write_text_atomic(tmp_path, "x")
    with pytest.raises(OutputError, match="does not exist"):
        write_text_atomic(tmp_path / "nope" / "x.csv", "x")


def test_unwritable_folder_is_a_clear_error(tmp_path, monkeypatch):
    # Tests run as root here, where chmod does not stop writes; simulate the refusal instead.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(OutputError, match="not writable"):
        write_text_atomic(tmp_path / "x.csv", "x")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder_for_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="not writable"):
            write_text_atomic(folder / "x.csv", "x")
    finally:
        folder.chmod(0o700)


def test_new_file_gets_normal_permissions_and_replaced_file_keeps_its_own(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = write_text_atomic(tmp_path / "fresh.csv", "x")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.csv"
        kept.write_text("old")
        kept.chmod(0o600)
        write_text_atomic(kept, "new", overwrite=True)
        assert kept.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(umask)


def test_disk_full_during_write_is_an_output_error(tmp_path):
    import errno

    with pytest.raises(OutputError, match="disk is full"):
        with atomic_output(tmp_path / "big.wav"):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert os.listdir(tmp_path) == []
