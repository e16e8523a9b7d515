"""The engine-side packages never import Qt (DESIGN.md §4.1), checked statically and at run time."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QT_FREE = ("foleystudio.audio", "foleystudio.video", "foleystudio.project", "foleystudio.engine", "foleystudio.takes",
           "foleystudio.mix", "foleystudio.export", "foleystudio.playback",
           "foleystudio.generation", "foleystudio.demo_project", "foleystudio.training")


def test_import_linter_contract_is_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_importing_every_engine_side_module_loads_no_qt():
    # A fresh interpreter imports every module below the Qt-free packages, then lists Qt modules.
    script = f"""
import importlib, pkgutil, sys
for package_name in {QT_FREE!r}:
    package = importlib.import_module(package_name)
    for module in pkgutil.walk_packages(getattr(package, "__path__", []), package_name + "."):
        importlib.import_module(module.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph"))
print(",".join(loaded))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
