"""PyInstaller runtime hook: sounddevice finds the PortAudio library bundled with the app (Linux).

sounddevice locates PortAudio with ``ctypes.util.find_library("portaudio")``, which on Linux only
asks the system (ldconfig): on a desktop without ``libportaudio2`` playback would fail although the
bundle carries the library. PyInstaller patches ``find_library`` on Windows only (macOS searches the
bundle through dyld's fallback path), so here we answer "portaudio" with the bundled file first and
fall back to the system for everything else. Runs before any of FoleyStudio's code.
"""

import ctypes.util
import os
import sys

if sys.platform.startswith("linux") and getattr(sys, "frozen", False):
    _bundled = os.path.join(sys._MEIPASS, "libportaudio.so.2")
    _system_find_library = ctypes.util.find_library

    def _find_library(name):
        if name == "portaudio" and os.path.isfile(_bundled):
            return _bundled
        return _system_find_library(name)

    ctypes.util.find_library = _find_library
