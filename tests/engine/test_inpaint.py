"""Flow-matching inpainting and region regeneration (foleystudio.engine.inpaint)."""

import math

import numpy as np
import pytest
import torch

from foleystudio.engine.inpaint import (
    inpaint_latent,
    masked_velocity,
    plan_region,
    raised_cosine,
    regenerate_region,
    splice_region,
)
from foleystudio.engine.sampler import GenerationCancelled, SamplerConfig, make_noise, sample
from foleystudio.errors import UserInputError

RATE = 44100


class SpaceToDepthCodec:
    """A lossless toy codec: each latent frame is the hop_length stereo samples it covers."""

    sample_rate = RATE

    def __init__(self, hop_length=32):
        self.hop_length = hop_length
        self.latent_channels = 2 * hop_length
        self.decodes = 0

    def encode(self, wave):
        frames = math.ceil(wave.shape[-1] / self.hop_length)
        padded = torch.nn.functional.pad(wave, (0, frames * self.hop_length - wave.shape[-1]))
        batch = wave.shape[0]
        return padded.reshape(batch, 2, frames, self.hop_length).permute(0, 1, 3, 2).reshape(batch, -1, frames)

    def decode(self, latent):
        self.decodes += 1
        batch, _, frames = latent.shape
        return latent.reshape(batch, 2, self.hop_length, frames).permute(0, 1, 3, 2).reshape(batch, 2, -1)


def sine(frequency, seconds=1.0, phase=0.0, amplitude=0.5):
    t = np.arange(round(seconds * RATE)) / RATE
    mono = amplitude * np.sin(2 * np.pi * frequency * t + phase)
    return np.stack([mono, 0.8 * mono]).astype(np.float32)


def drain(generator):
    while True:
        try:
            next(generator)
        except StopIteration as finished:
            return finished.value


def toward(codec, plan, wave):
    """A 'model' whose flow lines go straight to the excerpt of ``wave``: the regenerated audio is ``wave``."""
    target = codec.encode(torch.from_numpy(wave[:, plan.excerpt_start : plan.excerpt_stop].copy()).unsqueeze(0))
    return lambda t, x: (target - x) / (1.0 - t)


ORIGINAL = sine(220.0)
REPLACEMENT = sine(330.0, phase=np.pi / 2)  # at 0.3 s and 0.7 s the two differ by ~0.5: a hard cut clicks


def regenerate(start_s=0.3, end_s=0.7, crossfade_s=0.02, velocity=None, seed=0, codec=None):
    codec = codec or SpaceToDepthCodec()
    plan = plan_region(
        ORIGINAL.shape[1],
        start_s,
        end_s,
        sample_rate=RATE,
        hop_length=codec.hop_length,
        crossfade_s=crossfade_s,
        context_s=0.05,
    )
    assert 0 < plan.excerpt_start < plan.start and plan.stop < plan.excerpt_stop < ORIGINAL.shape[1]
    velocity = velocity or toward(codec, plan, REPLACEMENT)
    return plan, drain(regenerate_region(ORIGINAL, plan, codec, velocity, SamplerConfig(steps=4), seed=seed))


def test_outside_the_region_is_bit_identical_and_inside_is_new():
    plan, result = regenerate()
    assert result.dtype == np.float32 and result.shape == ORIGINAL.shape
    assert (plan.start, plan.stop) == (round(0.3 * RATE), round(0.7 * RATE))
    assert np.array_equal(result[:, : plan.start], ORIGINAL[:, : plan.start])
    assert np.array_equal(result[:, plan.stop :], ORIGINAL[:, plan.stop :])
    core = slice(plan.start + plan.crossfade_samples, plan.stop - plan.crossfade_samples)
    np.testing.assert_allclose(result[:, core], REPLACEMENT[:, core], atol=1e-4)
    assert np.abs(result[:, core] - ORIGINAL[:, core]).max() > 0.5


def max_jump(wave, around, half_width):
    segment = wave[:, around - half_width : around + half_width]
    return np.abs(np.diff(segment, axis=1)).max()


def test_edges_have_no_clicks_where_a_hard_cut_would():
    plan, result = regenerate(crossfade_s=0.02)
    assert plan.crossfade_samples == round(0.02 * RATE)
    smooth = max(np.abs(np.diff(ORIGINAL)).max(), np.abs(np.diff(REPLACEMENT)).max())
    for edge in (plan.start, plan.stop):
        assert max_jump(result, edge, 2 * plan.crossfade_samples) < 1.2 * smooth
    _, hard = regenerate(crossfade_s=0.0)
    assert max_jump(hard, plan.start, 10) > 10 * smooth  # the check above can fail


def test_crossfade_never_exceeds_the_larger_input():
    plan, result = regenerate()
    region = slice(plan.start, plan.stop)
    bound = np.maximum(np.abs(ORIGINAL[:, region]), np.abs(REPLACEMENT[:, region]))
    assert np.all(np.abs(result[:, region]) <= bound + 1e-6)


def test_raised_cosine_rises_strictly_inside_zero_one():
    ramp = raised_cosine(5)
    assert np.all(np.diff(ramp) > 0) and ramp[0] > 0 and ramp[-1] < 1
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-6)


@pytest.mark.parametrize("method", ["euler", "heun"])
def test_known_frames_follow_their_exact_flow_path(method):
    noise = make_noise((2, 3, 10), seed=4)
    known = torch.randn(2, 3, 10, generator=torch.Generator().manual_seed(9))
    keep = torch.zeros(1, 1, 10)
    keep[..., :4] = 1.0
    seen = []

    def model(t, x):
        seen.append((t, x.clone()))
        return torch.sin(3 * x) - x

    latent = drain(sample(masked_velocity(model, known, keep, noise), noise, SamplerConfig(method=method, steps=5)))
    for t, x in seen:
        torch.testing.assert_close(x[..., :4], (1 - t) * noise[..., :4] + t * known[..., :4], atol=1e-5, rtol=0)
    torch.testing.assert_close(latent[..., :4], known[..., :4], atol=1e-5, rtol=0)
    assert (latent[..., 4:] - known[..., 4:]).abs().max() > 0.1


def test_inpaint_latent_keeps_the_outside_and_regenerates_the_inside():
    known = torch.randn(2, 3, 12, generator=torch.Generator().manual_seed(2))
    model = lambda t, x: torch.tanh(2 * x) - x  # noqa: E731
    latent = drain(inpaint_latent(known, 4, 9, model, SamplerConfig(method="heun", steps=4), seed=5))
    torch.testing.assert_close(latent[..., :4], known[..., :4], atol=1e-5, rtol=0)
    torch.testing.assert_close(latent[..., 9:], known[..., 9:], atol=1e-5, rtol=0)
    assert (latent[..., 4:9] - known[..., 4:9]).abs().mean() > 0.1
    again = drain(inpaint_latent(known, 4, 9, model, SamplerConfig(method="heun", steps=4), seed=5))
    assert torch.equal(latent, again)
    with pytest.raises(ValueError, match="not inside"):
        drain(inpaint_latent(known, 9, 4, model, SamplerConfig(steps=2), seed=5))


@pytest.mark.parametrize(
    "start_s, end_s, message",
    [
        (0.5, 0.5, "must be before its end"),
        (0.7, 0.3, "must be before its end"),
        (-0.1, 0.3, "outside the take"),
        (0.5, 1.5, "outside the take"),
        (float("nan"), 0.3, "must be numbers"),
        (0.5, 0.5 + 1e-7, "shorter than one sample"),
    ],
)
def test_bad_ranges_are_user_errors(start_s, end_s, message):
    with pytest.raises(UserInputError, match=message):
        plan_region(RATE, start_s, end_s, sample_rate=RATE, hop_length=32)


def test_a_mono_take_is_a_user_error():
    codec = SpaceToDepthCodec()
    plan = plan_region(RATE, 0.3, 0.7, sample_rate=RATE, hop_length=32)
    with pytest.raises(UserInputError, match="stereo"):
        drain(regenerate_region(ORIGINAL[:1], plan, codec, lambda t, x: -x, SamplerConfig(steps=2), seed=0))


def test_plan_aligns_the_excerpt_and_regenerates_the_region_with_a_margin():
    plan = plan_region(10 * RATE, 4.0, 5.0, sample_rate=RATE, hop_length=512, context_s=1.0, margin_frames=2)
    assert plan.excerpt_start % 512 == 0 and plan.excerpt_start <= 3 * RATE
    assert plan.excerpt_stop == 6 * RATE
    assert plan.excerpt_first_frame == plan.excerpt_start // 512
    first_region_frame = (plan.start - plan.excerpt_start) // 512
    last_region_frame = math.ceil((plan.stop - plan.excerpt_start) / 512)
    assert (plan.regen_start, plan.regen_stop) == (first_region_frame - 2, last_region_frame + 2)


def test_plan_fits_the_model_window_or_says_the_region_is_too_long():
    plan = plan_region(100 * RATE, 40.0, 50.0, sample_rate=RATE, hop_length=2048, context_s=30.0, max_frames=300)
    assert plan.excerpt_frames <= 300
    assert plan.excerpt_start < plan.start and plan.excerpt_stop > plan.stop
    with pytest.raises(UserInputError, match="too long to regenerate at once"):
        plan_region(100 * RATE, 10.0, 30.0, sample_rate=RATE, hop_length=2048, max_frames=300)


def test_same_seed_same_take_other_seed_other_take():
    noisy = lambda t, x: torch.tanh(2 * x) - x  # noqa: E731 - depends on the starting noise
    _, first = regenerate(velocity=noisy, seed=11)
    _, again = regenerate(velocity=noisy, seed=11)
    _, other = regenerate(velocity=noisy, seed=12)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_cancelling_skips_decoding():
    codec = SpaceToDepthCodec()
    plan = plan_region(ORIGINAL.shape[1], 0.3, 0.7, sample_rate=RATE, hop_length=codec.hop_length)
    steps = regenerate_region(
        ORIGINAL, plan, codec, toward(codec, plan, REPLACEMENT), SamplerConfig(steps=4), seed=0, cancel=lambda: True
    )
    with pytest.raises(GenerationCancelled):
        next(steps)
    assert codec.decodes == 0


def test_splice_reports_a_short_excerpt():
    plan = plan_region(RATE, 0.3, 0.7, sample_rate=RATE, hop_length=32)
    with pytest.raises(ValueError, match="samples"):
        splice_region(ORIGINAL, ORIGINAL[:, :100], plan)
