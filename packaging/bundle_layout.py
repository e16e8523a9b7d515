"""What goes into the frozen FoleyStudio bundle and what stays out: the data the spec builds from.

``packaging/foleystudio.spec`` (PyInstaller) reads everything it decides from here, so the choices
are plain Python that the hermetic tests in ``tests/packaging`` can check without running
PyInstaller. Nothing here imports PyInstaller, Qt or torch.

Choices, and why:

* **Qt**: FoleyStudio's UI imports only QtCore, QtGui and QtWidgets; pyqtgraph adds QtOpenGL /
  QtOpenGLWidgets (imported at module level by its curve item) and QtSvg (its SVG exporter, and the
  SVG icon engine). Every other PySide6 module (QML/Quick, WebEngine, 3D, Multimedia, Designer, ...)
  is excluded: each drags in large Qt libraries and plugins we never load.
* **torch**: ``triton`` (641 MB; only torch.compile's GPU code generator uses it, FoleyStudio never
  compiles) and TensorBoard support stay out. torchaudio's C++ extension is not collected (our
  ``pyinstaller_hooks/hook-torchaudio.py``, with `DROPPED_BINARY_PREFIXES` as a second guard):
  FoleyStudio only uses torchaudio's pure-Python mel filter banks and resampler, torchaudio imports
  fine without the library (it checks for the file), and the PyPI build of that library is linked
  against CUDA, which the CPU bundle must not need.
* **System libraries** (`SYSTEM_LIBRARIES`, the spirit of AppImage's exclude list): PortAudio
  (sounddevice's library) is bundled, because few desktops have it, but the libraries that must
  match the running system come from the system: ALSA/JACK/PulseAudio/PipeWire clients (their
  plugins are the system's), fontconfig/freetype/expat (the system's font configuration), core
  X11/xcb, glibc's libmvec, and the C++ runtime (the system's GPU drivers, loaded into our process,
  need a libstdc++ at least as new as their own; the bundle's minimum glibc already implies one new
  enough for torch).
* **Qt's GTK theme plugin** is dropped with the GTK/cairo/pango stack PyInstaller collects for it
  (`GTK_STACK`): it cannot work without the system's GTK anyway, and a bundled pango or cairo beside
  the system's GTK is a classic crash. Qt's own and the XDG-portal theme remain.
  `dropped_but_needed` lets the spec prove no kept library links against anything dropped.
* **Optional extras**: ``transformers`` is only needed for an optional local text encoder that no
  bundled model uses; it is excluded (the app then says the package is missing, a clean error).
  Test and development tools never go in.
* **Data**: ``models/`` (the bundled model folder, found by ``foleystudio.engine.registry`` beside the
  package, i.e. in the bundle's ``_internal/models``) and ``resources/`` (icons, theme, demo media)
  without the README screenshots.
"""

from __future__ import annotations

import ctypes.util
import fnmatch
import os
import sys
from pathlib import Path

APP_NAME = "FoleyStudio"
EXECUTABLE = "foleystudio"  # the bundle's program on Linux and macOS
# Windows: a program without a console window for the Start menu, and one with a console for the
# command line. Windows file names ignore case, so the two cannot both be "foleystudio".
WINDOWS_GUI_EXECUTABLE = "FoleyStudio"
WINDOWS_CONSOLE_EXECUTABLE = "foleystudio-cli"
BUNDLE_IDENTIFIER = "org.foleystudio.FoleyStudio"
DESKTOP_ID = "foleystudio"  # .desktop file name, icon name, Qt's desktopFileName
PROJECT_EXTENSION = "foley"
PROJECT_MIME_TYPE = "application/x-foleystudio-project"
VARIANTS = ("cpu", "cuda")

ROOT = Path(__file__).resolve().parents[1]
ENTRY_SCRIPT = ROOT / "packaging" / "launcher.py"
RUNTIME_HOOKS = (ROOT / "packaging" / "pyi_rth_portaudio.py",)
HOOKS_DIR = ROOT / "packaging" / "pyinstaller_hooks"  # ours override the contributed hooks of the same name
ICON_DIR = ROOT / "resources" / "icons"

QT_MODULES_USED = ("QtCore", "QtGui", "QtWidgets", "QtOpenGL", "QtOpenGLWidgets", "QtSvg")
QT_MODULES_EXCLUDED = (
    "QtQml", "QtQuick", "QtQuickControls2", "QtQuickWidgets", "QtQuickTest", "QtQuick3D",
    "Qt3DCore", "Qt3DRender", "Qt3DInput", "Qt3DLogic", "Qt3DAnimation", "Qt3DExtras",
    "QtWebEngineCore", "QtWebEngineWidgets", "QtWebEngineQuick", "QtWebChannel", "QtWebSockets",
    "QtWebView", "QtNetwork", "QtNetworkAuth", "QtHttpServer", "QtDesigner", "QtHelp", "QtUiTools",
    "QtSql", "QtTest", "QtXml", "QtConcurrent", "QtDBus", "QtCharts", "QtDataVisualization",
    "QtGraphs", "QtGraphsWidgets", "QtMultimedia", "QtMultimediaWidgets", "QtSpatialAudio",
    "QtTextToSpeech", "QtPdf", "QtPdfWidgets", "QtPositioning", "QtLocation", "QtSensors",
    "QtSerialPort", "QtSerialBus", "QtBluetooth", "QtNfc", "QtRemoteObjects", "QtScxml",
    "QtStateMachine", "QtAxContainer", "QtPrintSupport", "QtSvgWidgets",
)
EXCLUDED_MODULES = (
    *(f"PySide6.{name}" for name in QT_MODULES_EXCLUDED),
    "PyQt5", "PyQt6", "PySide2", "tkinter", "matplotlib", "IPython",
    "pyqtgraph.examples", "pyqtgraph.opengl", "pyqtgraph.jupyter",
    # Not torch.testing._internal: torch.utils.checkpoint imports it when torch is imported.
    "triton", "torch.utils.tensorboard", "tensorboard",
    "transformers", "huggingface_hub", "tokenizers",
    "pytest", "_pytest", "pytestqt", "importlinter", "grimp", "pyloudnorm", "setuptools", "pip",
)
# Bundle paths (as PyInstaller writes them: relative to _internal/) of libraries left out.
DROPPED_BINARY_PREFIXES = ("torchaudio/lib/", "PySide6/Qt/plugins/platformthemes/libqgtk3.so")
# File names of libraries taken from the user's system rather than the bundle.
SYSTEM_LIBRARIES = (
    "libasound.so*", "libjack.so*", "libpulse.so*", "libpulse-simple.so*", "libpipewire-*.so*",
    "libfontconfig.so*", "libfreetype.so*", "libexpat.so*",
    "libX11.so*", "libX11-xcb.so*", "libxcb.so*",
    "libmvec.so*", "libstdc++.so*", "libgcc_s.so*",
)
# What the GTK theme plugin pulled in; nothing else in the bundle links against these.
GTK_STACK = (
    "libgtk-3.so*", "libgdk-3.so*", "libatk-1.0.so*", "libatk-bridge-2.0.so*", "libatspi.so*",
    "libcairo.so*", "libcairo-gobject.so*", "libpango-1.0.so*", "libpangocairo-1.0.so*",
    "libpangoft2-1.0.so*", "libgdk_pixbuf-2.0.so*", "libharfbuzz.so*", "libthai.so*", "libdatrie.so*",
    "libfribidi.so*", "libgraphite2.so*", "libpixman-1.so*", "libepoxy.so*",
)
# Libraries that show a CUDA build of torch crept into a CPU bundle.
CUDA_LIBRARY_PATTERNS = ("libcudart.so*", "libcublas*", "libcudnn*", "libnccl*", "libtorch_cuda*.so",
                         "libc10_cuda.so", "nvidia/*")
DATA_FOLDERS = ("models", "resources")
DATA_EXCLUDED = ("resources/screenshots/*", "**/__pycache__/*", "*.pyc", "**/.DS_Store")


def data_files(root: Path = ROOT) -> list[tuple[str, str]]:
    """(source file, bundle folder) pairs for `DATA_FOLDERS`, minus `DATA_EXCLUDED`.

    File by file rather than whole trees so the exclusions apply and an empty ``models/`` still
    ships its README (the registry then reports "no model installed" rather than a missing folder).
    """
    pairs = []
    for folder in DATA_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_file() and not any(fnmatch.fnmatch(relative, pattern) for pattern in DATA_EXCLUDED):
                pairs.append((str(path), str(Path(relative).parent.as_posix())))
    return pairs


def is_system_library(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in SYSTEM_LIBRARIES)


def is_dropped_binary(dest: str) -> bool:
    """Whether a collected library (its path inside the bundle) is deliberately left out."""
    dest = dest.replace("\\", "/")
    name = dest.rsplit("/", 1)[-1]
    return (any(dest.startswith(prefix) for prefix in DROPPED_BINARY_PREFIXES)
            or is_system_library(name)
            or any(fnmatch.fnmatch(name, pattern) for pattern in GTK_STACK))


def dropped_but_needed(needs: dict[str, set[str]], dropped: set[str]) -> dict[str, set[str]]:
    """Kept libraries that link against a dropped one the system does not provide.

    ``needs`` maps each kept library (bundle path) to the library names it links against (ELF
    NEEDED); ``dropped`` holds the file names of dropped libraries. Must come back empty.
    """
    missing = {}
    for library, names in needs.items():
        broken = {name for name in names if name in dropped and not is_system_library(name)}
        if broken:
            missing[library] = broken
    return missing


def cuda_libraries(dests: list[str]) -> list[str]:
    """The bundle paths among ``dests`` that belong to CUDA (a CPU bundle must have none)."""
    found = []
    for dest in dests:
        dest = dest.replace("\\", "/")
        name = dest.rsplit("/", 1)[-1]
        if any(fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(dest, pattern) for pattern in CUDA_LIBRARY_PATTERNS):
            found.append(dest)
    return found


def portaudio_library() -> Path | None:
    """The system's PortAudio on Linux (Debian: /usr/lib/x86_64-linux-gnu/libportaudio.so.2), else None.

    On macOS and Windows sounddevice's wheel carries PortAudio and PyInstaller's sounddevice hook
    collects it, so only Linux needs this.
    """
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("portaudio")
    if name is None:
        return None
    for folder in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                   "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        candidate = Path(folder) / os.path.basename(name)
        if candidate.is_file():
            return candidate.resolve()
    return None


def console_executable(platform: str = sys.platform) -> str:
    """The program that runs the command line (and, on Linux and macOS, the app too)."""
    return WINDOWS_CONSOLE_EXECUTABLE if platform == "win32" else EXECUTABLE


def icon_file(platform: str = sys.platform) -> Path:
    """The icon PyInstaller embeds in the program: .ico on Windows, .icns on macOS, else the PNG."""
    if platform == "win32":
        return ICON_DIR / f"{DESKTOP_ID}.ico"
    if platform == "darwin":
        return ICON_DIR / f"{DESKTOP_ID}.icns"
    return ICON_DIR / f"{DESKTOP_ID}-256.png"


def macos_info_plist(version: str) -> dict:
    """Info.plist additions: version, Retina, and the .foley document type (double-click opens it)."""
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "NSHighResolutionCapable": True,
        "LSMinimumSystemVersion": "12.0",
        "CFBundleDocumentTypes": [{
            "CFBundleTypeName": f"{APP_NAME} project",
            "CFBundleTypeRole": "Editor",
            "LSHandlerRank": "Owner",
            "CFBundleTypeIconFile": f"{DESKTOP_ID}.icns",
            "LSItemContentTypes": [f"{BUNDLE_IDENTIFIER}.project"],
        }],
        "UTExportedTypeDeclarations": [{
            "UTTypeIdentifier": f"{BUNDLE_IDENTIFIER}.project",
            "UTTypeDescription": f"{APP_NAME} project",
            "UTTypeConformsTo": ["public.json"],
            "UTTypeTagSpecification": {"public.filename-extension": [PROJECT_EXTENSION]},
        }],
    }


def read_version(root: Path = ROOT) -> str:
    """``__version__`` from foleystudio/__init__.py, read as text (the spec must not import the app)."""
    for line in (root / "foleystudio" / "__init__.py").read_text(encoding="utf-8").splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise ValueError("foleystudio/__init__.py has no __version__ line")
