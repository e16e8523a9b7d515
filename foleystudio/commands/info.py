"""`foleystudio info FILE`: what a media file holds (streams, exact frame rate, timecode)."""

from __future__ import annotations

import argparse

from foleystudio.commands._args import print_json
from foleystudio.video.probe import probe_media
from foleystudio.video.timecode import seconds_to_timecode, supports_drop_frame


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("info", help="describe a video or audio file")
    parser.add_argument("file", help="a video (mp4, mov, mkv, ...) or audio file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    info = probe_media(args.file)
    if args.json:
        print_json(info)
        return 0
    print(info.describe())
    if info.video is not None:
        rate = info.video.frame_rate
        kind = "drop-frame" if supports_drop_frame(rate) else "non-drop"
        print(f"timecode:  {seconds_to_timecode(info.video.duration_s, rate)} ({kind})")
    return 0
