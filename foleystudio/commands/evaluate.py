"""`foleystudio evaluate MODEL --data INDEX_DIR [--split val] [--limit N] [--out JSON]`: quality metrics.

Runs `foleystudio.training.evaluate.evaluate_model` on the held-out clips of an index and writes its
JSON report to stdout or ``--out``. See that module for what each number means (and for how little
they mean for an untrained model).
"""

from __future__ import annotations

import argparse
import json

from foleystudio.atomic import check_output_path, write_text_atomic
from foleystudio.commands._args import positive_int, to_jsonable


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="measure a model on the held-out clips of a dataset index")
    parser.add_argument("model", help="model name, model folder, or preset:NAME for an untrained preset")
    parser.add_argument("--data", required=True, metavar="INDEX_DIR", help="dataset index folder (index.json, clips.jsonl)")
    parser.add_argument("--split", default="val", choices=("val", "train"), help="which split to evaluate (default: val)")
    parser.add_argument("--limit", type=positive_int, metavar="N", help="evaluate at most N clips")
    parser.add_argument("--steps", type=positive_int, default=8, help="sampling steps per take (default: 8)")
    parser.add_argument("--frame-size", type=positive_int, metavar="PX",
                        help="size of the rendered AV-pair pictures (default: what the model's frame encoder reads)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the takes and rendered pictures (default: 0)")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--ablations", action=argparse.BooleanOptionalAction, default=True,
                        help="also generate each clip without its video and with another category's caption "
                             "(3x the time; default on)")
    for modality in ("video", "text"):
        parser.add_argument(f"--guidance-{modality}", type=float, metavar="X",
                            help=f"{modality} guidance scale of the takes (default: generate's)")
    parser.add_argument("--out", metavar="JSON", help="write the report here instead of stdout")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: torch takes seconds to import, and other commands should not pay for it.
    from foleystudio.training.evaluate import evaluate_model

    if args.out:
        check_output_path(args.out, args.overwrite)
    report = evaluate_model(args.model, args.data, args.split, limit=args.limit, steps=args.steps,
                            frame_size=args.frame_size, seed=args.seed, device=args.device, ablations=args.ablations,
                            guidance=_guidance(args))
    text = json.dumps(to_jsonable(report), indent=2, allow_nan=False) + "\n"
    if args.out:
        write_text_atomic(args.out, text, overwrite=args.overwrite)
        print(f"evaluated {report['clips_evaluated']} clips with {report['model']}: {args.out}")
    else:
        print(text, end="")
    return 0


def _guidance(args: argparse.Namespace):
    from foleystudio.engine.guidance import GuidanceScales

    default = GuidanceScales()
    return GuidanceScales(video=default.video if args.guidance_video is None else args.guidance_video,
                          text=default.text if args.guidance_text is None else args.guidance_text, audio=default.audio)
