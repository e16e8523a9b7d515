"""The generic training loop: one `train(task, config, run_dir)` for the codec, the DiT and the LUFS predictor.

A *task* (see `foleystudio.training.tasks`) supplies the data and the objective:

    item_count() -> int                        items in the training set
    make_batch(indices, generator) -> batch    (CPU generator: crops and other data randomness)
    loss(batch, generator) -> (loss, {name: float})   (generator on the training device)
    modules() -> {name: nn.Module}             what is trained (and checkpointed)
    to(device)                                 move modules and cached data
    evaluate(generator) -> {name: float}       validation metrics (may be {})

Design choices:

* **Deterministic**: a run seeds the global RNGs from ``seed`` (+ rank) inside a forked RNG state, so
  the caller's generators are as they were afterwards.
* **Exact resume.** Every random draw of a step comes from generators seeded by (seed, step,
  micro-batch, rank), and the data order is a pure function of (seed, epoch) read at an integer
  position; a checkpoint stores weights, EMA, optimiser and scheduler state, the step, that position
  and the global RNG states (torch, numpy, python: module dropout draws from the global RNG). So the
  step after a resume is the step the uninterrupted run would have taken (tested). It also stores
  the item count, and resuming on data of another count is refused (`UserInputError`).
* **Checkpoints** every ``checkpoint_every_s`` seconds (a ``kill -9`` loses at most that) and every
  ``every_steps`` steps: ``checkpoints/step-NNNNNNNN/`` with ``model.safetensors`` and
  ``ema.safetensors`` (weights are safetensors), ``trainer.pt`` (optimiser, scheduler, RNG states:
  a resume file, not a model) and ``state.json``; written into a temporary folder, renamed into place,
  then ``checkpoints/LATEST`` is replaced atomically. The newest ``keep`` checkpoints are kept.
* **Distributed** when launched by ``torchrun`` (WORLD_SIZE > 1): ``gloo`` on CPU, ``nccl`` on CUDA.
  Each rank reads its own slice of every epoch's order (DistributedSampler's rule: the order is padded
  by wrapping to a multiple of the world size). Gradients are averaged with one all-reduce over a
  flattened buffer per optimiser step (after gradient accumulation) — what DistributedDataParallel
  does, without DDP's requirement that the loss go through ``forward`` (the codec's loss calls
  ``reconstruct``, the DiT's ``velocity`` and ``encode_rows``). Only rank 0 writes files.
* **Precision**: ``torch.autocast`` on CUDA (bfloat16 where supported, else float16 with a gradient
  scaler); full float32 on CPU and MPS. Weights and the optimiser stay float32.
* **Schedule**: AdamW, linear warm-up then cosine decay to ``min_lr_ratio`` x lr; gradient clipping.
* **EMA**: a float32 shadow of every parameter, updated after each optimiser step with decay
  ``min(ema_decay, (1 + step) / (10 + step))`` (warm-up, so short runs still have a useful EMA).
  Evaluation and export use the EMA weights.
* **Logs**: ``metrics.jsonl`` (one JSON object per logged step or evaluation) and ``metrics.csv``
  (long format: step, kind, name, value); a tqdm bar on stderr when it is a terminal.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from foleystudio.atomic import write_text_atomic

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LATEST = "LATEST"
AMP_MODES = ("auto", "off")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 8
    lr: float = 3e-4
    warmup: int = 100
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.01
    grad_accum: int = 1
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    amp: str = "auto"
    checkpoint_every_s: float = 120.0
    every_steps: int = 1000
    keep: int = 2
    eval_every: int = 500
    log_every: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "every_steps", "keep", "eval_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and self.warmup >= 0 and 0 <= self.min_lr_ratio <= 1 and 0 <= self.ema_decay < 1):
            raise ValueError(f"TrainConfig: lr > 0, warmup >= 0, min_lr_ratio and ema_decay in [0, 1): {self}")
        if self.amp not in AMP_MODES:
            raise ValueError(f"TrainConfig.amp must be one of {AMP_MODES}, got {self.amp!r}")
        if not self.checkpoint_every_s > 0:
            raise ValueError("TrainConfig.checkpoint_every_s must be > 0")


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    resumed_from: int
    losses: dict[int, float] = field(default_factory=dict)  # step -> loss (averaged over ranks)
    evaluations: dict[int, dict[str, float]] = field(default_factory=dict)
    checkpoint: Path | None = None

    @property
    def final_metrics(self) -> dict[str, float]:
        metrics = {}
        if self.losses:
            metrics["train_loss"] = self.losses[max(self.losses)]
        if self.evaluations:
            metrics.update(self.evaluations[max(self.evaluations)])
        return metrics


# ---- distribution -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        return cls(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def _init_distributed(dist_info: Distributed, device: torch.device) -> bool:
    """Start the process group if torchrun asked for one; True if this call started it."""
    import torch.distributed as dist

    if not dist_info.active or dist.is_initialized():
        return False
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    logger.info("rank %d/%d joined the %s process group", dist_info.rank, dist_info.world, backend)
    return True


def _leave_process_group(wait_for_others: bool) -> None:
    """Tear the group down together after a run that finished: a rank that destroys its gloo pairs while
    another still works (rank 0 writing the last checkpoint) can abort the late rank from a C++ thread
    (seen once on CI as SIGABRT). After a failure there is no barrier: the others may never reach it."""
    import torch.distributed as dist

    try:
        if wait_for_others:
            dist.barrier()
    finally:
        dist.destroy_process_group()


def _average_gradients(parameters: list[nn.Parameter], world: int) -> None:
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for parameter in parameters:
        count = parameter.numel()
        parameter.grad = flat[offset : offset + count].view_as(parameter).clone()
        offset += count


def _broadcast_parameters(modules: dict[str, nn.Module]) -> None:
    import torch.distributed as dist

    for module in modules.values():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point() or tensor.dtype in (torch.int64, torch.int32):
                dist.broadcast(tensor, 0)


# ---- data order ---------------------------------------------------------------------------------


class DataOrder:
    """Shuffled epochs, sharded over ranks; a pure function of (seed, position), so resumable."""

    def __init__(self, count: int, seed: int, rank: int = 0, world: int = 1) -> None:
        if count < 1:
            raise ValueError("the training set is empty")
        self.count, self.seed, self.rank, self.world = count, seed, rank, world
        self.per_rank = math.ceil(count / world)
        self.position = 0
        self._epoch, self._indices = -1, []

    def _epoch_indices(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            order = torch.randperm(self.count, generator=generator).tolist()
            padded = [order[i % self.count] for i in range(self.per_rank * self.world)]
            self._epoch, self._indices = epoch, padded[self.rank :: self.world]
        return self._indices

    def take(self, size: int) -> list[int]:
        taken = []
        for _ in range(size):
            epoch, offset = divmod(self.position, self.per_rank)
            taken.append(self._epoch_indices(epoch)[offset])
            self.position += 1
        return taken


def step_seed(seed: int, step: int, micro: int, rank: int) -> int:
    """A distinct 63-bit seed per (seed, step, micro-batch, rank)."""
    value = (seed * 1_000_003 + step) * 1_000_033 + micro * 10_007 + rank
    return value % (2**63 - 1)


# ---- learning rate, EMA -------------------------------------------------------------------------


def lr_factor(step: int, config: TrainConfig) -> float:
    """Linear warm-up to 1, then cosine decay to ``min_lr_ratio`` at ``steps``."""
    if step < config.warmup:
        return (step + 1) / (config.warmup + 1)
    span = max(1, config.steps - config.warmup)
    progress = min(1.0, (step - config.warmup) / span)
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Ema:
    """Float32 shadow copies of parameters."""

    def __init__(self, named: dict[str, nn.Parameter], decay: float) -> None:
        self.decay = decay
        self.shadow = {name: p.detach().float().clone() for name, p in named.items()}

    @torch.no_grad()
    def update(self, named: dict[str, nn.Parameter], step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for name, parameter in named.items():
            self.shadow[name].lerp_(parameter.detach().float(), 1 - decay)

    @contextlib.contextmanager
    def applied(self, named: dict[str, nn.Parameter]):
        """The EMA weights in place of the live ones for the duration (evaluation, export)."""
        saved = {name: p.detach().clone() for name, p in named.items()}
        with torch.no_grad():
            for name, parameter in named.items():
                parameter.copy_(self.shadow[name].to(parameter.dtype))
        try:
            yield
        finally:
            with torch.no_grad():
                for name, parameter in named.items():
                    parameter.copy_(saved[name])


def named_parameters(modules: dict[str, nn.Module]) -> dict[str, nn.Parameter]:
    return {f"{prefix}.{name}": p for prefix, module in modules.items()
            for name, p in module.named_parameters() if p.requires_grad}


# ---- checkpoints ----------------------------------------------------------------------------------


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    pointer = Path(run_dir) / CHECKPOINTS / LATEST
    if not pointer.is_file():
        return None
    folder = pointer.parent / pointer.read_text(encoding="utf-8").strip()
    return folder if (folder / "state.json").is_file() else None


def _module_tensors(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    from foleystudio.engine.checkpoint import _tensors_to_save  # one rule for shared storage

    return {f"{prefix}.{key}": tensor for prefix, module in modules.items()
            for key, tensor in _tensors_to_save(module).items()}


def _rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _write_checkpoint(run_dir: Path, step: int, modules, ema: Ema, trainer_state: dict, keep: int) -> Path:
    from safetensors.torch import save_file

    root = run_dir / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    temporary = root / f".{name}.part"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    save_file(_module_tensors(modules), str(temporary / "model.safetensors"))
    save_file({k: v.cpu().contiguous() for k, v in ema.shadow.items()}, str(temporary / "ema.safetensors"))
    torch.save(trainer_state, temporary / "trainer.pt")
    (temporary / "state.json").write_text(json.dumps({"step": step, "position": trainer_state["position"]}))
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(temporary, final)
    pointer = root / f".{LATEST}.part"
    pointer.write_text(name, encoding="utf-8")
    os.replace(pointer, root / LATEST)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _read_checkpoint(folder: Path, modules, ema: Ema, device: torch.device) -> dict:
    from safetensors.torch import load_file

    tensors = load_file(str(folder / "model.safetensors"))
    for prefix, module in modules.items():
        state = {key[len(prefix) + 1 :]: value for key, value in tensors.items() if key.startswith(prefix + ".")}
        module.load_state_dict(state, strict=True)
    shadow = load_file(str(folder / "ema.safetensors"))
    if set(shadow) != set(ema.shadow):
        raise ValueError(f"{folder}: the EMA weights do not match the model being trained")
    ema.shadow = {k: v.to(device) for k, v in shadow.items()}
    return torch.load(folder / "trainer.pt", map_location="cpu", weights_only=False)


# ---- logging --------------------------------------------------------------------------------------


class MetricsLog:
    """metrics.jsonl + metrics.csv (long format), appended (resumed runs continue the files)."""

    def __init__(self, run_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self.jsonl, self.csv = run_dir / "metrics.jsonl", run_dir / "metrics.csv"
        if enabled and not self.csv.exists():
            self.csv.write_text("step,kind,name,value\n", encoding="utf-8")

    def forget_after(self, step: int) -> None:
        """Drop rows logged after ``step``: a run killed between checkpoints redoes those steps, and a
        plot of the log must not show them twice."""
        if not self.enabled:
            return
        for path, json_rows, header in ((self.jsonl, True, 0), (self.csv, False, 1)):
            if not path.exists():
                continue
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = lines[:header] + [line for line in lines[header:] if _logged_step(line, json_rows) <= step]
            if len(kept) != len(lines):
                write_text_atomic(path, "".join(kept), overwrite=True)

    def write(self, step: int, kind: str, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        with self.jsonl.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps({"step": step, "kind": kind, "time": time.time(), **values}) + "\n")
        with self.csv.open("a", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream)
            for name, value in values.items():
                writer.writerow([step, kind, name, f"{value:.6g}"])


def _logged_step(line: str, json_row: bool) -> int:
    try:
        return int(json.loads(line)["step"]) if json_row else int(line.split(",", 1)[0])
    except (ValueError, KeyError, TypeError):
        return sys.maxsize  # a torn last line from a killed process: dropped


def _progress_bar(total: int, initial: int, enabled: bool):
    if not (enabled and sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", file=sys.stderr, dynamic_ncols=True)


# ---- the loop -------------------------------------------------------------------------------------


def _pick_device(device, dist_info: Distributed) -> torch.device:
    if device not in (None, "auto"):
        chosen = torch.device(device)
        if chosen.type == "cuda" and chosen.index is None:  # torch.cuda.set_device needs an index
            chosen = torch.device("cuda", dist_info.local_rank)
        return chosen
    if torch.cuda.is_available():
        return torch.device("cuda", dist_info.local_rank)
    return torch.device("cpu")


def _autocast(device: torch.device, amp: str):
    """(context factory, scaler or None) for this device."""
    if amp == "off" or device.type != "cuda":
        return contextlib.nullcontext, None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return (lambda: torch.autocast("cuda", dtype=dtype)), scaler


def train(
    task,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = True,
    device: str | torch.device | None = "auto",
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train ``task`` for ``config.steps`` optimiser steps; checkpoints and logs under ``run_dir``.

    resume: continue from ``run_dir``'s latest checkpoint if there is one. on_step(step, metrics) is
    called on every rank after each optimiser step (tests interrupt a run from it).
    """
    dist_info = Distributed.from_env()
    target = _pick_device(device, dist_info)
    if target.type == "cuda":
        torch.cuda.set_device(target)
    started_group = _init_distributed(dist_info, target)
    finished = False
    try:
        with _own_rng(config.seed + dist_info.rank, target):
            result = _Loop(task, config, Path(run_dir), dist_info, target).run(resume, on_step)
        finished = True
        return result
    finally:
        if started_group:
            _leave_process_group(wait_for_others=finished)


@contextlib.contextmanager
def _own_rng(seed: int, device: torch.device):
    """Seed the global RNGs (module dropout draws from them) for the run and give the caller's back after."""
    saved = (np.random.get_state(), random.getstate())
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(saved[0])
            random.setstate(saved[1])


class _Loop:
    def __init__(self, task, config: TrainConfig, run_dir: Path, dist_info: Distributed, device: torch.device):
        self.task, self.config, self.run_dir, self.dist, self.device = task, config, run_dir, dist_info, device
        if dist_info.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        task.to(device)
        self.modules = task.modules()
        for module in self.modules.values():
            module.train()
        self.named = named_parameters(self.modules)
        self.parameters = list(self.named.values())
        self.optimizer = torch.optim.AdamW(self.parameters, lr=config.lr, betas=(0.9, 0.99),
                                           weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: lr_factor(s, config))
        self.ema = Ema(self.named, config.ema_decay)
        self.order = DataOrder(task.item_count(), config.seed, dist_info.rank, dist_info.world)
        self.autocast, self.scaler = _autocast(device, config.amp)
        self.log = MetricsLog(run_dir, dist_info.is_main)
        self.step = 0

    # -- state
    def _resume(self) -> int:
        folder = latest_checkpoint(self.run_dir)
        if folder is None:
            return 0
        state = _read_checkpoint(folder, self.modules, self.ema, self.device)
        self._check_same_data(folder, state.get("items"))
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.order.position = int(state["step"]), int(state["position"])
        rng = state["rng"]
        _set_rng_state(rng[self.dist.rank] if self.dist.rank < len(rng) else rng[0])
        logger.info("resumed %s from %s (step %d)", self.run_dir, folder, self.step)
        return self.step

    def _check_same_data(self, folder: Path, items: int | None) -> None:
        """The data order is a function of the item count: resuming on other data (another --data,
        another --category-balance) would silently continue a different run. Checkpoints from
        before the count was stored (None) are trusted."""
        from foleystudio.errors import UserInputError

        if items is not None and int(items) != self.order.count:
            raise UserInputError(f"{self.run_dir}: its checkpoint {folder.name} was trained on {int(items)} items and "
                                 f"this data has {self.order.count}; resume with the data it was started with, or "
                                 f"start a new run (another --out, or --no-resume)")

    def _checkpoint(self) -> Path | None:
        rng = [_rng_state()]
        if self.dist.active:
            import torch.distributed as dist

            rng = [None] * self.dist.world
            dist.all_gather_object(rng, _rng_state())
        if not self.dist.is_main:
            return None
        state = {"step": self.step, "position": self.order.position, "items": self.order.count,
                 "optimizer": self.optimizer.state_dict(),
                 "scheduler": self.scheduler.state_dict(), "rng": rng, "config": asdict(self.config),
                 "scaler": None if self.scaler is None else self.scaler.state_dict()}
        return _write_checkpoint(self.run_dir, self.step, self.modules, self.ema, state, self.config.keep)

    def _checkpoint_due(self, last_time: float) -> bool:
        due = (self.step % self.config.every_steps == 0 or time.monotonic() - last_time >= self.config.checkpoint_every_s)
        if self.dist.active:  # every rank must agree (the checkpoint gathers RNG states)
            import torch.distributed as dist

            flag = torch.tensor([int(due)], device=self.device if self.device.type == "cuda" else "cpu")
            dist.broadcast(flag, 0)
            due = bool(flag.item())
        return due

    # -- one step
    def _generators(self, micro: int) -> tuple[torch.Generator, torch.Generator]:
        seed = step_seed(self.config.seed, self.step, micro, self.dist.rank)
        data = torch.Generator().manual_seed(seed)
        model = torch.Generator(device=self.device).manual_seed(seed + 1)
        return data, model

    def _optimiser_step(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for micro in range(self.config.grad_accum):
            data_generator, model_generator = self._generators(micro)
            batch = self.task.make_batch(self.order.take(self.config.batch_size), data_generator)
            with self.autocast():
                loss, metrics = self.task.loss(batch, model_generator)
            scaled = loss.float() / self.config.grad_accum
            (self.scaler.scale(scaled) if self.scaler is not None else scaled).backward()
            for name, value in {"loss": float(loss.detach()), **metrics}.items():
                totals[name] = totals.get(name, 0.0) + value / self.config.grad_accum
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if self.dist.active:
            _average_gradients(self.parameters, self.dist.world)
        norm = torch.nn.utils.clip_grad_norm_(self.parameters, self.config.grad_clip)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1
        self.ema.update(self.named, self.step)
        totals["grad_norm"] = float(norm)
        totals["lr"] = self.optimizer.param_groups[0]["lr"]
        return self._mean_over_ranks(totals)

    def _mean_over_ranks(self, values: dict[str, float]) -> dict[str, float]:
        if not self.dist.active:
            return values
        import torch.distributed as dist

        names = sorted(values)
        tensor = torch.tensor([values[n] for n in names], dtype=torch.float64,
                              device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(tensor)
        return {n: float(v) / self.dist.world for n, v in zip(names, tensor.tolist(), strict=True)}

    def _evaluate(self) -> dict[str, float]:
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed + 7)
        for module in self.modules.values():
            module.eval()
        try:
            with self.ema.applied(self.named), torch.no_grad(), self.autocast():
                metrics = self.task.evaluate(generator)
        finally:
            for module in self.modules.values():
                module.train()
        return self._mean_over_ranks(metrics) if metrics else {}

    # -- the run
    def run(self, resume: bool, on_step) -> TrainResult:
        start = self._resume() if resume else 0
        self.log.forget_after(start)
        if not start and self.dist.active:
            _broadcast_parameters(self.modules)
            self.ema = Ema(self.named, self.config.ema_decay)
        result = TrainResult(self.run_dir, start, start)
        bar = _progress_bar(self.config.steps, start, self.dist.is_main)
        last_checkpoint = time.monotonic()
        try:
            while self.step < self.config.steps:
                metrics = self._optimiser_step()
                result.losses[self.step] = metrics["loss"]
                if self.step % self.config.log_every == 0 or self.step == self.config.steps:
                    self.log.write(self.step, "train", metrics)
                if self.step % self.config.eval_every == 0 or self.step == self.config.steps:
                    evaluation = self._evaluate()
                    if evaluation:
                        result.evaluations[self.step] = evaluation
                        self.log.write(self.step, "eval", evaluation)
                if self.step == self.config.steps or self._checkpoint_due(last_checkpoint):
                    result.checkpoint = self._checkpoint() or result.checkpoint
                    last_checkpoint = time.monotonic()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{metrics['loss']:.4f}")
                if on_step is not None:
                    on_step(self.step, metrics)
        finally:
            if bar is not None:
                bar.close()
        result.step = self.step
        return result


def load_ema_into(task, run_dir: str | os.PathLike) -> int:
    """Copy the latest checkpoint's EMA weights (and the model's buffers) into ``task``'s modules.

    Returns the checkpoint's step. Used by export after `train`.
    """
    from safetensors.torch import load_file

    folder = latest_checkpoint(run_dir)
    if folder is None:
        raise ValueError(f"{run_dir}: no checkpoint to export")
    modules = task.modules()
    tensors = load_file(str(folder / "model.safetensors"))
    tensors.update(load_file(str(folder / "ema.safetensors")))
    for prefix, module in modules.items():
        state = {key[len(prefix) + 1 :]: value for key, value in tensors.items() if key.startswith(prefix + ".")}
        module.load_state_dict(state, strict=True)
    return int(json.loads((folder / "state.json").read_text())["step"])
