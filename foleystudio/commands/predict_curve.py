"""`foleystudio predict-curve VIDEO --out CSV`: the loudness curve the LUFS predictor reads off a video."""

from __future__ import annotations

import argparse

from foleystudio.atomic import check_output_path, write_text_atomic
from foleystudio.commands._args import positive_seconds


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("predict-curve", help="predict a left/right loudness curve from a video")
    parser.add_argument("video", help="the video to read loudness off")
    parser.add_argument("--out", required=True, metavar="CSV", help="curve CSV to write (time_s,left_lufs,right_lufs)")
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="span start in the video (s)")
    parser.add_argument("--duration", type=positive_seconds, metavar="S", help="span length (default: to the end)")
    add_model_arguments(parser)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.set_defaults(run=run)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="default",
                        help="model name, model folder, or preset:NAME for an untrained preset (default: the bundled model)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")


def run(args: argparse.Namespace) -> int:
    # Imported here: torch takes seconds to import, and `info`/`loudness` should not pay for it.
    from foleystudio.engine.builder import load_engine
    from foleystudio.engine.lufs_predictor import predict_curve

    check_output_path(args.out, args.overwrite)
    engine = load_engine(args.model, args.device)
    curve = predict_curve(engine.lufs_predictor, args.video, args.start, args.duration, engine.device)
    write_text_atomic(args.out, curve.to_csv_text(), overwrite=args.overwrite)
    print(f"predicted {len(curve)} frames ({curve.end_s:.2f} s) with model {engine.model_id}: {args.out}")
    return 0
