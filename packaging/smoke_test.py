"""Smoke test of the frozen app: does the bundle a sound designer downloads actually run?

    python packaging/smoke_test.py --bundle /work/build_pkg/dist-cpu/foleystudio
    /work/build_pkg/venv-cpu/bin/python packaging/smoke_test.py --variant cpu   # builds first

It runs the bundle's own program, never the checkout's Python, the way a user would: from a
scratch folder, with fresh user folders (HOME and XDG_*), no display (``QT_QPA_PLATFORM=offscreen``),
no sound card and no PYTHONPATH, so a module or library the bundle forgot cannot be borrowed from
the build machine. The checks:

1. ``foleystudio --version`` prints the version foleystudio/__init__.py holds;
2. the desktop app starts on the demo project and logs its "ready" line (then is stopped);
3. ``foleystudio open --headless`` renders the demo project's stems (PyAV, soundfile, export);
4. ``foleystudio export`` at 44.1 kHz with a review MP4 (resampling, video encoding);
5. ``foleystudio generate ... --model preset:tiny`` makes a tiny take (torch, the whole engine),
   from text and from the demo video (video decoding and features);
6. ``foleystudio loudness`` measures the take (the audio reader and loudness engine).

Every command's output and the app's log file are scanned for tracebacks and missing modules or
libraries (`scan_for_problems`); any hit, a non-zero exit or a timeout fails the run. On Linux it
also says which PortAudio the app loaded: the bundled one is expected. It ends with the bundle's
size. It takes minutes (start-up of a frozen torch app), so it is not part of CI's test run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bundle_layout as layout  # noqa: E402

# Lines that mean the frozen app is broken, whatever the exit code says.
PROBLEM_PATTERNS = (
    ("traceback", re.compile(r"Traceback \(most recent call last\)")),
    ("missing module", re.compile(r"No module named|ModuleNotFoundError")),
    ("import error", re.compile(r"\bImportError\b")),
    ("missing library", re.compile(r"cannot open shared object file|Library not loaded|DLL load failed"
                                   r"|PortAudio library not found|Could not load this library")),
    ("Qt plugin", re.compile(r"Could not load the Qt platform plugin|Could not find the Qt platform plugin")),
    ("internal error", re.compile(r"foleystudio: internal error")),
    ("error logged", re.compile(r"foleystudio: (ERROR|CRITICAL):|\b(ERROR|CRITICAL) foleystudio[.\w]*:")),
    ("bootloader", re.compile(r"\[PYI-\d+:ERROR\]|Failed to execute script")),
    ("fatal", re.compile(r"Fatal Python error|Segmentation fault|core dumped")),
)
READY = re.compile(r"FoleyStudio (\S+) ready")
OPENED = re.compile(r"window open on (.+\.foley)\s*$", re.MULTILINE)


def scan_for_problems(text: str) -> list[str]:
    """``"kind: line"`` for every line of ``text`` that shows the frozen app is broken."""
    found = []
    for line in text.splitlines():
        for kind, pattern in PROBLEM_PATTERNS:
            if pattern.search(line):
                found.append(f"{kind}: {line.strip()}")
                break
    return found


@dataclass
class Outcome:
    name: str
    ok: bool
    seconds: float
    detail: str = ""
    problems: list[str] = field(default_factory=list)


def isolated_environment(scratch: Path) -> dict[str, str]:
    """The environment a fresh user has: own HOME and XDG folders, no display, no Python paths."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PYTHON", "QT_", "XDG_", "VIRTUAL_ENV", "LD_LIBRARY_PATH"))
           and key not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"):
        folder = scratch / "user" / name.lower()
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        env[name] = str(folder)
    env.update(QT_QPA_PLATFORM="offscreen", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    return env


class Runner:
    """Runs the bundle's program with the isolated environment, from a scratch folder."""

    def __init__(self, program: Path, scratch: Path) -> None:
        self.program, self.scratch = program, scratch
        self.env = isolated_environment(scratch)
        self.transcript: list[str] = []

    def run(self, name: str, args: list[str], timeout: float, check=None) -> Outcome:
        start = time.monotonic()
        try:
            done = subprocess.run([str(self.program), *args], cwd=self.scratch, env=self.env, timeout=timeout,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        except subprocess.TimeoutExpired as expired:
            output = expired.output or ""
            output = output.decode(errors="replace") if isinstance(output, bytes) else output
            return self._outcome(name, start, False, f"timed out after {timeout:.0f} s", output)
        output = done.stdout
        ok = done.returncode == 0
        detail = f"exit {done.returncode}"
        if ok and check is not None:
            ok, detail = check(output)
        return self._outcome(name, start, ok, detail, output)

    def run_app(self, timeout: float, linger: float) -> Outcome:
        """Start the desktop app, wait for "ready", keep it up ``linger`` seconds, then stop it."""
        start = time.monotonic()
        process = subprocess.Popen([str(self.program), "-v", "open"], cwd=self.scratch, env=self.env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in process.stdout:
                lines.append(line)
                if READY.search(line):
                    ready.set()

        reader = threading.Thread(target=read, name="smoke-app-output", daemon=True)
        reader.start()
        deadline = start + timeout
        while not ready.is_set() and process.poll() is None and time.monotonic() < deadline:
            ready.wait(0.2)
        ok, detail = ready.is_set(), ""
        portaudio, resident = "", None
        if ok:
            time.sleep(linger)  # a crash right after start-up (deferred work, first paint) shows here
            portaudio = mapped_portaudio(process.pid)
            resident = resident_megabytes(process.pid)
            if process.poll() is not None:
                ok, detail = False, f"exited {process.returncode} {linger:.0f} s after it was ready"
        elif process.poll() is not None:
            detail = f"exited {process.returncode} before it was ready"
        else:
            detail = f"no ready line within {timeout:.0f} s"
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(timeout=10)
        output = "".join(lines)
        opened = OPENED.search(output)
        if ok and opened is None:
            ok, detail = False, "ready, but no project was opened"
        elif ok:
            detail = f"ready; opened {Path(opened.group(1)).name}"
            if resident is not None:
                detail += f"; {resident:.0f} MB resident"
        if portaudio:
            detail += f"; PortAudio from {portaudio}"
            if sys.platform.startswith("linux") and not Path(portaudio).is_relative_to(self.program.parent):
                ok, detail = False, detail + " (expected the bundled copy)"
        return self._outcome("app starts on the demo project", start, ok, detail, output)

    def _outcome(self, name: str, start: float, ok: bool, detail: str, output: str) -> Outcome:
        problems = scan_for_problems(output)
        self.transcript.append(f"===== {name}\n{output}")
        return Outcome(name, ok and not problems, time.monotonic() - start, detail, problems)


def mapped_portaudio(pid: int) -> str:
    """The PortAudio library file process ``pid`` has loaded (Linux), or "" if none or unknown."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""
    for line in maps.splitlines():
        path = line.split(None, 5)[-1] if len(line.split(None, 5)) == 6 else ""
        if "libportaudio" in path:
            return path.strip()
    return ""


def resident_megabytes(pid: int) -> float | None:
    """The process's resident memory (Linux), or None where /proc cannot tell."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def log_files_problems(scratch: Path) -> Outcome:
    """The app's own log files (the tracebacks the CLI keeps off the terminal end up here)."""
    start = time.monotonic()
    logs = sorted((scratch / "user").rglob("*.log*"))
    problems = [f"{path.name}: {problem}" for path in logs
                for problem in scan_for_problems(path.read_text(errors="replace"))]
    detail = f"{len(logs)} log file(s)" if logs else "no log file written"
    return Outcome("log files are clean", bool(logs) and not problems, time.monotonic() - start, detail, problems)


def expect_version(output: str) -> tuple[bool, str]:
    expected = f"FoleyStudio {layout.read_version()}"
    return output.strip() == expected, f"printed {output.strip()!r}, expected {expected!r}"


def expect_files(*paths: Path):
    def check(_output: str) -> tuple[bool, str]:
        missing = [str(path) for path in paths if not path.is_file() or path.stat().st_size == 0]
        if missing:
            return False, f"missing or empty: {', '.join(missing)}"
        return True, "wrote " + ", ".join(path.name for path in paths)
    return check


def expect_any_wav(folder: Path, also: str | None = None):
    def check(_output: str) -> tuple[bool, str]:
        wavs = sorted(folder.glob("*.wav"))
        extra = sorted(folder.glob(also)) if also else []
        detail = f"{len(wavs)} WAV file(s)" + (f" and {len(extra)} {also}" if also else "") + f" in {folder.name}/"
        return bool(wavs) and (bool(extra) or also is None), detail
    return check


def demo_file(scratch: Path, suffix: str) -> Path:
    """The demo project's file with ``suffix`` (the app writes it on first start), or a name that
    does not exist, so the command that needs it fails visibly."""
    found = sorted((scratch / "user").rglob(f"*{suffix}"))
    return found[0] if found else scratch / f"no demo project file{suffix}"


def bundle_size(bundle: Path) -> str:
    if shutil.which("du"):
        done = subprocess.run(["du", "-sh", str(bundle)], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split()[0]
    total = sum(item.stat().st_size for item in bundle.rglob("*") if item.is_file() and not item.is_symlink())
    return f"{total / 2**30:.2f}G"


def smoke(bundle: Path, app_timeout: float, command_timeout: float, linger: float, keep: bool) -> int:
    program = bundle / (f"{layout.console_executable()}.exe" if os.name == "nt" else layout.EXECUTABLE)
    if not program.is_file():
        print(f"smoke: no program at {program}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="foleystudio-smoke-"))
    runner = Runner(program, scratch)
    take, video_take = scratch / "slam.wav", scratch / "steps.wav"
    stems, review = scratch / "stems", scratch / "review"
    tiny = ["--duration", "1", "--steps", "2", "--model", "preset:tiny", "--device", "cpu"]
    steps = [
        lambda: runner.run("--version", ["--version"], 120, expect_version),
        lambda: runner.run_app(app_timeout, linger),
        lambda: runner.run("headless demo stems", ["open", "--headless", "--out", str(stems)], command_timeout,
                           expect_any_wav(stems)),
        # The demo's takes are 48 kHz: a 44.1 kHz export resamples; the review MP4 encodes video.
        lambda: runner.run("export at 44.1 kHz with a review MP4",
                           ["export", str(demo_file(scratch, ".foley")), str(review), "--rate", "44100", "--review"],
                           command_timeout, expect_any_wav(review, also="*.mp4")),
        lambda: runner.run("tiny generation", ["generate", "--prompt", "a heavy door slams", *tiny,
                                               "--seed", "7", "--out", str(take)],
                           command_timeout, expect_files(take, take.with_suffix(".csv"))),
        lambda: runner.run("tiny video-to-audio generation",
                           ["generate", "--video", str(demo_file(scratch, ".mp4")), "--prompt", "footsteps", *tiny,
                            "--seed", "3", "--out", str(video_take)],
                           command_timeout, expect_files(video_take)),
        lambda: runner.run("loudness of the take", ["loudness", str(take)], command_timeout),
        lambda: log_files_problems(scratch),
    ]
    outcomes = []
    for step in steps:
        outcome = step()
        outcomes.append(outcome)
        mark = "PASS" if outcome.ok else "FAIL"
        print(f"smoke: {mark} {outcome.name} ({outcome.seconds:.1f} s): {outcome.detail}", flush=True)
        for problem in outcome.problems:
            print(f"smoke:      {problem}", flush=True)
    transcript = scratch / "transcript.txt"
    transcript.write_text("\n".join(runner.transcript), encoding="utf-8")
    failed = [outcome for outcome in outcomes if not outcome.ok]
    print(f"smoke: bundle {bundle} is {bundle_size(bundle)} (du -sh)")
    if failed or keep:
        print(f"smoke: outputs and the full transcript are in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"smoke: {'FAILED' if failed else 'passed'}: {len(outcomes) - len(failed)}/{len(outcomes)} checks")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Smoke-test the frozen FoleyStudio bundle.")
    parser.add_argument("--bundle", type=Path, help="an existing bundle folder (else it is built first)")
    parser.add_argument("--variant", choices=layout.VARIANTS, default="cpu", help="the variant to build")
    parser.add_argument("--out", type=Path, help="build output folder (default: build.py's)")
    parser.add_argument("--app-timeout", type=float, default=300, help="seconds the app may take to be ready")
    parser.add_argument("--command-timeout", type=float, default=600, help="seconds each command may take")
    parser.add_argument("--linger", type=float, default=3, help="seconds the app stays up after it is ready")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (outputs, transcript)")
    args = parser.parse_args(argv)
    bundle = args.bundle
    if bundle is None:
        import build

        bundle = build.build_bundle(args.variant, args.out or build.DEFAULT_OUT, tarball=False, clean=False)
    return smoke(bundle.resolve(), args.app_timeout, args.command_timeout, args.linger, args.keep)


if __name__ == "__main__":
    sys.exit(main())
