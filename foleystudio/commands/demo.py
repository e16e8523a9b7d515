"""`foleystudio demo`: the loudness engine on the synthesised demo scene, headless.

Synthesises the demo scene, writes it as a 24-bit BWF WAV carrying its loudness in the bext
chunk, measures the file as written, and prints the programme loudness and the curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import platformdirs

from foleystudio import __version__
from foleystudio.atomic import write_text_atomic
from foleystudio.audio.loudness import measure
from foleystudio.audio.wav import BextInfo, write_wav
from foleystudio.commands._args import to_jsonable
from foleystudio.commands.loudness import format_report, measure_file
from foleystudio.demo_scene import DEMO_SAMPLE_RATE, render_demo_scene
from foleystudio.logs import APP_NAME
from foleystudio.textplot import plot_curve

SCENE_DESCRIPTION = "FoleyStudio demo scene: wind, footsteps walking left to right, a door slam"


def default_output_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "demo"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="render and measure the demo scene (headless loudness demo)")
    parser.add_argument("--out", metavar="DIR", help=f"output folder (default: {default_output_dir()})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace earlier demo files in --out (always done in the default folder)")
    parser.set_defaults(run=run)


def _display_note() -> str:
    return (f"FoleyStudio {__version__}: the headless demo of the loudness engine "
            "(the desktop application is `foleystudio open`).")


def run(args: argparse.Namespace) -> int:
    print(_display_note())
    out = Path(args.out) if args.out else default_output_dir()
    # The default folder is ours, so earlier demo files there are replaced; a folder the user named
    # is theirs, and its files are only replaced when they say so.
    overwrite = args.overwrite or not args.out
    out.mkdir(parents=True, exist_ok=True)
    scene = render_demo_scene()
    planned = measure(scene, DEMO_SAMPLE_RATE)
    bext = BextInfo(
        description=SCENE_DESCRIPTION,
        integrated_lufs=planned.integrated_lufs,
        loudness_range_lu=planned.loudness_range_lu,
        max_true_peak_dbtp=planned.true_peak_dbtp,
        max_momentary_lufs=planned.max_momentary_lufs,
        max_short_term_lufs=planned.max_short_term_lufs,
    )
    wav_path = out / "demo_scene.wav"
    write_wav(wav_path, scene, DEMO_SAMPLE_RATE, bit_depth=24, bext=bext, overwrite=overwrite)
    report = measure_file(wav_path)  # the file as written (24-bit), read back through the reader
    csv_path = write_text_atomic(out / "demo_scene_curve.csv", report.curve.to_csv_text(), overwrite=overwrite)
    json_path = write_text_atomic(
        out / "demo_scene_loudness.json",
        json.dumps(to_jsonable(report.to_dict(include_series=False)), indent=2, allow_nan=False),
        overwrite=overwrite,
    )
    print(f"\n{SCENE_DESCRIPTION}\nfile:            {wav_path}")
    print(format_report(report))
    print()
    print(plot_curve(report.curve))
    print(f"\nwritten: {wav_path}\n         {csv_path}\n         {json_path}")
    return 0
