"""Quality benchmark of a model on a dataset index; prints one JSON object.

  .venv/bin/python bench/quality.py INDEX_DIR [--model preset:tiny] [--split val] [--limit N] [--steps N]

A thin wrapper over `foleystudio.training.evaluate.evaluate_model` (the same report as
`foleystudio evaluate`): curve adherence raw and after conformance, AV-Align and onset F1 on rendered
AV pairs, LUFS-predictor error, classifier accuracy (real = ceiling, generated) and Fréchet distance,
codec reconstruction, per-category breakdown. With an untrained preset the numbers are a baseline.
"""

import argparse
import json

from foleystudio.commands._args import to_jsonable
from foleystudio.training.evaluate import evaluate_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", help="dataset index folder")
    parser.add_argument("--model", default="preset:tiny")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    report = evaluate_model(args.model, args.index, args.split, limit=args.limit, steps=args.steps, device=args.device)
    print(json.dumps(to_jsonable(report), indent=2, allow_nan=False))


if __name__ == "__main__":
    main()
