"""Loading the scripts in packaging/ by path: that folder is not a Python package, and its name
would clash with the ``packaging`` library, so it is never put on sys.path for good."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"


def load(name: str):
    """Import ``packaging/<name>.py`` (cached), restoring sys.path after the scripts' own insert."""
    module_name = name if name == "bundle_layout" else f"_foleystudio_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    saved = list(sys.path)
    try:
        spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = saved
    return module
