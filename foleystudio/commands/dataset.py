"""`foleystudio dataset ...`: building training data.

- ``dataset index LIBRARY_DIR --out INDEX_DIR``: index any folder of sounds (captions, audio facts,
  licence, train/validation split by source); re-running it updates only what changed, and a run
  that was stopped picks up where it stopped (foleystudio.training.index).
- ``dataset open-corpus --out DIR``: fetch and index the open corpus of
  shared/corpus/train_manifest.tsv (foleystudio.training.open_corpus, imported only when used so
  the rest of the CLI works without it).

A progress line goes to stderr when it is a terminal; the summary goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from foleystudio.errors import UserInputError

# Redraw the progress line at most this often (s): a terminal slows indexing if redrawn per file.
_REDRAW_S = 0.1


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 0 and below 1")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("dataset", help="index sound libraries and build training data")
    commands = parser.add_subparsers(dest="dataset_command", metavar="DATASET_COMMAND", required=True,
                                     parser_class=type(parser))
    index = commands.add_parser("index", help="index a folder of sounds (captions, facts, licence, split)")
    index.add_argument("library", metavar="LIBRARY_DIR", help="folder of sounds (searched recursively)")
    index.add_argument("--out", required=True, metavar="INDEX_DIR", help="folder for the index (updated in place)")
    index.add_argument("--val-fraction", type=_fraction, default=0.1, metavar="F",
                       help="share of sources held out for validation (default 0.1)")
    index.add_argument("--seed", type=int, default=0, help="seed of the train/validation split")
    index.set_defaults(run=run_index)

    corpus = commands.add_parser("open-corpus", help="fetch and index the open training corpus")
    corpus.add_argument("--out", required=True, metavar="DIR", help="folder for the library and its index")
    corpus.add_argument("--manifest", metavar="PATH", help="corpus manifest (default: the shared train_manifest.tsv)")
    corpus.add_argument("--packages", metavar="P1,P2", help="only these packages (comma-separated)")
    corpus.add_argument("--cache", metavar="DIR", help="where downloaded packages are kept")
    corpus.set_defaults(run=run_open_corpus)

    pairs = commands.add_parser("av-pairs", help="render audio-visual training pairs from an index")
    pairs.add_argument("index", metavar="INDEX_DIR", help="an index written by 'dataset index'")
    pairs.add_argument("--out", required=True, metavar="DIR", help="folder for pair-*.safetensors and pairs.jsonl")
    pairs.add_argument("--count", type=int, metavar="N", help="pairs to render (default: one per clip)")
    pairs.add_argument("--split", choices=("train", "val"), default="train")
    pairs.add_argument("--seconds", type=float, default=4.0, help="length of each pair (default 4)")
    pairs.add_argument("--size", type=int, default=64, help="frame size in pixels (default 64)")
    pairs.add_argument("--seed", type=int, default=0)
    pairs.set_defaults(run=run_av_pairs)


class ProgressLine:
    """``progress(done, total[, message])`` drawing "\\rlabel done/total (p%) message" on a terminal,
    else nothing (the open-corpus builder says which package it is on)."""

    def __init__(self, label: str, stream=None):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._last = 0.0
        self._drawn = False

    def __call__(self, done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._last < _REDRAW_S):
            return
        self._last = now
        percent = 100 * done // total if total else 100
        # A package name can be shorter than the one before it: clear the rest of the line.
        detail = f" {message}\033[K" if message else ""
        print(f"\r{self.label} {done}/{total} ({percent}%){detail}", end="", file=self.stream, flush=True)
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            print(file=self.stream, flush=True)
            self._drawn = False


def run_index(args: argparse.Namespace) -> int:
    from foleystudio.training.index import index_library

    progress = ProgressLine("indexing")
    try:
        report = index_library(args.library, args.out, progress=progress, val_fraction=args.val_fraction, seed=args.seed)
    finally:
        progress.close()
    print(f"{report.index_dir}: {report.summary()}")
    for path, reason in report.unreadable[:20]:
        print(f"  unreadable: {path}: {reason}")
    if len(report.unreadable) > 20:
        print(f"  ... and {len(report.unreadable) - 20} more (all are listed in index.json)")
    return 0


def run_open_corpus(args: argparse.Namespace) -> int:
    from foleystudio.training.open_corpus import build_open_corpus
    options = {}
    if args.manifest:
        options["manifest"] = Path(args.manifest)
    if args.packages:
        packages = [name.strip() for name in args.packages.split(",") if name.strip()]
        if not packages:
            raise UserInputError("--packages needs at least one package name")
        options["packages"] = packages
    if args.cache:
        options["cache_dir"] = Path(args.cache)
    progress = ProgressLine("open corpus")
    try:
        report = build_open_corpus(Path(args.out), progress=progress, **options)
    finally:
        progress.close()
    print(f"{args.out}: {report.summary()}")
    return 0


def run_av_pairs(args: argparse.Namespace) -> int:
    from foleystudio.training.av_dataset import render_av_dataset

    if args.count is not None and args.count < 1:
        raise UserInputError("--count must be 1 or more")
    if not (args.seconds > 0 and args.size >= 8):
        raise UserInputError("--seconds must be positive and --size at least 8 pixels")
    progress = ProgressLine("rendering pairs")
    try:
        report = render_av_dataset(Path(args.index), Path(args.out), count=args.count, split=args.split,
                                   seed=args.seed, seconds=args.seconds, size=args.size, progress=progress)
    finally:
        progress.close()
    print(f"{args.out}: {report.summary()}")
    return 0
