"""Builds the desktop bundle: a build environment, the frozen one-folder app, the Linux tarball.

    # once: an environment with the variant's torch (CPU wheel from PyTorch's index by default)
    python packaging/build.py env ../build_pkg/venv-cpu --variant cpu
    # the bundle (and, on Linux, the tarball a sound designer downloads)
    ../build_pkg/venv-cpu/bin/python packaging/build.py bundle --variant cpu --tarball   # into ../build_pkg

``bundle`` freezes whatever environment runs it (its torch decides CPU or CUDA; the spec refuses a
CPU bundle that collected CUDA libraries). Output: ``OUT/dist-VARIANT/foleystudio/`` (the program
``foleystudio`` beside ``_internal/``), on Linux with ``install.sh`` and a ``share/`` tree (desktop
entry, MIME type, icons) that the installer copies under ``~/.local``; with ``--tarball``
``OUT/foleystudio-VERSION-linux-x86_64-VARIANT.tar.gz``. Build output never goes inside the
checkout: a multi-GB tree there would end up in editors' indexes, linters and, worst, commits.

Design: two small steps rather than one script that does everything, because the environment is
slow to make (torch) and rarely changes, while the bundle is rebuilt for every release. Package pins
come from ``pyproject.toml`` (one place), except torch's, whose CPU wheel lives on another index.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_layout as layout  # noqa: E402

logger = logging.getLogger("foleystudio.packaging.build")

ROOT = layout.ROOT
SPEC = ROOT / "packaging" / "foleystudio.spec"
LINUX_DIR = ROOT / "packaging" / "linux"
DEFAULT_OUT = ROOT.parent / "build_pkg"  # beside the checkout: never inside it
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = ("torch", "torchaudio")
# Runtime dependencies the bundle leaves out (see bundle_layout.EXCLUDED_MODULES), so the build
# environment need not install them.
NOT_BUNDLED = ("transformers", "pyloudnorm")


# ---- the build environment ---------------------------------------------------------------------

def pinned_requirements(root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """pyproject's pins split into torch's ({name: version}) and the rest (requirement strings),
    plus the ``package`` extra (PyInstaller)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    torch, others = {}, []
    for requirement in project["dependencies"]:
        name, _, version = requirement.partition("==")
        name = name.strip()
        if name in TORCH_PACKAGES:
            torch[name] = version.strip()
        elif name not in NOT_BUNDLED:
            others.append(requirement)
    return torch, others + list(project["optional-dependencies"]["package"])


def torch_requirements(variant: str, versions: dict[str, str],
                       system: str = platform.system()) -> tuple[list[str], str | None]:
    """Requirement strings for torch and torchaudio, and the index to take them from (None: PyPI).

    On Linux PyPI's torch is the CUDA build, so the CPU variant uses PyTorch's CPU index and its
    ``+cpu`` wheels. On macOS and Windows PyPI's wheel is the only one (MPS / CPU) for "cpu".
    """
    if variant == "cpu" and system == "Linux":
        return [f"{name}=={version}+cpu" for name, version in versions.items()], PYTORCH_CPU_INDEX
    return [f"{name}=={version}" for name, version in versions.items()], None


def make_env(path: Path, variant: str, python: str, torch: list[str] | None, torch_index: str | None) -> None:
    if path.resolve().is_relative_to(ROOT):
        raise SystemExit(f"{path}: the build environment must live outside the checkout ({ROOT})")
    versions, others = pinned_requirements()
    default_torch, default_index = torch_requirements(variant, versions)
    torch = torch or default_torch
    index = default_index if torch_index is None else (torch_index or None)
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    pip = [str(path / ("Scripts" if os.name == "nt" else "bin") / "python"), "-m", "pip", "install"]
    # torch first and alone: with its index as the only index, pip cannot pick PyPI's CUDA wheel.
    subprocess.run([*pip, *(["--index-url", index] if index else []), *torch], check=True)
    subprocess.run([*pip, *others], check=True)
    logger.info("build environment ready: %s (%s)", path, ", ".join(torch))


# ---- the bundle ------------------------------------------------------------------------------

def run_pyinstaller(variant: str, out: Path, clean: bool) -> Path:
    dist, work = out / f"dist-{variant}", out / f"work-{variant}"
    command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm", "--log-level", "WARN",
               "--distpath", str(dist), "--workpath", str(work), *(["--clean"] if clean else []),
               "--", "--variant", variant]
    logger.info("running %s", " ".join(command))
    subprocess.run(command, check=True, cwd=ROOT)
    return dist / layout.EXECUTABLE


def stage_linux_integration(bundle: Path, root: Path = ROOT) -> None:
    """Put install.sh and a ``share/`` tree (desktop entry, MIME type, hicolor icons) into the bundle."""
    icons = root / "resources" / "icons"
    share = bundle / "share"
    if share.exists():
        shutil.rmtree(share)
    linux, name = root / "packaging" / "linux", layout.DESKTOP_ID
    targets = {
        linux / f"{name}.desktop": share / "applications" / f"{name}.desktop",
        linux / f"{name}.xml": share / "mime" / "packages" / f"{name}.xml",
        icons / f"{name}.svg": share / "icons" / "hicolor" / "scalable" / "apps" / f"{name}.svg",
        linux / "install.sh": bundle / "install.sh",
    }
    for png in sorted(icons.glob(f"{layout.DESKTOP_ID}-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        targets[png] = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{layout.DESKTOP_ID}.png"
    for source, target in targets.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    (bundle / "install.sh").chmod(0o755)


def tarball_name(version: str, variant: str, machine: str = platform.machine()) -> str:
    return f"{layout.DESKTOP_ID}-{version}-linux-{machine}-{variant}"


def make_tarball(bundle: Path, out: Path, name: str) -> Path:
    """``name.tar.gz`` holding the bundle as ``name/`` (so unpacking never spills files)."""
    target = out / f"{name}.tar.gz"
    with tarfile.open(target, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=name)
    return target


def folder_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file() and not item.is_symlink())


def build_bundle(variant: str, out: Path, tarball: bool, clean: bool) -> Path:
    out = out.resolve()
    if out.is_relative_to(ROOT):
        raise SystemExit(f"{out}: build output must go outside the checkout ({ROOT})")
    out.mkdir(parents=True, exist_ok=True)
    bundle = run_pyinstaller(variant, out, clean)
    if sys.platform.startswith("linux"):
        stage_linux_integration(bundle)
    logger.info("bundle: %s (%.0f MB)", bundle, folder_size(bundle) / 1e6)
    if tarball:
        if not sys.platform.startswith("linux"):
            raise SystemExit("--tarball is the Linux download; on macOS ship the .app (in a .dmg), on Windows a zip")
        archive = make_tarball(bundle, out, tarball_name(layout.read_version(), variant))
        logger.info("tarball: %s (%.0f MB)", archive, archive.stat().st_size / 1e6)
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build FoleyStudio's desktop bundle.")
    commands = parser.add_subparsers(dest="command", required=True)
    env = commands.add_parser("env", help="make a build environment with the variant's torch")
    env.add_argument("path", type=Path)
    env.add_argument("--variant", choices=layout.VARIANTS, default="cpu")
    env.add_argument("--python", default=sys.executable, help="the Python to base it on (3.11+)")
    env.add_argument("--torch", nargs="+", metavar="REQ",
                     help="torch requirements instead of pyproject's pins (e.g. a wheel file)")
    env.add_argument("--torch-index", metavar="URL",
                     help="index for torch (default: PyTorch's CPU index for a Linux CPU build; '' for PyPI)")
    bundle = commands.add_parser("bundle", help="freeze this environment into a one-folder app")
    bundle.add_argument("--variant", choices=layout.VARIANTS, default="cpu")
    bundle.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    bundle.add_argument("--tarball", action="store_true", help="also pack the Linux download tarball")
    bundle.add_argument("--clean", action="store_true", help="drop PyInstaller's cache first")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="build: %(message)s")
    if args.command == "env":
        make_env(args.path, args.variant, args.python, args.torch, args.torch_index)
    else:
        build_bundle(args.variant, args.out, args.tarball, args.clean)
    return 0


if __name__ == "__main__":
    sys.exit(main())
