"""The generic loop: it learns, checkpoints atomically, resumes exactly, logs, shards data over ranks."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from foleystudio.training.trainer import DataOrder, TrainConfig, latest_checkpoint, load_ema_into, lr_factor, train


class RegressionTask:
    """y = X w* + noise drawn from the step generator; a dropout layer draws from the global RNG."""

    def __init__(self, items: int = 16) -> None:
        generator = torch.Generator().manual_seed(123)
        self.x = torch.randn(items, 8, generator=generator)
        self.y = self.x @ torch.randn(8, 1, generator=generator)
        self.model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.Linear(16, 1))
        with torch.random.fork_rng():
            torch.manual_seed(0)
            for layer in self.model:
                if isinstance(layer, nn.Linear):
                    layer.reset_parameters()

    def item_count(self):
        return len(self.x)

    def make_batch(self, indices, generator):
        return self.x[indices], self.y[indices] + 0.01 * torch.randn(len(indices), 1, generator=generator)

    def loss(self, batch, generator):
        x, y = batch
        return (self.model(x) - y).square().mean(), {}

    def modules(self):
        return {"net": self.model}

    def to(self, device):
        self.model.to(device)

    def evaluate(self, generator):
        with torch.no_grad():
            return {"val_mse": float((self.model(self.x) - self.y).square().mean())}


CONFIG = TrainConfig(steps=6, batch_size=4, lr=1e-2, warmup=2, every_steps=1, eval_every=3, log_every=1,
                     ema_decay=0.9, seed=3, amp="auto")


def test_training_lowers_the_loss(tmp_path):
    config = TrainConfig(steps=60, batch_size=8, lr=3e-2, warmup=5, every_steps=100, eval_every=100, seed=0)
    task = RegressionTask()
    before = task.evaluate(None)["val_mse"]
    result = train(task, config, tmp_path, device="cpu")
    assert result.step == 60
    assert result.evaluations[60]["val_mse"] < 0.2 * before
    assert sum(list(result.losses.values())[-10:]) < 0.2 * sum(list(result.losses.values())[:10])


def test_resume_reproduces_the_uninterrupted_run(tmp_path):
    whole = train(RegressionTask(), CONFIG, tmp_path / "whole", device="cpu")

    class Killed(Exception):
        pass

    def kill_at_3(step, metrics):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train(RegressionTask(), CONFIG, tmp_path / "broken", device="cpu", on_step=kill_at_3)
    assert latest_checkpoint(tmp_path / "broken").name == "step-00000003"
    resumed_task = RegressionTask()
    resumed = train(resumed_task, CONFIG, tmp_path / "broken", device="cpu")
    assert resumed.resumed_from == 3
    assert resumed.losses == {step: whole.losses[step] for step in (4, 5, 6)}  # bit-exact
    whole_task = RegressionTask()
    train(whole_task, CONFIG, tmp_path / "whole", device="cpu")  # resumes at the end: nothing to do
    for a, b in zip(whole_task.model.parameters(), resumed_task.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_resuming_on_other_data_is_refused_and_keeps_the_run(tmp_path):
    from foleystudio.errors import UserInputError

    train(RegressionTask(), CONFIG, tmp_path, device="cpu")
    kept = sorted(path.name for path in tmp_path.rglob("*"))
    with pytest.raises(UserInputError, match="trained on 16 items and this data has 12"):
        train(RegressionTask(items=12), CONFIG, tmp_path, device="cpu")
    assert sorted(path.name for path in tmp_path.rglob("*")) == kept
    assert train(RegressionTask(items=12), CONFIG, tmp_path, device="cpu", resume=False).resumed_from == 0


def test_no_resume_starts_over(tmp_path):
    first = train(RegressionTask(), CONFIG, tmp_path, device="cpu")
    again = train(RegressionTask(), CONFIG, tmp_path, device="cpu", resume=False)
    assert again.resumed_from == 0 and again.losses == first.losses


def test_checkpoints_logs_and_ema(tmp_path):
    task = RegressionTask()
    result = train(task, CONFIG, tmp_path, device="cpu")
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert checkpoints == ["LATEST", "step-00000005", "step-00000006"]  # keep=2, no temporary left
    folder = result.checkpoint
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "ema.safetensors", "trainer.pt", "state.json"}
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in rows if r["kind"] == "eval"] == [3, 6]
    assert (tmp_path / "metrics.csv").read_text().startswith("step,kind,name,value\n")
    live = [p.detach().clone() for p in task.model.parameters()]
    assert load_ema_into(task, tmp_path) == 6
    ema = list(task.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(live, ema, strict=True))  # EMA differs from live weights


def test_gradient_accumulation_matches_a_bigger_batch(tmp_path):
    # Without noise and dropout the mean of two half-batch gradients is the full-batch gradient.
    class Clean(RegressionTask):
        def __init__(self):
            super().__init__()
            self.model[1].p = 0.0

        def make_batch(self, indices, generator):
            return self.x[indices], self.y[indices]

    base = dict(steps=3, lr=1e-2, warmup=0, seed=1, every_steps=10, eval_every=10)
    # Same data order: the order is read sequentially, so 2 x 2 items = the first 4 of the same epoch.
    big, small = Clean(), Clean()
    train(big, TrainConfig(batch_size=4, grad_accum=1, **base), tmp_path / "a", device="cpu")
    train(small, TrainConfig(batch_size=2, grad_accum=2, **base), tmp_path / "b", device="cpu")
    for a, b in zip(big.model.parameters(), small.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


def test_data_order_shards_every_epoch_over_ranks():
    ranks = [DataOrder(10, seed=5, rank=r, world=3) for r in range(3)]
    epoch = [index for order in ranks for index in order.take(4)]  # ceil(10 / 3) = 4 each
    assert set(epoch) == set(range(10)) and len(epoch) == 12
    single = DataOrder(10, seed=5)
    first, second = single.take(10), single.take(10)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    again = DataOrder(10, seed=5)
    again.position = 10
    assert again.take(10) == second


def test_learning_rate_warms_up_then_decays():
    config = TrainConfig(steps=100, warmup=10, min_lr_ratio=0.1)
    values = [lr_factor(step, config) for step in range(100)]
    assert values[0] < values[5] < values[9] < 1.0
    assert values[10] == pytest.approx(1.0)
    assert values[99] == pytest.approx(0.1, abs=0.01) and values[50] < values[20]


@pytest.mark.parametrize("field,value", [("steps", 0), ("amp", "fp8"), ("lr", 0.0), ("ema_decay", 1.0)])
def test_bad_config_is_rejected(field, value):
    with pytest.raises(ValueError):
        TrainConfig(**{field: value})


def test_a_bare_cuda_device_gets_the_local_ranks_index():
    # `torch.cuda.set_device` refuses a device without an index, so "--device cuda" must name one.
    from foleystudio.training.trainer import Distributed, _pick_device

    assert _pick_device("cuda", Distributed()) == torch.device("cuda", 0)
    assert _pick_device("cuda", Distributed(rank=1, world=2, local_rank=1)) == torch.device("cuda", 1)
    assert _pick_device("cuda:3", Distributed()) == torch.device("cuda", 3)
    assert _pick_device("cpu", Distributed()) == torch.device("cpu")
