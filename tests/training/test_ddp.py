"""Two processes on CPU (gloo) under torchrun: gradients are averaged, rank 0 alone writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

SCRIPT = textwrap.dedent('''
    import os, sys
    import torch
    from torch import nn
    from foleystudio.training.trainer import TrainConfig, train

    class Task:
        def __init__(self):
            generator = torch.Generator().manual_seed(1)
            self.x = torch.randn(8, 4, generator=generator)
            self.y = self.x.sum(dim=1, keepdim=True)
            # Different initial weights per rank: rank 0's must be broadcast to the others.
            torch.manual_seed(int(os.environ["RANK"]))
            self.model = nn.Linear(4, 1)

        def item_count(self): return len(self.x)
        def make_batch(self, indices, generator): return self.x[indices], self.y[indices]
        def loss(self, batch, generator):
            x, y = batch
            return (self.model(x) - y).square().mean(), {}
        def modules(self): return {"net": self.model}
        def to(self, device): self.model.to(device)
        def evaluate(self, generator): return {}

    task = Task()
    out = sys.argv[1]
    result = train(task, TrainConfig(steps=2, batch_size=2, lr=0.1, warmup=0, every_steps=1, log_every=1), out + "/run", device="cpu")
    torch.save({"weights": {k: v.clone() for k, v in task.model.state_dict().items()}, "losses": result.losses},
               f"{out}/rank{os.environ['RANK']}.pt")
''')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Gloo's teardown race: a rank can still abort from a C++ thread while the process group is destroyed
# after a finished run (twice in many CI runs, even with the barrier `_leave_process_group` adds).
GLOO_TEARDOWN_ABORT = "terminate called without an active exception"


def _run_two_ranks(folder: Path) -> subprocess.CompletedProcess:
    script = folder / "ddp_task.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
               "--master_addr=127.0.0.1", f"--master_port={_free_port()}", str(script), str(folder)]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_two_process_gloo_step(tmp_path: Path):
    done = _run_two_ranks(tmp_path)
    if done.returncode != 0 and GLOO_TEARDOWN_ABORT in done.stderr:
        # One fresh try for that upstream race only; any other failure, or the race twice, fails.
        tmp_path = tmp_path / "again"
        tmp_path.mkdir()
        done = _run_two_ranks(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1))
    for name, value in rank0["weights"].items():
        assert torch.equal(value, rank1["weights"][name])  # same start (broadcast) + averaged gradients
    assert rank0["losses"] == rank1["losses"]  # logged losses are averaged over ranks
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert checkpoints == ["LATEST", "step-00000001", "step-00000002"]
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2  # rank 0 alone logs
