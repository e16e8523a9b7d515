"""The `foleystudio` command line: parses arguments, runs a command, turns errors into exit codes.

Exit codes: 0 success; 2 bad input (one line on stderr, no traceback); 1 internal error (the
traceback goes to the log file, whose path is printed); 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from foleystudio import __version__
from foleystudio.commands import (
    app,
    dataset,
    demo,
    evaluate,
    export,
    generate,
    info,
    loudness,
    predict_curve,
    train,
)
from foleystudio.errors import UserInputError
from foleystudio.logs import setup_logging
from foleystudio.project.paths import PROJECT_SUFFIX

logger = logging.getLogger(__name__)

COMMANDS = (app, info, loudness, generate, predict_curve, export, dataset, train, evaluate, demo)
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 1, 2, 130, 141


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line usage error (its default prints the whole usage block first)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="foleystudio",
        description="Foley authoring with a local generator. Without a command: the main job, the "
        "desktop application on the demo project (headless stems where there is no display).",
    )
    parser.add_argument("--version", action="version", version=f"FoleyStudio {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="also print info messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def project_shortcut(argv: list[str]) -> list[str]:
    """``[PROJECT.foley]`` -> ``["open", PROJECT.foley]``; anything else unchanged. That is how file
    managers, macOS's open-document event and Windows file associations hand over a double-clicked
    project, and what a user types."""
    if len(argv) == 1 and argv[0].lower().endswith(PROJECT_SUFFIX) and not argv[0].startswith("-"):
        return ["open", argv[0]]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = project_shortcut(list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "open"])
    log_path = setup_logging(args.verbose)
    try:
        return args.run(args) or EXIT_OK
    except UserInputError as error:
        logger.info("bad input for %s: %s", args.command, error)
        print(f"foleystudio: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # Whoever read our output stopped (`foleystudio loudness x.wav | head`): not an error of
        # ours. Point stdout at devnull so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("foleystudio: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # noqa: BLE001 - the last line of defence: log it, never a traceback
        logger.exception("internal error in 'foleystudio %s'", args.command)
        where = f"; details in {log_path}" if log_path else ""
        print(f"foleystudio: internal error: {type(error).__name__}: {error}{where}", file=sys.stderr)
        return EXIT_INTERNAL
