"""Composite training sounds: walks keep a walking pace, loops have no gap, events stand apart, and
only training clips of one package go into a composite, whose sidecar carries that package's licence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from foleystudio.errors import UserInputError
from foleystudio.training import sequences
from foleystudio.training.index import read_index
from foleystudio.training.onsets import detect_onsets
from foleystudio.training.sequences import arrangement_of, compose_sequences, events, loop, steps

RATE = 44100


def click(seconds: float = 0.12) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    tone = 0.5 * np.exp(-t * 40) * np.sin(2 * np.pi * 900 * t)
    return np.stack([tone, tone]).astype(np.float32)


def noise(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal((2, int(seconds * RATE)))).astype(np.float32)


def test_each_category_goes_on_in_its_way():
    assert arrangement_of("footsteps") == "steps"
    assert arrangement_of("wind/weather") == arrangement_of("ambience") == "loop"
    assert arrangement_of("doors/mechanisms") == arrangement_of("weapons") == "events"
    assert arrangement_of("") is None


def test_a_walk_keeps_a_walking_pace_for_the_whole_length():
    audio = steps([click()], 10.0, np.random.default_rng(3))
    assert audio.shape == (2, 10 * RATE)
    gaps = np.diff(detect_onsets(audio, RATE))
    low, high = sequences.STEP_PERIOD_S
    jitter = 2 * sequences.STEP_JITTER * high
    assert len(gaps) >= 10 / high - 2
    assert low - jitter <= gaps.min() and gaps.max() <= high + jitter
    left, right = (np.abs(audio[:, int(t * RATE) : int(t * RATE) + 2000]).max(axis=1) for t in detect_onsets(audio, RATE)[:2])
    assert np.sign(left[0] - left[1]) == -np.sign(right[0] - right[1])  # the feet alternate sides


def test_a_loop_has_no_gap_and_its_crossfades_keep_the_level():
    audio = loop([noise(2.5, 1), noise(2.2, 2)], 10.0, np.random.default_rng(0))
    assert audio.shape == (2, 10 * RATE)
    block = RATE // 20
    rms_db = 10 * np.log10(np.square(audio[0, : audio.shape[1] // block * block]).reshape(-1, block).mean(axis=1))
    assert rms_db.max() - rms_db.min() < 1.5  # equal-power joins of uncorrelated noise: no dip, no bump


def test_events_stand_apart_in_silence():
    for seed in range(6):
        audio = events([click(0.3)], 10.0, np.random.default_rng(seed))
        onsets = detect_onsets(audio, RATE)
        assert 1 <= len(onsets) <= sequences.MAX_EVENTS
        assert np.all(np.diff(onsets) >= sequences.EVENT_GAP_S - 0.05)
        assert np.mean(np.abs(audio) < 1e-6) > 0.8


def write_library(folder: Path) -> Path:
    """An index over: footsteps (short clicks) of two packages, an ambience (3 s noise), a door, an
    unlabelled clip, and a held-out door whose caption must never be used."""
    library = folder / "library"
    library.mkdir(parents=True)
    clips = [("step_a0.wav", click(), "footsteps on wood", "footsteps", "pkg-a", "train"),
             ("step_a1.wav", click(0.2), "footsteps on wood", "footsteps", "pkg-a", "train"),
             ("step_b0.wav", click(), "footsteps", "footsteps", "pkg-b", "train"),
             ("amb.wav", noise(3.0), "a market", "ambience", "pkg-b", "train"),
             ("door.wav", click(0.4), "a door close", "doors/mechanisms", "pkg-a", "train"),
             ("hum.wav", noise(1.0, 5), "a hum", "", "pkg-a", "train"),
             ("held.wav", click(0.4), "a held out door", "doors/mechanisms", "pkg-v", "val")]
    rows = []
    for path, audio, caption, category, source, split in clips:
        soundfile.write(library / path, audio.T, RATE, subtype="PCM_16")
        rows.append({"id": hashlib.sha1(path.encode()).hexdigest(), "path": path, "caption": caption,
                     "caption_source": "sidecar", "category": category, "duration_s": audio.shape[1] / RATE,
                     "channels": 2, "sample_rate": RATE, "licence": f"licence of {source}",
                     "credit": f"credit of {source}", "source": source, "split": split, "size": 0, "mtime": 0.0})
    index = folder / "index"
    index.mkdir()
    (index / "index.json").write_text(json.dumps({"schema": 1, "library_root": str(library), "created": "",
                                                  "clips": len(rows), "sources": 3, "unreadable": []}))
    (index / "clips.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return index


def test_composites_use_training_clips_of_one_package_and_are_indexed_for_training(tmp_path):
    calls = []
    report = compose_sequences(write_library(tmp_path / "corpus"), tmp_path / "out", per_category=4, seconds=3.0,
                               seed=1, progress=lambda done, total: calls.append((done, total)))
    assert report.written == {"steps": 4, "loop": 4, "events": 4} and calls[-1] == (12, 12)
    assert report.seconds == pytest.approx(36.0)
    index = read_index(tmp_path / "out" / "index")
    assert len(index.clips) == 12 and {clip.split for clip in index.clips} == {"train"}
    assert "a held out door" not in {clip.caption for clip in index.clips}  # nothing held out leaks in
    assert "a hum" not in {clip.caption for clip in index.clips}  # unlabelled clips are left out
    for clip in index.clips:
        assert clip.duration_s == pytest.approx(3.0)
        assert clip.licence == f"licence of {clip.source}" and clip.credit == f"credit of {clip.source}"
    walks = {(clip.caption, clip.source) for clip in index.clips if clip.category == "footsteps"}
    assert walks <= {("footsteps on wood", "pkg-a"), ("footsteps", "pkg-b")}


def test_composing_refuses_a_used_folder_and_a_short_length(tmp_path):
    index = write_library(tmp_path / "corpus")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "mine.wav").write_bytes(b"keep")
    with pytest.raises(UserInputError, match="nothing is overwritten"):
        compose_sequences(index, tmp_path / "used")
    assert (tmp_path / "used" / "mine.wav").read_bytes() == b"keep"
    with pytest.raises(UserInputError, match="at least 2"):
        compose_sequences(index, tmp_path / "out", seconds=1.0)


def test_the_dataset_command_composes_and_explains_a_missing_index(tmp_path, capsys):
    import argparse

    from foleystudio.commands import dataset

    parser = argparse.ArgumentParser()
    dataset.add_parser(parser.add_subparsers(dest="command"))
    index = write_library(tmp_path / "corpus")
    args = parser.parse_args(["dataset", "sequences", str(index), "--out", str(tmp_path / "out"),
                              "--per-category", "2", "--seconds", "2.5"])
    assert args.run(args) == 0
    assert "6 composites" in capsys.readouterr().out
    missing = parser.parse_args(["dataset", "sequences", str(tmp_path), "--out", str(tmp_path / "o2")])
    with pytest.raises(UserInputError, match="not an index folder"):
        missing.run(missing)


def test_the_generator_trains_on_several_data_folders_and_only_the_generator_does(tmp_path):
    from foleystudio.training.features import FeatureCache
    from tests.training.test_reference_training import _parser, tiny_cache, train_tiny_dit

    cache = tiny_cache(tmp_path / "corpus")  # 4 training clips + 1 held out
    composites = tmp_path / "composites"
    compose_sequences(write_library(tmp_path / "library"), composites, per_category=2, seconds=2.0)
    parser = _parser()
    model = train_tiny_dit(parser, cache, tmp_path / "run", "--data", str(composites / "index"), steps=1)
    card = (model / "MODEL_CARD.md").read_text()
    assert f"source: {cache} + {composites / 'index'}" in card
    built = FeatureCache(tmp_path / "run" / "cache-1")  # the second --data, an index, cached beside the first
    assert len(built.entries) == 6
    assert "- clips: 10" in card  # 4 corpus training clips + 6 composites
    lufs = parser.parse_args(["train", "lufs", "--data", "a", "--data", "b", "--out", str(tmp_path / "no")])
    with pytest.raises(UserInputError, match="more than once"):
        lufs.run(lufs)


def test_clips_under_different_licences_never_share_a_composite(tmp_path):
    index = read_index(write_library(tmp_path / "corpus"))
    first = index.clips[0]
    relicensed = [first, type(first)(**{**vars(index.clips[1]), "licence": "another licence"})]
    groups = sequences._groups(relicensed, 10.0)["footsteps"]
    assert sorted(len(clips) for clips in groups.values()) == [1, 1]
    assert {key[2] for key in groups} == {first.licence, "another licence"}
