"""Flow-matching sampler: integrates dx/dt = v(t, x) from noise (t = 0) to data (t = 1).

The sampler knows nothing about the model: it takes any ``velocity_fn(t, x) -> v`` (house style
§4.6), so guidance, inpainting and long takes are velocity functions wrapped around the model's.

Conventions (engine contract): x_t = (1 - t) z + t x_1 with z ~ N(0, I); the velocity target is
x_1 - z. ``sample`` is a generator: it yields a ``Step`` after every step and *returns* the final
latent (``StopIteration.value``, or ``latent = yield from sample(...)``).

Cancellation: ``cancel`` (a callable returning True, or a ``threading.Event``) is polled at every
step boundary, including after the last step. When it is set, the generator raises
``GenerationCancelled`` instead of yielding or returning, so a caller that decodes the returned
latent never reaches its decode.

Noise: ``NoiseStream(seed, variations)`` gives variation i its own CPU ``torch.Generator`` seeded
with ``seed + i`` (the noise is drawn on the CPU and then moved, so a seed gives the same noise on
every device). Variation i of seed s is therefore the single take of seed s + i: it can be
reproduced alone. No global seed is ever set.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import torch

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

VelocityFn = Callable[[float, torch.Tensor], torch.Tensor]
CancelSignal = Callable[[], bool] | threading.Event | None

METHODS = ("euler", "heun")
MAX_STEPS = 1000
# torch.Generator.manual_seed takes 64-bit values; we keep seeds in the signed range so they fit
# an int64 wherever a take's metadata stores them.
MAX_SEED = 2**63 - 1


class GenerationCancelled(Exception):
    """The caller asked to stop; raised at the next step boundary so decoding is skipped."""


@dataclass(frozen=True, eq=False)
class Step:
    """Progress after one sampler step.

    i: steps completed so far (1..total). t: the flow time reached by this step (1.0 after the
    last). preview: the current estimate of the clean latent, x̂_1 = x_t + (1 - t) v with v the
    velocity the step moved along (detached; None when previews are off); after the last step it
    is the final latent. offset: latent frame of preview[..., 0] within the whole take (long
    takes preview one window at a time; 0 otherwise).
    """

    i: int
    total: int
    t: float
    preview: torch.Tensor | None
    offset: int = 0


@dataclass(frozen=True)
class SamplerConfig:
    """How to integrate the flow.

    method: "euler" (1 velocity evaluation per step) or "heun" (2 per step except the last, which is
    an Euler step as in Karras et al. 2022 (EDM), so the velocity is never evaluated at t = 1).
    steps: number of steps (1..1000).
    shift: time-schedule shift of SD3 (Esser et al. 2024) / Stable Audio: in noise level
    sigma = 1 - t, sigma' = shift * sigma / (1 + (shift - 1) * sigma) on a uniform grid. 1.0 is the
    uniform schedule; > 1 spends more steps near the noise end, where the coarse structure is
    decided. The default 3.0 is SD3's published sampling default (with 28 Euler steps); it is a
    starting point until our trained model is tuned.
    preview: whether each Step carries the clean-latent estimate (one extra latent-sized tensor).
    """

    method: str = "euler"
    steps: int = 25
    shift: float = 3.0
    preview: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise UserInputError(f"unknown sampler {self.method!r} (choose one of: {', '.join(METHODS)})")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int):
            raise UserInputError(f"steps must be a whole number (got {self.steps!r})")
        if not 1 <= self.steps <= MAX_STEPS:
            raise UserInputError(f"steps must be between 1 and {MAX_STEPS} (got {self.steps})")
        if not (isinstance(self.shift, int | float) and math.isfinite(self.shift) and self.shift > 0):
            raise UserInputError(f"sampler shift must be a finite number above 0 (got {self.shift!r})")

    @property
    def evaluations(self) -> int:
        """Velocity evaluations one sample() call makes (the cost unit of a generation)."""
        return self.steps if self.method == "euler" else 2 * self.steps - 1


TINY_SAMPLER = SamplerConfig(method="euler", steps=4)
SMALL_SAMPLER = SamplerConfig(method="euler", steps=25, shift=3.0)
COMPACT_SAMPLER = SamplerConfig(method="euler", steps=16, shift=3.0)
BASE_SAMPLER = SamplerConfig(method="heun", steps=50, shift=3.0)


def time_grid(steps: int, shift: float = 1.0, start: float = 0.0) -> list[float]:
    """steps + 1 increasing times from exactly ``start`` to exactly 1.0: the SD3 shifted schedule,
    squeezed onto [start, 1] (a run that starts part way, from a given latent, keeps its steps)."""
    if not 0.0 <= start < 1.0:
        raise ValueError(f"a sampling run starts at a time in [0, 1), got {start}")
    times = []
    for k in range(steps + 1):
        sigma = 1.0 - k / steps
        shifted = shift * sigma / (1.0 + (shift - 1.0) * sigma)
        times.append(start + (1.0 - start) * (1.0 - shifted))
    times[0], times[-1] = start, 1.0  # exact ends whatever the rounding
    return times


def sample(
    velocity_fn: VelocityFn,
    noise: torch.Tensor,
    config: SamplerConfig,
    cancel: CancelSignal = None,
    start: float = 0.0,
) -> Generator[Step, None, torch.Tensor]:
    """Integrate from ``noise`` (t = 0) to t = 1; yields a Step per step, returns the final latent.

    With ``start`` > 0, ``noise`` is the flow's x at t = ``start`` (noise mixed with a latent to keep,
    as `reference_layout.start_point` makes it) and the steps cover [start, 1].
    Raises GenerationCancelled at the first step boundary where ``cancel`` is set.
    """
    is_cancelled = _cancel_predicate(cancel)
    grid = time_grid(config.steps, config.shift, start)
    x = noise
    for index in range(config.steps):
        if is_cancelled():
            raise GenerationCancelled(f"cancelled before step {index + 1} of {config.steps}")
        t0, t1 = grid[index], grid[index + 1]
        is_last = index == config.steps - 1
        velocity = _step_velocity(velocity_fn, x, t0, t1, heun=config.method == "heun" and not is_last)
        x = x + (t1 - t0) * velocity
        preview = (x + (1.0 - t1) * velocity).detach() if config.preview else None
        yield Step(i=index + 1, total=config.steps, t=t1, preview=preview)
    if is_cancelled():
        raise GenerationCancelled("cancelled after the last step, before decoding")
    return x


def _step_velocity(velocity_fn: VelocityFn, x: torch.Tensor, t0: float, t1: float, heun: bool) -> torch.Tensor:
    """The velocity a step moves along: v(t0, x), or Heun's average with the predictor's velocity."""
    v0 = _evaluate(velocity_fn, t0, x)
    if not heun:
        return v0
    predicted = x + (t1 - t0) * v0
    v1 = _evaluate(velocity_fn, t1, predicted)
    return 0.5 * (v0 + v1)


def _evaluate(velocity_fn: VelocityFn, t: float, x: torch.Tensor) -> torch.Tensor:
    # no_grad per call rather than around the generator: a `with` spanning a yield would leak the
    # grad mode into the consumer's code between steps.
    with torch.no_grad():
        velocity = velocity_fn(t, x)
    if velocity.shape != x.shape:
        raise ValueError(f"velocity_fn returned shape {tuple(velocity.shape)} for x of shape {tuple(x.shape)}")
    return velocity


def _cancel_predicate(cancel: CancelSignal) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    if isinstance(cancel, threading.Event):
        return cancel.is_set
    if callable(cancel):
        return lambda: bool(cancel())
    raise TypeError(f"cancel must be a callable or a threading.Event, not {type(cancel).__name__}")


class NoiseStream:
    """Per-variation Gaussian noise, drawn in order: variation i uses a CPU generator seeded seed + i.

    Successive ``draw`` calls continue each variation's stream (long takes draw one window at a
    time), so the first draw equals ``make_noise`` for the same seed and shape.
    """

    def __init__(self, seed: int, variations: int = 1) -> None:
        _check_seed(seed, variations)
        self.seed = seed
        self.variations = variations
        self._generators = [torch.Generator(device="cpu").manual_seed(seed + i) for i in range(variations)]

    def draw(
        self,
        shape: Sequence[int],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Noise of shape [variations, *shape], drawn on the CPU and moved to ``device``."""
        rows = [torch.randn(tuple(shape), generator=g, dtype=torch.float32) for g in self._generators]
        return torch.stack(rows).to(device=device, dtype=dtype)


def make_noise(
    shape: Sequence[int],
    seed: int,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Starting noise [N, ...] for N = shape[0] variations; row i is seeded with seed + i."""
    if len(shape) < 1:
        raise ValueError("noise shape needs a leading variations dimension")
    return NoiseStream(seed, shape[0]).draw(shape[1:], device=device, dtype=dtype)


def _check_seed(seed: int, variations: int) -> None:
    if isinstance(variations, bool) or not isinstance(variations, int) or variations < 1:
        raise UserInputError(f"variations must be a whole number of at least 1 (got {variations!r})")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserInputError(f"seed must be a whole number (got {seed!r})")
    if not 0 <= seed <= MAX_SEED - (variations - 1):
        raise UserInputError(
            f"seed must be between 0 and {MAX_SEED - (variations - 1)} for {variations} variation(s) (got {seed})"
        )
