"""The smoke test's judgement (packaging/smoke_test.py), without a frozen app: which output means the
bundle is broken, the ready line it waits for, and how it reads log files and versions."""

import pytest

import foleystudio
from tests.packaging._load import load

smoke = load("smoke_test")


@pytest.mark.parametrize(("line", "kind"), [
    ("Traceback (most recent call last):", "traceback"),
    ("ModuleNotFoundError: No module named 'scipy.special._cdflib'", "missing module"),
    ("UserWarning: Failed to initialize NumPy: No module named 'numpy'", "missing module"),
    ("ImportError: cannot import name 'QtSvg' from 'PySide6'", "import error"),
    ("OSError: libportaudio.so.2: cannot open shared object file: No such file or directory", "missing library"),
    ("foleystudio: WARNING: audio output unavailable (PortAudio library not found)", "missing library"),
    ('qt.qpa.plugin: Could not load the Qt platform plugin "offscreen" in "" even though it was found.', "Qt plugin"),
    ("foleystudio: internal error: RuntimeError: boom; details in /x/foleystudio.log", "internal error"),
    ("2025-01-01 10:00:00,000 ERROR foleystudio.ui.app: unhandled error:", "error logged"),
    ("foleystudio: ERROR: could not decode frame", "error logged"),
    ("[PYI-4242:ERROR] Failed to load Python shared library", "bootloader"),
    ("Fatal Python error: Segmentation fault", "fatal"),
])
def test_broken_bundle_signs_are_caught(line, kind):
    text = f"foleystudio: INFO: starting\n{line}\nmore output\n"
    assert smoke.scan_for_problems(text) == [f"{kind}: {line.strip()}"]


@pytest.mark.parametrize("line", [
    "foleystudio: INFO: FoleyStudio 0.1.0 ready",
    "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'",
    "foleystudio: WARNING: no audio output device: playing silently",
    "2025-01-01 10:00:00,000 WARNING foleystudio.qt: This plugin does not support propagateSizeHints()",
    "  footsteps_01.wav   -23.1 LUFS  true peak  -3.0 dBTP     6.0 s",
])
def test_ordinary_output_is_not_a_problem(line):
    assert smoke.scan_for_problems(line) == []


def test_every_problem_line_is_reported_once():
    text = "Traceback (most recent call last):\n  File x\nModuleNotFoundError: No module named 'av'\n"
    assert smoke.scan_for_problems(text) == [
        "traceback: Traceback (most recent call last):",
        "missing module: ModuleNotFoundError: No module named 'av'"]


def test_the_opened_pattern_finds_the_project_path():
    line = "foleystudio: INFO: FoleyStudio 0.1.0 window open on /u/demo/Demo corridor.foley\n"
    assert smoke.OPENED.search(line).group(1) == "/u/demo/Demo corridor.foley"
    assert smoke.OPENED.search("foleystudio: INFO: FoleyStudio 0.1.0 window open on a new project\n") is None


def test_version_check_compares_with_the_package_version():
    assert smoke.expect_version(f"FoleyStudio {foleystudio.__version__}\n")[0]
    assert not smoke.expect_version("FoleyStudio 0.0.9\n")[0]


def test_log_files_are_scanned_and_their_absence_is_a_failure(tmp_path):
    logs = tmp_path / "user" / "xdg_state_home" / "FoleyStudio" / "log"
    assert not smoke.log_files_problems(tmp_path).ok  # no log at all: the app never got far
    logs.mkdir(parents=True)
    (logs / "foleystudio.log").write_text("2025-01-01 INFO foleystudio.cli: fine\n")
    assert smoke.log_files_problems(tmp_path).ok
    (logs / "foleystudio.log.1").write_text("Traceback (most recent call last):\n")
    outcome = smoke.log_files_problems(tmp_path)
    assert not outcome.ok and outcome.problems == ["foleystudio.log.1: traceback: Traceback (most recent call last):"]


def test_the_isolated_environment_hides_the_build_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/work/main")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("XDG_DATA_HOME", "/home/me/.local/share")
    env = smoke.isolated_environment(tmp_path)
    assert "PYTHONPATH" not in env and "DISPLAY" not in env
    assert env["QT_QPA_PLATFORM"] == "offscreen"
    for name in ("HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        assert env[name].startswith(str(tmp_path))
