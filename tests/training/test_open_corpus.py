"""The open corpus recipe against a tiny fake Debian package (no network: the download is faked)."""

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile

from foleystudio.errors import UserInputError
from foleystudio.training import open_corpus
from foleystudio.training.open_corpus import build_open_corpus, parse_copyright, read_manifest

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")

PACKAGE = "fake-sounds-data"
COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: 2001-2003 Ada Sound <ada@example.org>
 2004 Bob Noise
License: CC-BY-SA-3.0
 Long licence text that is not part of the summary.

Files: debian/*
Copyright: 2020 Debian Games Team
License: GPL-2+
"""
ARC_ROOT = "usr/share/games/fake"


def _wav_bytes(seconds: float = 0.05, freq: float = 440.0) -> bytes:
    buffer = io.BytesIO()
    t = np.arange(int(8000 * seconds)) / 8000
    soundfile.write(buffer, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000, format="WAV")
    return buffer.getvalue()


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _make_deb(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    """A real .deb with two listed clips, one unlisted big file, a zip archive and a copyright."""
    root = tmp_path / "pkgroot"
    files = {
        f"{ARC_ROOT}/sounds/arrow_metal_01.wav": _wav_bytes(freq=440),
        f"{ARC_ROOT}/sounds/fs_grass.ogg": b"OggS" + bytes(range(200)),
        f"{ARC_ROOT}/textures/huge_texture.wav": b"\0" * 300_000,  # audio-like but not listed
        f"usr/share/doc/{PACKAGE}/copyright": COPYRIGHT.encode(),
    }
    inner = {"audio/camel_10.wav": _wav_bytes(freq=220), "audio/unlisted.wav": _wav_bytes(freq=330)}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in inner.items():
            zipped.writestr(name, data)
    files[f"{ARC_ROOT}/pack.pk3"] = archive.getvalue()
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN" / "control").write_text(
        f"Package: {PACKAGE}\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.org>\n"
        "Description: fake sounds\n")
    deb = tmp_path / f"{PACKAGE}_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-b", str(root), str(deb)],
                   check=True, capture_output=True)
    return deb, {**files, **{f"_arc/pack.pk3/{k}": v for k, v in inner.items()}}


def _write_manifest(path: Path, rows: list[tuple[str, str, str, str, str, str]]) -> Path:
    header = "package\tpath\tlabel\tcontext\tcategories\tduration_s\tsample_rate\tchannels\tmd5\n"
    lines = [f"{p}\t{f}\t{label}\t{ctx}\t{cats}\t0.05\t8000\t1\t{md5}\n" for p, f, label, ctx, cats, md5 in rows]
    path.write_text(header + "".join(lines))
    return path


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    deb, contents = _make_deb(tmp_path)
    rows = [
        (PACKAGE, f"{ARC_ROOT}/sounds/arrow_metal_01.wav", "arrow metal", "impact", "impacts/hits,weapons",
         _md5(contents[f"{ARC_ROOT}/sounds/arrow_metal_01.wav"])),
        (PACKAGE, f"{ARC_ROOT}/sounds/fs_grass.ogg", "fs grass", "singlesteps", "footsteps",
         _md5(contents[f"{ARC_ROOT}/sounds/fs_grass.ogg"])),
        (PACKAGE, "_arc/pack.pk3/audio/camel_10.wav", "camel", "animal", "animals",
         _md5(contents["_arc/pack.pk3/audio/camel_10.wav"])),
    ]
    manifest = _write_manifest(tmp_path / "manifest.tsv", rows)
    monkeypatch.setitem(open_corpus.ARCHIVE_LOCATIONS, (PACKAGE, "pack.pk3"), f"{ARC_ROOT}/pack.pk3")
    downloads = []

    def fake_download(package, cache_dir):
        downloads.append(package)
        if package != PACKAGE:
            raise RuntimeError(f"apt-get download {package} failed: E: Unable to locate package {package}")
        cache_dir.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(deb, cache_dir / deb.name))

    monkeypatch.setattr(open_corpus, "download_deb", fake_download)
    return manifest, rows, contents, downloads


def _library_files(library: Path) -> set[str]:
    return {path.relative_to(library).as_posix() for path in library.rglob("*") if path.is_file()}


def test_extracts_only_listed_audio_with_sidecars(tmp_path, corpus):
    manifest, rows, contents, downloads = corpus
    report = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    library = tmp_path / "out" / "library"
    expected = {f"{PACKAGE}/{row[1]}" for row in rows}
    assert _library_files(library) == expected | {name + ".json" for name in expected}
    assert report.clips_written == 3 and report.downloads == 1 and not report.failed
    for row in rows:
        assert (library / PACKAGE / row[1]).read_bytes() == contents[row[1]]
    sidecar = json.loads((library / PACKAGE / rows[0][1]).with_name("arrow_metal_01.wav.json").read_text())
    assert sidecar == {"caption": "an arrow hitting metal", "licence": "CC-BY-SA-3.0",
                       "credit": "2001-2003 Ada Sound <ada@example.org>; 2004 Bob Noise",
                       "source": PACKAGE, "category": "impacts/hits"}
    camel = json.loads((library / PACKAGE / "_arc/pack.pk3/audio/camel_10.wav.json").read_text())
    assert camel["caption"] == "a camel" and camel["category"] == "animals"
    assert report.packages[0].licence == "CC-BY-SA-3.0"
    assert not list((tmp_path / "out").glob(".extract-*")), "temporary archive copies are removed"


def test_second_run_downloads_and_writes_nothing(tmp_path, corpus):
    manifest, rows, _, downloads = corpus
    build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    clip = tmp_path / "out" / "library" / PACKAGE / rows[0][1]
    stamp = clip.stat().st_mtime_ns
    again = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    assert downloads == [PACKAGE]
    assert (again.clips_written, again.clips_cached, again.downloads) == (0, 3, 0)
    assert again.packages[0].status == "cached"
    assert clip.stat().st_mtime_ns == stamp


def test_damaged_clip_is_restored_from_the_cached_deb(tmp_path, corpus):
    manifest, rows, contents, downloads = corpus
    build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    clip = tmp_path / "out" / "library" / PACKAGE / rows[1][1]
    clip.write_bytes(b"truncated")
    again = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    assert downloads == [PACKAGE], "the cached .deb is reused"
    assert (again.clips_written, again.clips_cached) == (1, 2)
    assert clip.read_bytes() == contents[rows[1][1]]


def test_md5_mismatch_is_skipped_and_reported(tmp_path, corpus):
    manifest, rows, _, _ = corpus
    rows = [rows[0], (*rows[1][:5], "0" * 32), rows[2]]
    manifest = _write_manifest(tmp_path / "bad.tsv", rows)
    report = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    assert report.md5_failures == (f"{PACKAGE}/{rows[1][1]}",)
    assert report.clips_written == 2
    assert not (tmp_path / "out" / "library" / PACKAGE / rows[1][1]).exists()


def test_missing_package_is_reported_and_others_continue(tmp_path, corpus):
    manifest, rows, _, downloads = corpus
    rows = [("no-such-sounds", "usr/share/x.wav", "x", "", "", "0" * 32), *rows]
    manifest = _write_manifest(tmp_path / "two.tsv", rows)
    seen = []
    report = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False,
                               progress=lambda done, total, message: seen.append((done, total)))
    assert [result.package for result in report.failed] == ["no-such-sounds"]
    assert "Unable to locate" in report.failed[0].error
    assert report.clips_written == 3
    assert seen == [(0, 2), (1, 2), (2, 2)]


def test_missing_file_in_package_is_reported(tmp_path, corpus):
    manifest, rows, _, _ = corpus
    rows = [*rows, (PACKAGE, f"{ARC_ROOT}/sounds/gone.wav", "gone", "", "", "0" * 32),
            (PACKAGE, "_arc/pack.pk3/audio/gone.wav", "gone", "", "", "0" * 32)]
    manifest = _write_manifest(tmp_path / "gone.tsv", rows)
    report = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache", index=False)
    assert sorted(report.missing) == sorted(f"{PACKAGE}/{row[1]}" for row in rows[3:])
    assert report.clips_written == 3


def test_runs_the_indexer_on_the_library(tmp_path, corpus, monkeypatch):
    import foleystudio.training.index as index_module

    calls = []
    monkeypatch.setattr(index_module, "index_library", lambda library, index_dir: calls.append((library, index_dir)) or "report")
    manifest, _, _, _ = corpus
    report = build_open_corpus(tmp_path / "out", manifest, cache_dir=tmp_path / "cache")
    assert calls == [(tmp_path / "out" / "library", tmp_path / "out" / "index")]
    assert report.index_report == "report" and report.index_dir == tmp_path / "out" / "index"


def test_unknown_package_name_is_a_user_error(tmp_path, corpus):
    manifest, _, _, downloads = corpus
    with pytest.raises(UserInputError, match="not in the manifest: nope"):
        build_open_corpus(tmp_path / "out", manifest, packages=["nope"], cache_dir=tmp_path / "cache")
    assert downloads == []


def test_read_manifest_rejects_other_tables(tmp_path):
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(UserInputError, match="missing columns"):
        read_manifest(tmp_path / "x.tsv")


def test_real_manifest_parses():
    if not open_corpus.DEFAULT_MANIFEST.exists():
        pytest.skip("shared corpus manifest not present")
    entries = read_manifest(open_corpus.DEFAULT_MANIFEST)
    assert len(entries) == 5511 and len({e.package for e in entries}) == 86
    archived = {e.archive[0] for e in entries if e.archive}
    packages = {(e.package, e.archive[0]) for e in entries if e.archive}
    assert packages <= set(open_corpus.ARCHIVE_LOCATIONS), archived


def test_parse_copyright_free_form_and_without_star_paragraph():
    free = "This package was debianized...\n\nCopyright (C) 1999 Jane Doe\n\nThis program is free software; " \
           "you can redistribute it under the terms of the GNU General Public License as published by the " \
           "Free Software Foundation; either version 2 of the License, or (at your option) any later version.\n"
    assert parse_copyright(free).licence == "GPL-2+"
    assert "Jane Doe" in parse_copyright(free).credit
    dep5 = "Format: x\n\nFiles: sounds/*\nCopyright: 2010 A\nLicense: CC-BY-3.0\n\nFiles: src/*\nCopyright: 2011 B\nLicense: GPL-3+\n"
    assert parse_copyright(dep5).licence == "CC-BY-3.0 and GPL-3+"
    assert parse_copyright("").licence == ""


def test_every_audio_format_of_the_manifest_is_one_the_indexer_reads():
    from foleystudio.training.index import AUDIO_SUFFIXES

    if not open_corpus.DEFAULT_MANIFEST.exists():
        pytest.skip("the shared corpus manifest is not beside this checkout")
    suffixes = {Path(entry.path).suffix.lower() for entry in read_manifest(open_corpus.DEFAULT_MANIFEST)}
    assert suffixes <= AUDIO_SUFFIXES, suffixes - AUDIO_SUFFIXES
