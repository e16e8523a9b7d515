"""A training process killed with SIGKILL (no cleanup at all) resumes from its last complete checkpoint
and goes on exactly as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from foleystudio.training.trainer import latest_checkpoint, train
from tests.training.test_trainer import RegressionTask, TrainConfig

REPO = Path(__file__).resolve().parents[2]
CONFIG = TrainConfig(steps=400, batch_size=4, lr=1e-2, warmup=2, every_steps=1, eval_every=1000, log_every=1,
                     keep=2, seed=5)

SCRIPT = textwrap.dedent('''
    import sys, time
    from foleystudio.training.trainer import train
    from tests.training.test_trainer_kill import CONFIG, RegressionTask

    # Slow steps down so the parent's kill lands somewhere in the middle of the run, often while a
    # checkpoint is being written (every step writes one).
    train(RegressionTask(), CONFIG, sys.argv[1], device="cpu", on_step=lambda step, metrics: time.sleep(0.01))
''')


def _wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, at_least: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the training process ended before it could be killed"
        latest = latest_checkpoint(run_dir)
        if latest is not None and int(latest.name.split("-")[1]) >= at_least:
            return
        time.sleep(0.02)
    raise TimeoutError("no checkpoint appeared")


def test_kill_9_loses_nothing_but_the_step_in_flight(tmp_path):
    run_dir = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script), str(run_dir)], env=env, cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for_checkpoint(run_dir, process, at_least=20)
        time.sleep(0.137)  # not aligned with a step
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()
    assert process.returncode == -signal.SIGKILL

    resumed = train(RegressionTask(), CONFIG, run_dir, device="cpu")
    assert 20 <= resumed.resumed_from < CONFIG.steps
    whole = train(RegressionTask(), CONFIG, tmp_path / "whole", device="cpu")
    after = range(resumed.resumed_from + 1, CONFIG.steps + 1)
    assert [resumed.losses[step] for step in after] == [whole.losses[step] for step in after]  # bit-exact
    steps = sorted(path.name for path in (run_dir / "checkpoints").iterdir() if path.name.startswith("step-"))
    assert steps[-1] == f"step-{CONFIG.steps:08d}"
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    logged = [row["step"] for row in rows if row["kind"] == "train"]
    assert logged == list(range(1, CONFIG.steps + 1))  # steps redone after the kill are not logged twice
