"""`foleystudio dataset index` / `open-corpus` through argparse with the command's add_parser."""

import argparse
import io
import sys
import types

import numpy as np
import pytest

from foleystudio.audio.wav import write_wav
from foleystudio.commands import dataset
from foleystudio.errors import UserInputError
from foleystudio.training.index import read_index


def _parse(argv):
    parser = argparse.ArgumentParser(prog="foleystudio")
    dataset.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def _library(root):
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
        write_wav(root / folder / f"WATRSplsh_Splash {folder}_AB_Pool.wav", np.full((1, 4410), 0.1, np.float32), 44100)
    (root / "a" / "bad.wav").write_bytes(b"junk" * 10)


def test_index_command_prints_a_summary(tmp_path, capsys):
    _library(tmp_path / "lib")
    args = _parse(["dataset", "index", str(tmp_path / "lib"), "--out", str(tmp_path / "idx"), "--val-fraction", "0.5", "--seed", "3"])
    assert args.run(args) == 0
    out = capsys.readouterr()
    assert "2 clips from 2 sources" in out.out and "1 unreadable" in out.out and "ucs 2" in out.out
    assert "unreadable: a/bad.wav" in out.out
    assert out.err == ""  # not a terminal: no progress line
    assert {clip.split for clip in read_index(tmp_path / "idx").clips} == {"train", "val"}


def test_bad_arguments_are_usage_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _parse(["dataset", "index", "lib", "--out", "idx", "--val-fraction", "1.5"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        _parse(["dataset", "index", "lib"])  # --out is required
    args = _parse(["dataset", "index", str(tmp_path / "missing"), "--out", str(tmp_path / "idx")])
    with pytest.raises(UserInputError, match="not a folder"):
        args.run(args)


def test_progress_line_draws_only_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    line = dataset.ProgressLine("indexing", terminal)
    line(1, 4)
    line(4, 4)
    line.close()
    assert "\rindexing 1/4 (25%)" in terminal.getvalue() and terminal.getvalue().endswith("4/4 (100%)\n")
    quiet = io.StringIO()
    dataset.ProgressLine("indexing", quiet)(1, 1)
    assert quiet.getvalue() == ""


def test_open_corpus_passes_options(tmp_path, monkeypatch, capsys):
    calls = []
    module = type(sys)("foleystudio.training.open_corpus")

    def build_open_corpus(out_dir, **options):
        calls.append((out_dir, options))
        return types.SimpleNamespace(summary=lambda: "3 clips")

    module.build_open_corpus = build_open_corpus
    monkeypatch.setitem(sys.modules, "foleystudio.training.open_corpus", module)
    args = _parse(["dataset", "open-corpus", "--out", str(tmp_path / "c"), "--packages", "a, b",
                   "--manifest", "m.tsv", "--cache", str(tmp_path / "cache")])
    assert args.run(args) == 0
    out_dir, options = calls[0]
    assert out_dir == tmp_path / "c"
    assert options["packages"] == ["a", "b"] and options["cache_dir"] == tmp_path / "cache"
    assert str(options["manifest"]) == "m.tsv" and callable(options["progress"])
    assert "3 clips" in capsys.readouterr().out


def test_features_command_builds_a_cache_and_refuses_to_overwrite_one(tmp_path, capsys):
    from foleystudio.training.features import FeatureCache
    from tests.training.test_features import make_fake_index

    index = make_fake_index(tmp_path, count=3, seconds=1.0)
    args = _parse(["dataset", "features", str(index), "--out", str(tmp_path / "cache"), "--clip-seconds", "1",
                   "--wave-seconds", "0.5"])
    assert args.run(args) == 0
    assert "3 clips" in capsys.readouterr().out
    items = FeatureCache(tmp_path / "cache").items(None)
    assert len(items) == 3 and all(item.latent is not None and item.wave is not None for item in items)
    before = (tmp_path / "cache" / "manifest.json").read_bytes()
    with pytest.raises(UserInputError, match="already holds a feature cache"):
        args.run(args)
    assert (tmp_path / "cache" / "manifest.json").read_bytes() == before
    args = _parse(["dataset", "features", str(tmp_path / "nowhere"), "--out", str(tmp_path / "other")])
    with pytest.raises(UserInputError, match="not an index folder"):
        args.run(args)
