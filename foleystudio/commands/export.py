"""`foleystudio export PROJECT FOLDER`: a project's stems (and mixdown) as BWF WAV files, headless."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a project's stems and mixdown (BWF WAV)")
    parser.add_argument("project", help="the .foley project")
    parser.add_argument("folder", help="where the files go (created if needed)")
    parser.add_argument("--rate", type=int, choices=(44100, 48000), help="sample rate (default: the project's setting)")
    parser.add_argument("--bit-depth", type=int, choices=(24, 32), help="24-bit PCM or 32-bit float")
    parser.add_argument("--naming", choices=("ucs", "layer-name"), help="file names: UCS style or the layer names")
    parser.add_argument("--no-mixdown", action="store_true", help="stems only")
    parser.add_argument("--review", action="store_true", help="also write a review MP4 of the picture with the mix")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from foleystudio.commands.app import print_report
    from foleystudio.errors import UserInputError
    from foleystudio.export import export_project
    from foleystudio.project.settings import StemNaming
    from foleystudio.project.store import load_project

    if not Path(args.project).is_file():
        raise UserInputError(f"{args.project}: no such project file")
    project = load_project(args.project)
    changes = {"mixdown": not args.no_mixdown and project.export.mixdown, "review_video": args.review}
    if args.rate:
        changes["sample_rate"] = args.rate
    if args.bit_depth:
        changes["bit_depth"] = args.bit_depth
    if args.naming:
        changes["stem_naming"] = StemNaming(args.naming)
    settings = dataclasses.replace(project.export, **changes)
    report = export_project(project, Path(args.folder), settings=settings, overwrite=args.overwrite)
    print_report(Path(args.project), report)
    return 0
