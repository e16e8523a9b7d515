"""Does the window stay responsive while a take generates in the background? Prints one JSON object.

  QT_QPA_PLATFORM=offscreen .venv/bin/python bench/ui_responsiveness.py [--model preset:small-analytic]
      [--seconds 10] [--steps 10] [--device auto] [--baseline-s 3]

A QTimer ticks every 5 ms on the GUI thread and records the time between ticks; a tick that comes
late means the event loop was stalled (the GIL held by the generation thread, or work done on the
GUI thread). Measured three ways in the same run:

* ``idle``: nothing running (the baseline: what the timer and the machine give on their own);
* ``cold``: a text-only take generated through `GenerationWorker`, including loading the engine on
  the worker thread (the first generation of a session);
* ``warm``: the same request again with the engine cached (every later generation).

For each: the max, p99 and median gap in ms, the number of ticks, and the wall time. The target is a
max gap under 50 ms (a stall a user notices when scrubbing or playing). The weights are untrained
presets: the cost of a step does not depend on them.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from foleystudio.engine.request import GenerationRequest  # noqa: E402
from foleystudio.ui.worker import GenerationJob, GenerationWorker  # noqa: E402

TICK_MS = 5
TARGET_MAX_GAP_MS = 50.0


class GapRecorder:
    """Records the gaps between ticks of a precise 5 ms timer on the GUI thread."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.ticks: list[float] = []

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def start(self) -> None:
        self.ticks = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> dict:
        self.timer.stop()
        gaps = np.diff(self.ticks) * 1000.0
        if len(gaps) == 0:
            return {"ticks": 0}
        return {
            "max_gap_ms": round(float(gaps.max()), 2),
            "p99_gap_ms": round(float(np.percentile(gaps, 99)), 2),
            "median_gap_ms": round(float(np.median(gaps)), 2),
            "ticks": int(len(gaps)),
            "wall_s": round(self.ticks[-1] - self.ticks[0], 3),
            "under_target": bool(gaps.max() < TARGET_MAX_GAP_MS),
        }


def measure_idle(recorder: GapRecorder, seconds: float) -> dict:
    loop = QEventLoop()
    recorder.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    return recorder.stop()


def measure_job(recorder: GapRecorder, worker: GenerationWorker, job: GenerationJob) -> dict:
    loop = QEventLoop()
    outcome, steps = {}, []

    def done(job_id, *args, kind):
        if job_id == job.job_id:
            outcome["kind"] = kind
            outcome["detail"] = args[0] if kind == "failed" else None
            loop.quit()

    connections = [
        (worker.job_finished, lambda job_id, takes: done(job_id, takes, kind="finished")),
        (worker.job_failed, lambda job_id, message: done(job_id, message, kind="failed")),
        (worker.job_cancelled, lambda job_id: done(job_id, kind="cancelled")),
        (worker.progress, lambda job_id, i, total: steps.append((i, total))),
    ]
    for signal, slot in connections:
        signal.connect(slot)
    recorder.start()
    worker.submit(job)
    loop.exec()
    result = recorder.stop()
    for signal, slot in connections:
        signal.disconnect(slot)
    result["outcome"] = outcome.get("kind")
    if outcome.get("detail"):
        result["error"] = outcome["detail"]
    result["progress_signals"] = len(steps)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="preset:small-analytic", help="engine, e.g. preset:tiny")
    parser.add_argument("--seconds", type=float, default=10.0, help="take length")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--baseline-s", type=float, default=3.0, help="how long to measure the idle loop")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    recorder = GapRecorder()
    worker = GenerationWorker()
    request = GenerationRequest(duration_s=args.seconds, on_screen_prompt="footsteps on gravel", steps=args.steps,
                                model=args.model, device=args.device, seed=1)
    report = {
        "model": args.model, "take_s": args.seconds, "steps": args.steps, "device": args.device,
        "tick_ms": TICK_MS, "target_max_gap_ms": TARGET_MAX_GAP_MS,
        "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
                    f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
    }
    try:
        report["idle"] = measure_idle(recorder, args.baseline_s)
        report["cold"] = measure_job(recorder, worker, GenerationJob("cold", "bench", request, "cold"))
        report["warm"] = measure_job(recorder, worker, GenerationJob("warm", "bench", request, "warm"))
    finally:
        worker.shutdown(60_000)
    del app
    print(json.dumps(report, indent=1))
    return 0 if report["warm"].get("outcome") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
