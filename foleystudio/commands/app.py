"""`foleystudio open [PROJECT]` (also what `foleystudio` alone does): the desktop application.

Without a project it opens the demo project (built on first use by our own code). Where there is
no display (a server, a CI machine, an SSH session without X forwarding) it says so and does the
headless part of the main job instead: it renders the project's stems and mixdown to a folder and
reports their loudness, so the command is useful, and testable, everywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import platformdirs

from foleystudio.logs import APP_NAME


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("open", help="open the desktop application (the default command)")
    parser.add_argument("project", nargs="?", help="a .foley project (default: the demo project)")
    parser.add_argument("--new", action="store_true", help="start with a new, empty project")
    parser.add_argument("--headless", action="store_true",
                        help="do not open a window: render the project's stems (what happens without a display)")
    parser.add_argument("--out", metavar="DIR", help="where headless stems go (default: the user data folder)")
    parser.add_argument("--overwrite", action="store_true", help="replace earlier headless stems in --out")
    parser.set_defaults(run=run)


def has_display() -> bool:
    """Whether a window can be shown: always on Windows/macOS; on Linux an X or Wayland display,
    or a Qt platform chosen explicitly (e.g. offscreen in tests)."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def default_stems_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "demo stems"


def run(args: argparse.Namespace) -> int:
    from foleystudio.demo_project import ensure_demo_project

    project_path = Path(args.project) if args.project else None
    if project_path is not None and not project_path.is_file():
        from foleystudio.errors import UserInputError

        raise UserInputError(f"{project_path}: no such project file")
    if args.headless or not has_display():
        if not args.headless:
            print("FoleyStudio: no display was found (DISPLAY/WAYLAND_DISPLAY unset), so no window can open; "
                  "rendering the project's stems headless instead.")
        out = Path(args.out) if args.out else None
        return render_headless(project_path or ensure_demo_project(), out, args.overwrite or out is None)
    from foleystudio.ui.app import run as run_app

    return run_app(project_path, demo=not args.new)


def render_headless(project_path: Path, out: Path | None, overwrite: bool) -> int:
    from foleystudio.export import export_project

    folder = out or default_stems_folder()
    folder.mkdir(parents=True, exist_ok=True)
    # The default folder is ours: earlier renders there are replaced. A folder the user named is
    # theirs: its files are replaced only with --overwrite.
    report = export_project(project_path, folder, overwrite=overwrite)
    print_report(project_path, report)
    return 0


def print_report(project_path: Path, report) -> None:
    """What was written, with each file's integrated loudness and true peak."""
    print(f"project: {project_path}")
    for item in report.files:
        loudness = "   silent " if item.integrated_lufs is None else f"{item.integrated_lufs:6.1f} LUFS"
        peak = "" if item.true_peak_dbtp is None else f"  true peak {item.true_peak_dbtp:5.1f} dBTP"
        print(f"  {item.path.name:<48} {loudness}{peak}  {item.duration_s:6.1f} s")
    print(f"written to {report.folder}")
