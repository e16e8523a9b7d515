"""Sampler (foleystudio.engine.sampler): schedule, Euler/Heun accuracy, previews, cancellation, noise."""

import threading

import pytest
import torch

from foleystudio.engine.sampler import (
    GenerationCancelled,
    NoiseStream,
    SamplerConfig,
    Step,
    make_noise,
    sample,
    time_grid,
)
from foleystudio.errors import UserInputError

SHAPE = (3, 4, 16)


def run(generator):
    """Drain a sampler generator: (list of Steps, returned latent)."""
    steps = []
    while True:
        try:
            steps.append(next(generator))
        except StopIteration as finished:
            return steps, finished.value


def straight_to(target):
    """The rectified-flow field toward a single point: its flow lines are straight, Euler is exact."""
    return lambda t, x: (target - x) / (1.0 - t)


def gaussian_flow(mean, std):
    """The exact flow-matching field for data ~ N(mean, std²): z maps to mean + std·z along a curve."""

    def velocity(t, x):
        variance = (1.0 - t) ** 2 + (t * std) ** 2
        return mean + (x - t * mean) * (t * std * std - (1.0 - t)) / variance

    return velocity


class Counting:
    def __init__(self, fn):
        self.fn, self.times = fn, []

    def __call__(self, t, x):
        self.times.append(t)
        return self.fn(t, x)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "between 1 and"),
        ({"steps": -3}, "between 1 and"),
        ({"steps": 1001}, "between 1 and"),
        ({"steps": 2.5}, "whole number"),
        ({"steps": True}, "whole number"),
        ({"method": "rk4"}, "unknown sampler 'rk4'"),
        ({"shift": 0.0}, "shift"),
        ({"shift": float("nan")}, "shift"),
    ],
)
def test_bad_sampler_settings_are_user_errors(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        SamplerConfig(**kwargs)


def test_defaults_and_evaluation_counts():
    default = SamplerConfig()
    assert (default.method, default.steps, default.shift) == ("euler", 25, 3.0)
    assert default.evaluations == 25
    assert SamplerConfig(method="heun", steps=10).evaluations == 19
    assert SamplerConfig(method="heun", steps=1).evaluations == 1


def test_uniform_and_shifted_time_grids():
    assert time_grid(4, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    shifted = time_grid(10, 3.0)
    assert shifted[0] == 0.0 and shifted[-1] == 1.0
    assert all(a < b for a, b in zip(shifted, shifted[1:], strict=False))
    # Half way through the steps, sigma 0.5 -> 3·0.5 / (1 + 2·0.5) = 0.75, i.e. t = 0.25.
    assert shifted[5] == pytest.approx(0.25)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_steps_count_up_and_previews_estimate_the_clean_latent(method):
    target = torch.linspace(-1, 1, SHAPE[0] * SHAPE[1] * SHAPE[2]).reshape(SHAPE)
    noise = make_noise(SHAPE, seed=1)
    steps, latent = run(sample(straight_to(target), noise, SamplerConfig(method=method, steps=5, shift=2.0)))
    assert [step.i for step in steps] == [1, 2, 3, 4, 5]
    assert all(step.total == 5 for step in steps)
    assert steps[-1].t == 1.0 and all(a.t < b.t for a, b in zip(steps, steps[1:], strict=False))
    # On straight flow lines x + (1 - t) v is the end point from the first step on.
    for step in steps:
        torch.testing.assert_close(step.preview, target, atol=1e-5, rtol=0)
        assert not step.preview.requires_grad
    torch.testing.assert_close(latent, target, atol=1e-5, rtol=0)
    assert torch.equal(steps[-1].preview, latent)


def test_previews_can_be_turned_off():
    noise = make_noise(SHAPE, seed=1)
    steps, _ = run(sample(lambda t, x: -x, noise, SamplerConfig(steps=3, preview=False)))
    assert [step.preview for step in steps] == [None, None, None]


@pytest.mark.parametrize("method, steps, evaluations", [("euler", 6, 6), ("heun", 6, 11), ("heun", 1, 1)])
def test_velocity_evaluations_and_never_at_t_one(method, steps, evaluations):
    velocity = Counting(lambda t, x: -x)
    run(sample(velocity, make_noise(SHAPE, seed=0), SamplerConfig(method=method, steps=steps)))
    assert len(velocity.times) == evaluations == SamplerConfig(method=method, steps=steps).evaluations
    assert max(velocity.times) < 1.0  # fields like (x1 - x) / (1 - t) are safe


def final_error(method, steps):
    noise = make_noise(SHAPE, seed=3)
    exact = 0.7 + 0.5 * noise
    config = SamplerConfig(method=method, steps=steps, shift=1.0, preview=False)
    _, latent = run(sample(gaussian_flow(0.7, 0.5), noise, config))
    return (latent - exact).abs().max().item()


def test_heun_is_second_order_and_beats_euler_at_equal_evaluations():
    heun = {k: final_error("heun", k) for k in (8, 16, 32)}
    euler = {k: final_error("euler", 2 * k - 1) for k in (8, 16, 32)}
    # Doubling the steps divides Heun's error by ~4 (second order), Euler's by ~2 (first order).
    assert heun[8] / heun[16] > 3.3 and heun[16] / heun[32] > 3.3
    assert 1.6 < euler[8] / euler[16] < 2.5
    for k in (8, 16, 32):
        assert heun[k] < 0.5 * euler[k]


def test_cancel_event_stops_at_the_next_step_boundary():
    cancel = threading.Event()
    velocity = Counting(lambda t, x: -x)
    generator = sample(velocity, make_noise(SHAPE, seed=0), SamplerConfig(steps=10), cancel=cancel)
    next(generator)
    next(generator)
    cancel.set()
    with pytest.raises(GenerationCancelled):
        next(generator)
    assert len(velocity.times) == 2


def test_cancel_during_the_last_step_skips_the_return_so_nothing_is_decoded():
    requested = []
    generator = sample(
        lambda t, x: -x, make_noise(SHAPE, seed=0), SamplerConfig(steps=2), cancel=lambda: bool(requested)
    )
    decoded = []

    def consume():
        latent = yield from generator
        decoded.append(latent)  # what a pipeline would decode

    consumer = consume()
    next(consumer)
    step = next(consumer)
    assert isinstance(step, Step) and step.i == 2
    requested.append(True)
    with pytest.raises(GenerationCancelled):
        next(consumer)
    assert decoded == []


def test_sampling_does_not_record_gradients_or_leak_grad_mode():
    seen = []

    def velocity(t, x):
        seen.append(torch.is_grad_enabled())
        return -x

    generator = sample(velocity, make_noise(SHAPE, seed=0), SamplerConfig(steps=2))
    next(generator)
    assert torch.is_grad_enabled()  # the consumer's mode between steps is untouched
    run(generator)
    assert seen == [False, False]


def test_a_velocity_of_the_wrong_shape_is_reported():
    with pytest.raises(ValueError, match="shape"):
        run(sample(lambda t, x: x[:1], make_noise(SHAPE, seed=0), SamplerConfig(steps=2)))


def test_noise_is_reproducible_per_variation_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    noise = make_noise(SHAPE, seed=42)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(noise, make_noise(SHAPE, seed=42))
    assert noise.dtype == torch.float32 and noise.shape == SHAPE
    # Variation i of seed s is the single take of seed s + i.
    for i in range(SHAPE[0]):
        assert torch.equal(noise[i], make_noise((1, *SHAPE[1:]), seed=42 + i)[0])
    assert not torch.equal(noise, make_noise(SHAPE, seed=43))
    assert not torch.equal(noise[0], noise[1])


def test_noise_stream_continues_where_make_noise_stops():
    stream = NoiseStream(seed=7, variations=2)
    first, second = stream.draw((4, 10)), stream.draw((4, 10))
    assert torch.equal(first, make_noise((2, 4, 10), seed=7))
    assert not torch.equal(first, second)
    again = NoiseStream(seed=7, variations=2)
    assert torch.equal(again.draw((4, 10)), first) and torch.equal(again.draw((4, 10)), second)


@pytest.mark.parametrize("seed, variations", [(-1, 1), (2**63 - 1, 2), (1.5, 1), (0, 0), (True, 1)])
def test_bad_seeds_and_variation_counts_are_user_errors(seed, variations):
    with pytest.raises(UserInputError):
        NoiseStream(seed, variations)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_same_seed_same_output_different_seed_different_output(method):
    def generate(seed):
        noise = make_noise(SHAPE, seed=seed)
        field = lambda t, x: torch.tanh(3 * x) - x * t  # noqa: E731 - a nonlinear toy model
        return run(sample(field, noise, SamplerConfig(method=method, steps=6)))[1]

    assert torch.equal(generate(5), generate(5))
    assert not torch.allclose(generate(5), generate(6))
