"""`foleystudio dataset ...`: building training data.

- ``dataset index LIBRARY_DIR --out INDEX_DIR``: index any folder of sounds (captions, audio facts,
  licence, train/validation split by source); re-running it updates only what changed, and a run
  that was stopped picks up where it stopped (foleystudio.training.index).
- ``dataset features INDEX_DIR --out CACHE_DIR``: precompute the feature cache training reads
  (codec latents, 6 Hz curves, caption tokens, onsets; optionally FLAC excerpts for the codec), with
  the codec of ``--model`` (a trained model folder) or of ``--preset`` (foleystudio.training.features).
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

from foleystudio.commands.train import SIZES
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

    sequences = commands.add_parser(
        "sequences", help="compose long training sounds from an index's short training clips (walks, loops, events)")
    sequences.add_argument("index", metavar="INDEX_DIR", help="an index written by 'dataset index' or 'open-corpus'")
    sequences.add_argument("--out", required=True, metavar="DIR", help="new folder for the composites' library and index")
    sequences.add_argument("--per-category", type=int, default=60, metavar="N",
                           help="composites per labelled category (default 60)")
    sequences.add_argument("--seconds", type=float, default=10.0, help="length of each composite (default 10)")
    sequences.add_argument("--seed", type=int, default=0)
    sequences.set_defaults(run=run_sequences)

    features = commands.add_parser("features", help="precompute the feature cache that training reads")
    features.add_argument("index", metavar="INDEX_DIR", help="an index written by 'dataset index'")
    features.add_argument("--out", required=True, metavar="CACHE_DIR", help="folder for the shards and manifest")
    source = features.add_mutually_exclusive_group()
    source.add_argument("--model", metavar="MODEL", help="encode latents with this model's codec")
    source.add_argument("--preset", choices=SIZES, default="tiny",
                        help="or with this preset's codec (default tiny; small's is untrained until trained)")
    features.add_argument("--clip-seconds", type=float, default=10.0, help="seconds kept per clip (default 10)")
    features.add_argument("--wave-seconds", type=float, default=0.0,
                          help="also keep this much FLAC waveform per clip, for codec training (default 0)")
    features.add_argument("--max-wave-clips", type=int, metavar="N", help="keep waveforms of at most N clips")
    features.set_defaults(run=run_features)

    bank = commands.add_parser("reference-bank",
                               help="store a model's reference bank: a short latent per training caption, which "
                                    "text prompts retrieve as their reference sound")
    bank.add_argument("cache", metavar="CACHE_DIR", help="a feature cache built with the model's codec")
    bank.add_argument("--model", required=True, metavar="MODEL_DIR", help="the model folder to store it in")
    bank.add_argument("--seconds", type=float, default=3.0, help="seconds kept per sound (default 3)")
    bank.add_argument("--variants", type=int, default=0, metavar="N",
                      help="also keep up to N more recordings of each caption, which a take that keeps its "
                           "reference's sound uses in turn (default 0)")
    bank.add_argument("--replace", action="store_true", help="replace a bank the model folder already has")
    bank.set_defaults(run=run_reference_bank)


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


def run_sequences(args: argparse.Namespace) -> int:
    from foleystudio.training.sequences import compose_sequences

    if not (Path(args.index) / "index.json").is_file():
        raise UserInputError(f"{args.index}: not an index folder (no index.json); make one with 'dataset index'")
    progress = ProgressLine("composing")
    try:
        report = compose_sequences(Path(args.index), Path(args.out), per_category=args.per_category,
                                   seconds=args.seconds, seed=args.seed, progress=progress)
    finally:
        progress.close()
    print(f"{args.out}: {report.summary()}")
    return 0


def run_features(args: argparse.Namespace) -> int:
    from foleystudio.training.features import FeatureCache, build_feature_cache

    if not args.clip_seconds > 0 or args.wave_seconds < 0:
        raise UserInputError("--clip-seconds must be positive and --wave-seconds not negative")
    if FeatureCache.is_cache(args.out):
        raise UserInputError(f"{args.out} already holds a feature cache; choose another folder or delete it")
    if not (Path(args.index) / "index.json").is_file():
        raise UserInputError(f"{args.index}: not an index folder (no index.json); make one with 'dataset index'")
    codec = _codec(args)
    progress = ProgressLine("features")
    try:
        report = build_feature_cache(Path(args.index), Path(args.out), codec=codec, clip_seconds=args.clip_seconds,
                                     wave_seconds=args.wave_seconds, max_wave_clips=args.max_wave_clips,
                                     progress=progress)
    finally:
        progress.close()
    print(f"{args.out}: {report.summary()}")
    return 0


def run_reference_bank(args: argparse.Namespace) -> int:
    from foleystudio.atomic import atomic_output
    from foleystudio.engine.checkpoint import load_config
    from foleystudio.engine.config import EngineConfig
    from foleystudio.engine.reference_bank import BANK_FILE, VARIANTS_FILE, bank_files
    from foleystudio.training.features import FeatureCache
    from foleystudio.training.reference_bank_build import build_reference_bank

    folder = Path(args.model)
    if not (folder / "config.json").is_file():
        raise UserInputError(f"{folder}: not a model folder (no config.json)")
    existing = [folder / name for name in (BANK_FILE, VARIANTS_FILE) if (folder / name).exists()]
    if existing and not args.replace:
        raise UserInputError(f"{existing[0]} exists; pass --replace to replace it")
    if args.variants < 0:
        raise UserInputError(f"--variants must be 0 or more, got {args.variants}")
    if not FeatureCache.is_cache(args.cache):
        raise UserInputError(f"{args.cache}: not a feature cache (build one with 'dataset features')")
    config = load_config(folder, EngineConfig)
    if not config.generator.conditioners.ref_reads_latent:
        raise UserInputError(f"{folder}: this model reads reference sounds as waveforms; a bank is for models "
                             "trained with --reference-probability")
    bank = build_reference_bank(FeatureCache(args.cache), config.generator.latent_channels, args.seconds,
                                args.variants)
    files = bank_files(bank)
    for name, data in files.items():
        with atomic_output(folder / name, overwrite=args.replace) as temporary:
            temporary.write_bytes(data)
    if VARIANTS_FILE not in files:
        (folder / VARIANTS_FILE).unlink(missing_ok=True)  # variants of the bank it replaces
    variants = 0 if bank.variants is None else len(bank.variants)
    size = sum(len(data) for data in files.values()) / 2**20
    print(f"{folder / BANK_FILE}: {len(bank)} sounds and {variants} variants, {size:.1f} MiB")
    return 0


def _codec(args: argparse.Namespace):
    from foleystudio.engine.builder import build_engine, load_engine
    from foleystudio.engine.config import preset

    if args.model:
        return load_engine(args.model, "cpu").codec
    config = preset(args.preset)
    if args.preset == "small":  # the shipped small model uses the learned codec
        from foleystudio.training.tasks import with_learned_codec

        config = with_learned_codec(config)
    return build_engine(config, "cpu").codec
