"""The library indexer on a generated library: captions, facts, split, incremental, resume."""

import json
import os

import numpy as np
import pytest
import soundfile as sf

from foleystudio.audio.wav import BextInfo, write_wav
from foleystudio.errors import UserInputError
from foleystudio.training import index as index_module
from foleystudio.training.index import assign_splits, index_library, read_index


def _tone(seconds, channels=1, rate=44100):
    return np.full((channels, int(seconds * rate)), 0.1, np.float32)


@pytest.fixture
def library(tmp_path):
    """A small library: UCS names, sidecars, BWF metadata, OGG/FLAC/MP3, broken files, unicode."""
    root = tmp_path / "library"
    for folder in ("Show", "Kitchen Foley", "Été", "Rain/Night"):
        (root / folder).mkdir(parents=True)
    write_wav(root / "Show/DOORWood_Creaky Door Open_JD_Show.wav", _tone(0.5, 2, 48000), 48000)
    write_wav(root / "Show/DOORWood_Door Slam_JD_Show.wav", _tone(0.25), 44100,
              bext=BextInfo(description="heavy door slammed shut"))
    write_wav(root / "Kitchen Foley/glassBreak_SFX_final_v2.wav", _tone(0.3), 44100)
    write_wav(root / "Kitchen Foley/cup.wav", _tone(0.2), 44100)
    (root / "Kitchen Foley/cup.txt").write_text("ceramic cup set down on a table")
    sf.write(str(root / "Été/pas dans la neige.flac"), _tone(0.4).T, 44100)
    (root / "Été/pas dans la neige.json").write_text(json.dumps(
        {"caption": "footsteps in deep snow", "licence": "CC-BY-4.0", "credit": "Zoé"}, ensure_ascii=False))
    with sf.SoundFile(str(root / "Rain/Night/rain.ogg"), "w", 22050, 1, format="OGG") as file:
        file.comment = "rain on a tent at night"
        file.write(_tone(0.5, rate=22050)[0])
    sf.write(str(root / "Rain/Night/drops 01.mp3"), _tone(0.3).T, 44100)
    (root / "Rain/broken.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    (root / "Rain/empty.wav").write_bytes(b"")
    (root / "Rain/notes.txt").write_text("not audio")
    (root / ".hidden.wav").write_bytes(b"")
    write_wav(root / "wind_gust_03.wav", _tone(0.1), 44100)
    return root


def _clips_by_path(index_dir):
    return {clip.path: clip for clip in read_index(index_dir).clips}


def test_index_captions_facts_and_unreadable(library, tmp_path):
    calls = []
    report = index_library(library, tmp_path / "index", progress=lambda done, total: calls.append((done, total)))
    clips = _clips_by_path(tmp_path / "index")
    assert set(clips) == {
        "Show/DOORWood_Creaky Door Open_JD_Show.wav", "Show/DOORWood_Door Slam_JD_Show.wav",
        "Kitchen Foley/glassBreak_SFX_final_v2.wav", "Kitchen Foley/cup.wav", "Été/pas dans la neige.flac",
        "Rain/Night/rain.ogg", "Rain/Night/drops 01.mp3", "wind_gust_03.wav",
    }
    def caption(path):
        return clips[path].caption, clips[path].caption_source
    assert caption("Show/DOORWood_Creaky Door Open_JD_Show.wav") == ("Creaky Door Open (doors, wood)", "ucs")
    assert caption("Show/DOORWood_Door Slam_JD_Show.wav") == ("heavy door slammed shut", "metadata")
    assert caption("Kitchen Foley/glassBreak_SFX_final_v2.wav") == ("glass break, kitchen foley", "words")
    assert caption("Kitchen Foley/cup.wav") == ("ceramic cup set down on a table", "sidecar")
    assert caption("Rain/Night/rain.ogg") == ("rain on a tent at night", "metadata")
    assert caption("Rain/Night/drops 01.mp3") == ("drops, night rain", "words")
    snow = clips["Été/pas dans la neige.flac"]
    assert (snow.caption, snow.caption_source, snow.licence, snow.credit) == ("footsteps in deep snow", "sidecar", "CC-BY-4.0", "Zoé")
    door = clips["Show/DOORWood_Creaky Door Open_JD_Show.wav"]
    assert (door.channels, door.sample_rate, door.category, door.source) == (2, 48000, "DOORS-WOOD", "Show")
    assert door.duration_s == pytest.approx(0.5)
    assert clips["Rain/Night/rain.ogg"].sample_rate == 22050
    assert clips["Rain/Night/drops 01.mp3"].duration_s == pytest.approx(0.3, abs=0.06)
    assert clips["wind_gust_03.wav"].source == "wind gust"
    assert door.absolute(library).is_file()
    assert door.size == door.absolute(library).stat().st_size
    unreadable = dict(read_index(tmp_path / "index").unreadable)
    assert set(unreadable) == {"Rain/broken.wav", "Rain/empty.wav"}
    assert "0 bytes" in unreadable["Rain/empty.wav"]
    assert report.clips == 8 and len(report.unreadable) == 2
    assert report.caption_sources == {"ucs": 1, "metadata": 2, "words": 3, "sidecar": 2}
    assert calls[-1] == (10, 10) and [done for done, _ in calls] == list(range(1, 11))
    meta = json.loads((tmp_path / "index/index.json").read_text(encoding="utf-8"))
    assert (meta["schema"], meta["clips"], meta["sources"]) == (1, 8, report.sources)
    assert meta["library_root"] == str(library.resolve())
    assert not (tmp_path / "index/clips.jsonl.partial").exists()


def test_split_is_by_source_and_deterministic(library, tmp_path):
    index_library(library, tmp_path / "a", val_fraction=0.3, seed=1)
    index_library(library, tmp_path / "b", val_fraction=0.3, seed=1)
    clips = read_index(tmp_path / "a").clips
    sides: dict[str, set] = {}
    for clip in clips:
        sides.setdefault(clip.source, set()).add(clip.split)
    assert all(len(side) == 1 for side in sides.values())
    assert {split for side in sides.values() for split in side} == {"train", "val"}
    assert (tmp_path / "a/clips.jsonl").read_text() == (tmp_path / "b/clips.jsonl").read_text()
    index = read_index(tmp_path / "a")
    assert len(index.split("train")) + len(index.split("val")) == len(clips)


def test_assign_splits_rules():
    sources = [f"source {i}" for i in range(200)]
    splits = assign_splits(sources, 0.2, seed=0)
    assert 20 <= sum(side == "val" for side in splits.values()) <= 60
    assert splits != assign_splits(sources, 0.2, seed=1)
    # Tiny fractions still give each side a source when there are two or more.
    assert sorted(assign_splits(["a", "b"], 1e-9).values()) == ["train", "val"]
    assert assign_splits(["only"], 0.5) in ({"only": "train"}, {"only": "val"})
    assert set(assign_splits(["a", "b", "c"], 0.0).values()) == {"train"}
    with pytest.raises(UserInputError):
        assign_splits(["a"], 1.0)


def _counting_probe(monkeypatch):
    probed = []
    real = index_module.probe_audio

    def probe(path):
        probed.append(path.name)
        return real(path)

    monkeypatch.setattr(index_module, "probe_audio", probe)
    return probed


def test_incremental_reindex_probes_only_changed_files(library, tmp_path, monkeypatch):
    index_library(library, tmp_path / "index")
    first = (tmp_path / "index/clips.jsonl").read_text()
    probed = _counting_probe(monkeypatch)
    report = index_library(library, tmp_path / "index")
    # Unreadable files are tried again (they may have been fixed); readable ones are not.
    assert sorted(probed) == ["broken.wav", "empty.wav"] and report.reused == 8
    assert (tmp_path / "index/clips.jsonl").read_text() == first

    probed.clear()
    cup = library / "Kitchen Foley/cup.wav"
    write_wav(cup, _tone(0.6), 44100, overwrite=True)
    os.utime(cup, (1e9, 1e9))
    new_file = library / "Show/DOORWood_Knock_JD_Show.wav"
    write_wav(new_file, _tone(0.1), 44100)
    (library / "wind_gust_03.wav").unlink()
    index_library(library, tmp_path / "index")
    assert sorted(probed) == sorted(["cup.wav", "DOORWood_Knock_JD_Show.wav", "broken.wav", "empty.wav"])
    clips = _clips_by_path(tmp_path / "index")
    assert clips["Kitchen Foley/cup.wav"].duration_s == pytest.approx(0.6)
    assert "wind_gust_03.wav" not in clips and "Show/DOORWood_Knock_JD_Show.wav" in clips


def test_changed_or_removed_sidecar_rederives_the_caption(library, tmp_path, monkeypatch):
    index_library(library, tmp_path / "index")
    sidecar = library / "Kitchen Foley/cup.txt"
    sidecar.write_text("porcelain cup clinks")
    later = json.loads((tmp_path / "index/index.json").read_text())["created_epoch"] + 10
    os.utime(sidecar, (later, later))
    probed = _counting_probe(monkeypatch)
    index_library(library, tmp_path / "index")
    assert "cup.wav" in probed
    assert _clips_by_path(tmp_path / "index")["Kitchen Foley/cup.wav"].caption == "porcelain cup clinks"
    sidecar.unlink()
    index_library(library, tmp_path / "index")
    assert _clips_by_path(tmp_path / "index")["Kitchen Foley/cup.wav"].caption_source == "words"


class _Stop(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_index(library, tmp_path, monkeypatch):
    index_library(library, tmp_path / "whole", val_fraction=0.3)

    def stop_after_four(done, total):
        if done == 4:
            raise _Stop

    monkeypatch.setattr(index_module, "FLUSH_EVERY", 2)
    with pytest.raises(_Stop):
        index_library(library, tmp_path / "resumed", progress=stop_after_four, val_fraction=0.3)
    assert (tmp_path / "resumed/clips.jsonl.partial").is_file()
    assert not (tmp_path / "resumed/clips.jsonl").exists()
    probed = _counting_probe(monkeypatch)
    report = index_library(library, tmp_path / "resumed", val_fraction=0.3)
    assert len(probed) == 10 - 4 and report.reused == 4
    assert (tmp_path / "resumed/clips.jsonl").read_text() == (tmp_path / "whole/clips.jsonl").read_text()
    assert read_index(tmp_path / "resumed").unreadable == read_index(tmp_path / "whole").unreadable
    assert not (tmp_path / "resumed/clips.jsonl.partial").exists()


def test_bad_inputs(tmp_path):
    with pytest.raises(UserInputError, match="not a folder"):
        index_library(tmp_path / "missing", tmp_path / "index")
    with pytest.raises(UserInputError, match="no dataset index"):
        read_index(tmp_path)
    (tmp_path / "empty_library").mkdir()
    report = index_library(tmp_path / "empty_library", tmp_path / "index")
    assert (report.clips, report.sources) == (0, 0)
    assert read_index(tmp_path / "index").clips == []
