"""`foleystudio loudness FILE`: programme loudness (EBU R128) and the per-channel loudness curve."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from foleystudio.atomic import check_output_path, write_text_atomic
from foleystudio.audio.channels import layout_from_positions
from foleystudio.audio.curve import CURVE_RATE_HZ
from foleystudio.audio.io import iter_audio_blocks
from foleystudio.audio.loudness import LoudnessMeter
from foleystudio.audio.loudness_report import LoudnessReport
from foleystudio.commands._args import positive_seconds, print_json
from foleystudio.textplot import plot_curve

DEFAULT_FRAME_S = 1.0 / CURVE_RATE_HZ


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "loudness", help="measure loudness: integrated, LRA, true peak, and the left/right curve"
    )
    parser.add_argument("file", help="an audio file, or a video with an audio track")
    parser.add_argument("--window", type=positive_seconds, default=DEFAULT_FRAME_S,
                        help="curve window in seconds (default 1/6)")
    parser.add_argument("--hop", type=positive_seconds, default=DEFAULT_FRAME_S,
                        help="curve hop in seconds (default 1/6)")
    parser.add_argument("--csv", metavar="OUT", help="write the curve as CSV (time_s,left_lufs,right_lufs)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --csv file")
    parser.add_argument("--json", action="store_true", help="print JSON (measures, curve, M/S series)")
    parser.set_defaults(run=run)


def measure_file(path: str | Path, window_s: float = DEFAULT_FRAME_S, hop_s: float = DEFAULT_FRAME_S) -> LoudnessReport:
    """Measure a file's audio at its own rate and channel layout, streaming in constant memory.

    Channels are weighted by their speaker positions as the file names them (a quad file's back
    channels count as surrounds), not guessed from the channel count alone.
    """
    blocks = iter_audio_blocks(path, block_s=1.0)
    layout = layout_from_positions(blocks.info.positions)
    meter = LoudnessMeter(blocks.sample_rate, layout, curve_window_s=window_s, curve_hop_s=hop_s)
    for block in blocks:
        meter.process(block)
    return meter.result()


def _level(value: float, unit: str) -> str:
    return f"-inf {unit} (silent)" if value == -math.inf else f"{value:.1f} {unit}"


def format_report(report: LoudnessReport) -> str:
    curve = report.curve
    lines = [
        f"audio:           {report.duration_s:.3f} s, {report.sample_rate} Hz, {report.channels} ch ({report.layout})",
        f"integrated:      {_level(report.integrated_lufs, 'LUFS')}",
        f"loudness range:  {report.loudness_range_lu:.1f} LU",
        f"true peak:       {_level(report.true_peak_dbtp, 'dBTP')} ({report.true_peak_oversampling}x oversampled)",
        f"sample peak:     {_level(report.sample_peak_dbfs, 'dBFS')}",
        f"max momentary:   {_level(report.max_momentary_lufs, 'LUFS')}",
        f"max short-term:  {_level(report.max_short_term_lufs, 'LUFS')}",
        f"curve:           {len(curve)} frames, window {report.curve_window_s:.4f} s, hop {report.curve_hop_s:.4f} s",
    ]
    if report.is_silent:
        lines.append("note:            nothing is louder than the -70 LUFS gate: the file is silent")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.csv:
        # Refuse before measuring, so nobody waits through a long file to learn the name is taken.
        check_output_path(args.csv, args.overwrite)
    report = measure_file(args.file, args.window, args.hop)
    if args.csv:
        write_text_atomic(args.csv, report.curve.to_csv_text(), overwrite=args.overwrite)
    if args.json:
        print_json({"file": str(args.file), **report.to_dict(include_series=True)})
        return 0
    print(f"file:            {args.file}")
    print(format_report(report))
    print()
    print(plot_curve(report.curve))
    if args.csv:
        print(f"\ncurve written to {args.csv}")
    return 0
