"""Feature cache: shards hold latents, quantised curves, token ids and FLAC excerpts; sizes are reported."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import loudness_curve
from foleystudio.training.features import (
    FeatureCache,
    build_feature_cache,
    dequantise_curve,
    quantise_curve,
)
from foleystudio.training.index import read_index

RATE = 44100
CAPTIONS = ["footsteps on gravel", "door slam wooden", "glass clink", "wind howling", "dog bark"]


def synthetic_wave(index: int, seconds: float) -> np.ndarray:
    """A decaying tone burst train, a different pitch and level per clip, slightly different channels."""
    t = np.arange(int(seconds * RATE)) / RATE
    envelope = np.exp(-((t * (2 + index)) % 1.0) * 6)
    tone = 0.3 * (0.5 + 0.1 * index) * envelope * np.sin(2 * np.pi * (220 + 110 * index) * t)
    return np.stack([tone, 0.7 * tone]).astype(np.float32)


def make_fake_index(folder: Path, count: int = 5, seconds: float = 1.5, val: int = 1,
                    categories: tuple[str, ...] = ("test",)) -> Path:
    """An index folder in the contract's format (index.json + clips.jsonl) over synthetic WAVs; clip i is
    labelled categories[i % len(categories)]."""
    library = folder / "library"
    library.mkdir(parents=True)
    rows = []
    for i in range(count):
        path = f"clip{i}.wav"
        soundfile.write(library / path, synthetic_wave(i, seconds).T, RATE, subtype="PCM_16")
        rows.append({"id": hashlib.sha1(path.encode()).hexdigest(), "path": path, "caption": CAPTIONS[i % 5],
                     "caption_source": "sidecar", "category": categories[i % len(categories)], "duration_s": seconds, "channels": 2,
                     "sample_rate": RATE, "licence": "CC0", "credit": "", "source": f"s{i}",
                     "split": "val" if i >= count - val else "train", "size": 0, "mtime": 0.0})
    index = folder / "index"
    index.mkdir()
    (index / "index.json").write_text(json.dumps({"schema": 1, "library_root": str(library), "created": "",
                                                  "clips": count, "sources": count, "unreadable": []}))
    (index / "clips.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return index


def index_object(folder: Path, count: int = 5, seconds: float = 1.5):
    """The fake index folder read back as the real `Index` (what a caller may pass instead of a path)."""
    return read_index(make_fake_index(folder, count, seconds))


def test_curve_quantisation_is_within_a_quarter_lu():
    lufs = np.array([[-80.0, -70.0, -33.3, -0.1], [0.0, -12.26, -np.inf, -69.9]])
    back = dequantise_curve(quantise_curve(lufs))
    expected = np.clip(np.nan_to_num(lufs, neginf=-70.0), -70, 0)
    assert quantise_curve(lufs).dtype == torch.uint8
    assert np.abs(back.numpy() - expected).max() <= 0.25 + 1e-6


def test_cache_round_trips_latents_curves_tokens_and_waves(tmp_path):
    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import preset

    codec = build_engine(preset("tiny")).codec
    index = index_object(tmp_path, count=5, seconds=1.5)
    calls = []
    report = build_feature_cache(index, tmp_path / "cache", codec=codec, clip_seconds=1.0, shard_items=2,
                                 wave_seconds=0.5, max_wave_clips=3, progress=lambda d, t: calls.append((d, t)))
    assert report.items == 5 and calls[-1] == (5, 5)
    assert len(list((tmp_path / "cache").glob("shard-*.safetensors"))) == 3  # 2 + 2 + 1 items
    cache = FeatureCache(tmp_path / "cache")
    train, val = cache.items("train"), cache.items("val")
    assert [len(train), len(val)] == [4, 1]
    item = train[1]
    audio, _ = read_audio(index.library_root / "clip1.wav", sample_rate=RATE, channels=2, duration_s=1.0)
    expected_latent = codec.encode(torch.from_numpy(audio)[None])[0]
    assert item.latent.shape == expected_latent.shape
    assert torch.allclose(item.latent, expected_latent, atol=2e-2, rtol=1e-2)  # float16 storage
    curve = loudness_curve(audio, RATE)
    assert item.curve.shape == (2, len(curve))
    assert np.abs(item.curve[0].numpy() - np.maximum(curve.left, -70)).max() <= 0.25 + 1e-4
    assert item.caption == "door slam wooden"
    assert item.text_ids == tuple(cache.tokenizer().encode("door slam wooden"))
    assert item.duration_s == pytest.approx(1.0, abs=1e-3)
    waves = [i.wave for i in cache.items(None)]
    assert sum(w is not None for w in waves) == 3  # bounded by max_wave_clips
    assert waves[0].shape == (2, RATE // 2)
    assert np.abs(waves[0].numpy() - synthetic_wave(0, 0.5)).max() < 1e-3  # 16-bit FLAC
    assert cache.size_bytes() == report.compact_bytes


def test_cache_reads_an_index_folder_and_reports_size_per_hour(tmp_path):
    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import preset

    index = make_fake_index(tmp_path, count=3, seconds=2.0)
    codec = build_engine(preset("tiny")).codec
    report = build_feature_cache(index, tmp_path / "cache", codec=codec, clip_seconds=2.0)
    assert report.items == 3 and report.audio_seconds == pytest.approx(6.0, abs=0.01)
    # 64-channel float16 latents at 21.5/s dominate: ~9.5 MiB/h plus per-item overhead on tiny sets.
    assert 5 < report.mib_per_hour < 40
    assert report.hours_in_64_mib == pytest.approx(64 / report.mib_per_hour)


def test_unreadable_clip_is_skipped_not_fatal(tmp_path):
    index = index_object(tmp_path, count=3, seconds=1.0)
    (index.library_root / "clip1.wav").write_bytes(b"not audio")
    report = build_feature_cache(index, tmp_path / "cache", clip_seconds=1.0)
    assert report.items == 2 and [path for path, _ in report.skipped] == ["clip1.wav"]
    assert all(item.latent is None for item in FeatureCache(tmp_path / "cache").items(None))


def test_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not a feature cache"):
        FeatureCache(tmp_path)


def test_onsets_are_cached_so_the_picture_can_be_drawn_again(tmp_path):
    from foleystudio.training.onsets import detect_onsets

    index = index_object(tmp_path, count=3, seconds=2.0)
    build_feature_cache(index, tmp_path / "cache", clip_seconds=2.0)
    cache = FeatureCache(tmp_path / "cache")
    for item in cache.items(None):
        audio, _ = read_audio(index.library_root / f"clip{int(item.source[1:])}.wav", sample_rate=RATE, channels=2)
        expected = detect_onsets(audio, RATE)
        assert len(item.onsets_s) == len(expected) >= 2  # the bursts repeat 2-4 times per second
        assert np.abs(np.array(item.onsets_s) - expected).max() <= 1e-4


def test_a_schema_1_cache_still_reads_without_onsets(tmp_path):
    index = index_object(tmp_path, count=2, seconds=1.0)
    build_feature_cache(index, tmp_path / "cache", clip_seconds=1.0)
    manifest_path = tmp_path / "cache" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["schema"] = 1
    for entry in manifest["items"]:
        del entry["onsets_s"]
    manifest_path.write_text(json.dumps(manifest))
    assert [item.onsets_s for item in FeatureCache(tmp_path / "cache").items(None)] == [None, None]
    manifest["schema"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="schema 99"):
        FeatureCache(tmp_path / "cache")
