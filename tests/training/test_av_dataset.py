"""A rendered AV-pair folder is what the LUFS task trains on, and renders the same for a seed."""

import numpy as np
import pytest
from safetensors.torch import load_file

from foleystudio.audio.wav import write_wav
from foleystudio.cli import main
from foleystudio.training.av_dataset import render_av_dataset
from foleystudio.training.index import index_library
from foleystudio.training.tasks import load_lufs_pairs


def burst_clip(seed, seconds=2.0, rate=44100):
    rng = np.random.default_rng(seed)
    audio = np.zeros((2, int(seconds * rate)), dtype=np.float32)
    for start in (0.3, 1.1):
        n = int(0.1 * rate)
        audio[:, int(start * rate) : int(start * rate) + n] = 0.3 * rng.standard_normal((2, n))
    return audio


@pytest.fixture
def index_dir(tmp_path):
    library = tmp_path / "library"
    for folder, name in (("dogs", "dog_bark.wav"), ("doors", "door_slam.wav"), ("steps", "footsteps_wood.wav")):
        (library / folder).mkdir(parents=True)
        write_wav(library / folder / name, burst_clip(len(name)), 44100, bit_depth=24)
    index_library(library, tmp_path / "index", val_fraction=0.34)
    return tmp_path / "index"


def test_pairs_load_as_lufs_training_data_with_aligned_curves(index_dir, tmp_path):
    report = render_av_dataset(index_dir, tmp_path / "pairs", count=3, seconds=2.0, size=32)
    assert report.pairs == 3 and report.skipped == ()
    pairs = load_lufs_pairs(tmp_path / "pairs")
    assert len(pairs) == 3
    for frames, curve in pairs:
        assert frames.shape == (12, 32, 32, 3) and curve.shape == (12, 2)  # 2 s at 6 fps
        assert float(curve.max()) > -40.0 and float(curve.min()) >= -70.0
    assert len((tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines()) == 3


def test_the_same_seed_renders_the_same_pairs(index_dir, tmp_path):
    render_av_dataset(index_dir, tmp_path / "a", count=2, seconds=1.0, size=16, seed=4)
    render_av_dataset(index_dir, tmp_path / "b", count=2, seconds=1.0, size=16, seed=4)
    for name in ("pair-00000.safetensors", "pair-00001.safetensors"):
        a, b = load_file(str(tmp_path / "a" / name)), load_file(str(tmp_path / "b" / name))
        assert all(bool((a[key] == b[key]).all()) for key in ("frames", "curve"))


def test_the_command_renders_pairs_and_refuses_bad_counts(index_dir, tmp_path, capsys):
    assert main(["dataset", "av-pairs", str(index_dir), "--out", str(tmp_path / "c"), "--count", "2",
                 "--seconds", "1", "--size", "16"]) == 0
    assert "2 pairs" in capsys.readouterr().out
    assert main(["dataset", "av-pairs", str(index_dir), "--out", str(tmp_path / "d"), "--count", "0"]) == 2
