"""`foleystudio train codec|refiner|phase|dit|lufs` and `foleystudio finetune MODEL`: training from the command line.

``--data`` is a feature cache (``manifest.json``, see `foleystudio.training.features`), an index
folder (``index.json``: a cache is built into ``RUN_DIR/cache`` first, reused on resume), or for
``lufs`` a folder of ``*.safetensors`` (frames, curve) pairs; the generator (``dit``) takes ``--data``
more than once and trains on the items of all (each index cached into ``RUN_DIR/cache-N``). Training
resumes from ``RUN_DIR``'s last checkpoint unless ``--no-resume``; at the end the EMA weights are
exported as a model folder ``RUN_DIR/model`` that `foleystudio generate --model RUN_DIR/model` loads.

``train refiner`` trains the analytic codec's refiner (the within-band spectral shape its decoder
imposes; `foleystudio.engine.codec.refiner`), adding one to a model that has none: ``train refiner
--from models/foley-small`` keeps the latent and every other weight. ``--loudness-weight`` adds the
400 ms loudness distance between the shaped and the real spectrum to its loss (``RefinerTask``).

``train phase`` trains the analytic codec's phase decoder (each bin's phase predicted from the
decoder's magnitude, in place of Griffin-Lim's; `foleystudio.engine.codec.phase_decoder`), adding one
to a model that has none: ``train phase --from models/foley-small`` keeps the latent, the refiner
and every other weight (``PhaseTask``).

``train --from MODEL`` starts from an existing model folder's weights and trains one component with
the preset's full schedule: the chain for a new model is ``train codec`` -> ``train lufs --from
codec-run/model`` -> ``train dit --from lufs-run/model --share-frame-encoder`` (the DiT reads the
picture through the LUFS predictor's trained, frozen frame encoder; ``--video-probability`` is the
share of DiT crops that get their rendered AV-pair picture, default 0.5). ``--reference-probability``
is the share that also gets a reference sound (another clip with the same caption, from the cache's
latents); ``dataset reference-bank`` then gives the model the bank its text prompts retrieve from.
A fresh generator gets a tokenizer trained on the data's captions; the other components keep the
weights they came with.

``finetune`` starts from an existing model folder (all components as they were), trains one
component (``--component``, default the generator) for fewer steps (default 2000) at a lower
learning rate (default 1/10 of the preset's), with a short warm-up. It fine-tunes all weights of
that component; low-rank adapters are not implemented (the models are small enough that a full
fine-tune of one component fits any GPU, and the exported folder keeps the strict format).
Multi-GPU: ``torchrun --nproc_per_node=N -m foleystudio train ...``.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path

from foleystudio.commands._args import positive_int

logger = logging.getLogger(__name__)

TASKS = ("codec", "refiner", "phase", "dit", "lufs")
# The presets with a training schedule; other models train with the last one's (small's).
SIZES = ("tiny", "compact", "small")
COMPONENT_TASK = {"generator": "dit", "codec": "codec", "lufs_predictor": "lufs"}
# Per task and preset: (steps, batch size, learning rate).
DEFAULTS = {
    ("codec", "tiny"): (200, 4, 3e-3), ("codec", "small"): (200_000, 16, 1e-4),
    ("dit", "tiny"): (200, 4, 2e-3), ("dit", "small"): (300_000, 32, 1e-4),
    ("lufs", "tiny"): (200, 4, 3e-3), ("lufs", "small"): (50_000, 32, 1e-4),
    # The CPU-trained foley-small (see models/foley-small/MODEL_CARD.md).
    ("codec", "compact"): (2_000, 4, 1e-3), ("dit", "compact"): (30_000, 16, 1e-3),
    ("lufs", "compact"): (6_000, 32, 2e-3),
    ("refiner", "tiny"): (200, 4, 1e-3), ("refiner", "small"): (20_000, 16, 1e-3),
    ("refiner", "compact"): (3_000, 16, 1e-3),
    ("phase", "tiny"): (200, 4, 1e-3), ("phase", "small"): (20_000, 16, 1e-3),
    ("phase", "compact"): (4_000, 8, 1e-3),
}


def add_parser(subparsers) -> None:
    train = subparsers.add_parser(
        "train", help="train the codec, the analytic codec's refiner or phase decoder, the generator (dit) or the "
                      "LUFS predictor")
    train.add_argument("task", choices=TASKS)
    _common(train)
    train.add_argument("--preset", default="small", choices=SIZES, help="model size (default small)")
    train.add_argument("--from", dest="start_from", metavar="MODEL",
                       help="start from this model folder's weights (its preset wins over --preset)")
    train.add_argument("--share-frame-encoder", action="store_true",
                       help="dit: read the picture through the LUFS predictor's frame encoder (train lufs first)")
    train.set_defaults(run=run_train)
    finetune = subparsers.add_parser("finetune", help="adapt an existing model to your library")
    finetune.add_argument("model", help="model folder or registry name to start from")
    finetune.add_argument("--component", default="generator", choices=tuple(COMPONENT_TASK))
    _common(finetune)
    finetune.set_defaults(run=run_finetune)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="DIR", action="append",
                        help="index folder, feature cache, or AV pairs (lufs); dit: give it again to train on "
                             "several (e.g. the corpus and its 'dataset sequences' composites)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder: checkpoints, logs, model/")
    parser.add_argument("--steps", type=positive_int, help="optimiser steps")
    parser.add_argument("--batch-size", type=positive_int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--grad-accum", type=positive_int, default=1)
    parser.add_argument("--checkpoint-every", type=float, default=120.0, metavar="S", help="seconds between checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--val-data", metavar="DIR",
                        help="lufs: held-out AV pairs ('dataset av-pairs --split val'); without them the periodic "
                             "evaluation runs on training pairs and is logged as train4_*")
    parser.add_argument("--video-probability", type=_probability, default=0.5, metavar="P",
                        help="dit: share of crops trained with their rendered AV-pair picture (default 0.5)")
    parser.add_argument("--loudness-weight", type=_non_negative, default=0.0, metavar="W",
                        help="dit: weight of the loudness-consistency loss, in LU, on the model's clean estimate "
                             "(foley-small was fine-tuned with 0.02); refiner: weight of the 400 ms loudness "
                             "distance, in LU, between the shaped and the real spectrum (default 0: off)")
    parser.add_argument("--tone-weight", type=_non_negative, default=0.0, metavar="W",
                        help="dit: weight of the tone-consistency loss, in dB: the level-free band shape of the "
                             "model's clean estimate against the real crop's (analytic codecs only; default 0: off)")
    parser.add_argument("--shape-loss", choices=("db_l1", "itakura_saito"), default="db_l1",
                        help="refiner: the within-band shape loss: L1 of bin levels in dB (default; foley-small's "
                             "first refiner) or the Itakura-Saito divergence of bin power, which the band means "
                             "agree with (see RefinerTask)")
    parser.add_argument("--category-weight", type=_non_negative, default=0.0, metavar="W",
                        help="dit: weight of the text category loss: the caption's sound category, read off the "
                             "text encoder by a head whose output steers the DiT; adds the head (over the data's "
                             "labelled categories) if the model lacks one (default 0: off)")
    parser.add_argument("--reference-probability", type=_probability, default=0.0, metavar="P",
                        help="dit: share of crops trained with a reference sound, up to 3 s of another clip with "
                             "the same caption (read as the codec's latent; analytic codecs only; default 0: off)")
    parser.add_argument("--category-balance", type=_probability, default=0.0, metavar="E",
                        help="dit: oversample rare sound categories, each repeated (largest category's count / "
                             "its count) ** E times per epoch, rounded (0: the data as it is, the default; 0.5: "
                             "inverse square root; at most 1)")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="continue from the run folder's last checkpoint (default)")


def _cache(data: Path, run_dir: Path, codec, number: int = 0):
    """A feature cache for ``data``: itself, or one built from an index into run_dir/cache (cache-N
    for the N-th --data after the first)."""
    from foleystudio.errors import UserInputError
    from foleystudio.training.features import FeatureCache, build_feature_cache

    if FeatureCache.is_cache(data):
        return FeatureCache(data)
    if not (data / "index.json").is_file():
        raise UserInputError(f"{data}: neither a feature cache (manifest.json) nor an index (index.json)")
    folder = run_dir / ("cache" if number == 0 else f"cache-{number}")
    if not FeatureCache.is_cache(folder):
        report = build_feature_cache(data, folder, codec=codec, wave_seconds=2.0, max_wave_clips=4000)
        print(f"feature cache: {report.summary()}")
    return FeatureCache(folder)


def _caches(sources: list[Path], run_dir: Path, codec):
    """One cache per --data, read as one when there are several."""
    from foleystudio.training.features import CombinedCache

    caches = [_cache(source, run_dir, codec, number) for number, source in enumerate(sources)]
    return caches[0] if len(caches) == 1 else CombinedCache(caches)


def _data_info(cache, sources: list[Path]):
    from foleystudio.training.tasks import DataInfo

    entries = [e for e in cache.entries if e["split"] == "train"]
    return DataInfo(" + ".join(str(source) for source in sources), len(entries),
                    sum(e["duration_s"] for e in entries) / 3600)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text}")
    return value


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0.0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text}")
    return value


def _with_fresh_tokenizer(engine, captions):
    """The engine with a new generator whose tokenizer is trained on ``captions``; other components kept."""
    from foleystudio.training import tasks

    # A new generator has been taught no prompt yet, whatever the folder it started from says.
    generator = engine.config.generator.with_trained_prompts(())
    return tasks.with_new_generator(engine, generator, tasks.dit_tokenizer(engine.config, captions))


def _make_task(kind: str, engine, sources: list[Path], run_dir: Path, fresh: bool, args: argparse.Namespace):
    from foleystudio.errors import UserInputError
    from foleystudio.training import tasks

    if kind not in ("dit", "refiner") and args.loudness_weight > 0:
        raise UserInputError("--loudness-weight trains the generator (dit) or the codec's refiner only")
    if kind != "refiner" and args.shape_loss != "db_l1":
        raise UserInputError("--shape-loss trains the codec's refiner only")
    if kind != "dit" and args.category_weight > 0:
        raise UserInputError("--category-weight trains the generator (dit) only")
    if kind != "dit" and args.reference_probability > 0:
        raise UserInputError("--reference-probability trains the generator (dit) only")
    if kind != "dit" and args.category_balance > 0:
        raise UserInputError("--category-balance trains the generator (dit) only")
    if kind != "dit" and args.tone_weight > 0:
        raise UserInputError("--tone-weight trains the generator (dit) only")
    if kind != "dit" and len(sources) > 1:
        raise UserInputError("--data more than once trains the generator (dit) only")
    data = sources[0]
    if kind == "lufs":
        pairs = tasks.load_lufs_pairs(data)
        if not pairs:
            raise UserInputError(f"{data}: no (frames, curve) .safetensors pairs for LUFS training")
        val_folder = args.val_data
        val_pairs = tasks.load_lufs_pairs(val_folder) if val_folder else []
        if val_folder and not val_pairs:
            raise UserInputError(f"{val_folder}: no (frames, curve) .safetensors pairs to validate on")
        return tasks.LufsTask(engine, pairs, val_pairs, data=tasks.DataInfo(str(data), len(pairs), 0.0))
    cache = _caches(sources, run_dir, engine.codec if kind == "dit" else None)
    info = _data_info(cache, sources)
    if kind in ("codec", "refiner", "phase"):
        waves = [item.wave for item in cache.items("train") if item.wave is not None]
        val = [item.wave for item in cache.items("val") if item.wave is not None]
        if kind == "phase":
            return tasks.PhaseTask(tasks.with_phase_decoder(engine), waves, val, data=info)
        if kind == "refiner":
            return tasks.RefinerTask(tasks.with_refiner(engine), waves, val, data=info,
                                     loudness_weight=args.loudness_weight, shape_loss=args.shape_loss)
        return tasks.CodecTask(engine, waves, val, data=info)
    if fresh:  # a new generator gets a tokenizer trained on this data's captions
        engine = _with_fresh_tokenizer(engine, cache.captions("train"))
    if args.category_weight > 0:
        engine = _with_category_head(engine, cache)
    if args.reference_probability > 0:
        engine = tasks.with_latent_references(engine)
    if getattr(args, "share_frame_encoder", False):  # only `train` has it; `finetune` keeps its encoder
        tasks.share_frame_encoder(engine)
    return tasks.DiTTask(engine, cache.items("train"), cache.items("val"), data=info,
                         video_probability=args.video_probability, loudness_weight=args.loudness_weight,
                         category_weight=args.category_weight, reference_probability=args.reference_probability,
                         category_balance=args.category_balance, tone_weight=args.tone_weight)


def _with_category_head(engine, cache):
    from foleystudio.errors import UserInputError
    from foleystudio.training import tasks
    from foleystudio.training.text_category_fit import fit_text_category_head

    train = [entry for entry in cache.entries if entry["split"] == "train"]
    val = [entry for entry in cache.entries if entry["split"] == "val"]
    categories = tasks.text_categories_of([entry.get("category", "") for entry in train])
    if len(categories) < 2:
        raise UserInputError(f"--category-weight needs training clips labelled with at least two categories; "
                             f"this data has {list(categories) or 'none'}")
    if engine.generator.conditioners.text_category is not None:
        return tasks.with_text_category_head(engine, categories)  # checks the categories agree
    engine = tasks.with_text_category_head(engine, categories)
    fit = fit_text_category_head(engine, [e["caption"] for e in train], [e.get("category", "") for e in train],
                                 [e["caption"] for e in val], [e.get("category", "") for e in val])
    print(fit.summary())
    return engine


def _run(kind: str, engine, args, defaults: tuple[int, int, float], fresh: bool, warmup: int, note: str) -> int:
    from foleystudio.training.trainer import TrainConfig, load_ema_into, train

    run_dir = Path(args.out)
    run_dir.mkdir(parents=True, exist_ok=True)
    task = _make_task(kind, engine, [Path(data) for data in args.data], run_dir, fresh, args)
    steps, batch, lr = defaults
    config = TrainConfig(steps=args.steps or steps, batch_size=args.batch_size or batch, lr=args.lr or lr,
                         warmup=min(warmup, (args.steps or steps) // 10), grad_accum=args.grad_accum,
                         checkpoint_every_s=args.checkpoint_every, eval_every=max(1, (args.steps or steps) // 20),
                         seed=args.seed)
    result = train(task, config, run_dir, resume=args.resume, device=args.device)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    step = load_ema_into(task, run_dir)
    weights = f", loudness weight {args.loudness_weight:g}" if args.loudness_weight else ""
    weights += f", shape loss {args.shape_loss}" if args.shape_loss != "db_l1" else ""
    weights += f", category weight {args.category_weight:g}" if args.category_weight else ""
    weights += f", reference probability {args.reference_probability:g}" if args.reference_probability else ""
    weights += f", category balance {args.category_balance:g}" if args.category_balance else ""
    weights += f", tone weight {args.tone_weight:g}" if args.tone_weight else ""
    extra = (f"- batch size {config.batch_size} x {config.grad_accum}, lr {config.lr:g}, EMA {config.ema_decay}"
             f"{weights}{note}")
    folder = task.export(run_dir / "model", steps=step, metrics=result.final_metrics, extra=extra, overwrite=True)
    print(f"trained {kind} for {step} steps: model folder {folder}")
    return 0


def _size_of(model_name: str) -> str:
    """The schedule a model folder trains with: its preset's, by name (larger unknowns get small's)."""
    return next((size for size in SIZES if model_name.startswith(size)), SIZES[-1])


def run_train(args: argparse.Namespace) -> int:
    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import preset
    from foleystudio.training.tasks import with_learned_codec

    if args.start_from:
        from foleystudio.engine.builder import load_engine

        engine = load_engine(args.start_from, "cpu")
        size = _size_of(engine.config.name)
        note = f"; started from {engine.model_id}"
    else:
        config = preset(args.preset)
        # small ships the learned codec; the refiner and the phase decoder belong to the analytic one
        if args.task == "codec" or (args.preset == "small" and args.task not in ("refiner", "phase")):
            config = with_learned_codec(config)
        engine, size, note = build_engine(config, "cpu", seed=args.seed), args.preset, ""
    return _run(args.task, engine, args, DEFAULTS[(args.task, size)], fresh=args.task == "dit", warmup=1000, note=note)


def run_finetune(args: argparse.Namespace) -> int:
    from foleystudio.engine.builder import load_engine

    engine = load_engine(args.model, "cpu")
    kind = COMPONENT_TASK[args.component]
    if kind == "codec" and getattr(engine.codec, "phase_decoder", None) is not None:
        kind = "phase"  # the last stage of an analytic codec's decoder (the encoder has no weights)
    elif kind == "codec" and getattr(engine.codec, "refiner", None) is not None:
        kind = "refiner"
    size = _size_of(engine.config.name)
    _, batch, lr = DEFAULTS[(kind, size)]
    note = f"; fine-tuned from {engine.model_id} (full fine-tune of {args.component}, no adapters)"
    return _run(kind, engine, args, (2000, batch, lr / 10), fresh=False, warmup=100, note=note)
