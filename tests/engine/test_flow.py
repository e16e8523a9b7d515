"""The flow-matching objective: rectified-flow loss, condition dropout, masking, learning."""

import dataclasses

import pytest
import torch

from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.flow import (
    DEFAULT_FLOW,
    FlowConfig,
    flow_config_for,
    flow_matching_loss,
    sample_rows,
    sample_timesteps,
)
from foleystudio.engine.model import TINY_GENERATOR, FoleyGenerator

CHANNELS = TINY_GENERATOR.latent_channels


def build(seed=0, prediction="velocity") -> FoleyGenerator:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FoleyGenerator(dataclasses.replace(TINY_GENERATOR, prediction=prediction))


def item(model, seconds=1.0, seed=0, video=True, text="footsteps on gravel") -> ConditionInputs:
    generator = torch.Generator().manual_seed(seed)
    frames = max(1, int(seconds * 8))
    return ConditionInputs(
        total_s=seconds,
        text_ids=model.tokenize(text),
        video_features=torch.randn(frames, 16, generator=generator) if video else None,
        lufs=-60 + 40 * torch.rand(2, max(1, int(seconds * 6)), generator=generator),
    )


def data(batch, frames, seed=5):
    return torch.randn(batch, CHANNELS, frames, generator=torch.Generator().manual_seed(seed))


def test_loss_is_finite_and_gradients_reach_every_trained_part():
    model = build()
    x = data(2, 22)
    items = [item(model, seed=1), item(model, seed=2)]
    loss, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and loss.item() == pytest.approx(stats.loss)
    # A fresh DiT predicts exactly 0, so the loss is E|x - z|^2 ~ 2 and only the output layer moves first.
    assert 1.5 < stats.loss < 2.5
    assert model.dit.out_proj.weight.grad.abs().sum() > 0
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_same_seed_same_loss_other_seed_other_loss():
    model = build()
    x, items = data(3, 20), [item(model, seed=s) for s in range(3)]
    first, _ = flow_matching_loss(model, x, items, torch.Generator().manual_seed(7))
    again, _ = flow_matching_loss(model, x, items, torch.Generator().manual_seed(7))
    other, _ = flow_matching_loss(model, x, items, torch.Generator().manual_seed(8))
    assert first.item() == again.item() and first.item() != other.item()


def test_dropout_rates_follow_tri_ergon():
    model = build()
    full = ConditionInputs(
        total_s=1.0, text_ids=(5,), video_features=torch.zeros(8, 16), reference_audio=torch.zeros(1, 100)
    )
    rows = sample_rows([full] * 6000, torch.Generator().manual_seed(0))
    share = lambda predicate: sum(map(predicate, rows)) / len(rows)  # noqa: E731
    # Kept with 0.9 * 0.7; all three gone with 0.1 + 0.9 * 0.3^3.
    for modality in ("video", "text", "audio"):
        assert share(lambda row: modality in row.modalities) == pytest.approx(0.63, abs=0.02)
    assert share(lambda row: not row.modalities) == pytest.approx(0.1243, abs=0.015)
    assert share(lambda row: row.use_lufs) == pytest.approx(0.9, abs=0.015)
    for row in rows[:200]:
        has = row.modalities
        assert row.task == 4 * ("text" in has) + 2 * ("audio" in has) + ("video" in has)
    del model


def test_dropout_never_adds_a_missing_modality_and_can_be_switched_off():
    model = build()
    without_video = item(model, video=False)
    rows = sample_rows([without_video] * 200, torch.Generator().manual_seed(1))
    assert all("video" not in row.modalities for row in rows)
    keep_all = FlowConfig(modality_drop=0.0, all_drop=0.0, lufs_drop=0.0)
    rows = sample_rows([item(model)] * 50, torch.Generator().manual_seed(1), keep_all)
    assert all(row.modalities == {"video", "text"} and row.use_lufs for row in rows)


def test_timestep_samplers():
    logit = sample_timesteps(20000, torch.Generator().manual_seed(0))
    uniform = sample_timesteps(20000, torch.Generator().manual_seed(0), FlowConfig(time_sampling="uniform"))
    assert 0 < logit.min() and logit.max() < 1 and logit.mean().item() == pytest.approx(0.5, abs=0.01)
    # Logit-normal puts more weight in the middle of the path than uniform.
    assert ((logit - 0.5).abs() < 0.25).float().mean() > ((uniform - 0.5).abs() < 0.25).float().mean() + 0.1
    with pytest.raises(ValueError, match="time_sampling"):
        FlowConfig(time_sampling="cosine")


def test_data_predictors_train_with_times_shifted_towards_the_noise_end():
    """Their clean-latent error is weighted 1 / (1 - t)^2 in velocity space; the shift keeps the
    noisy end, where the text decides the sound, from being drowned out (flow module docstring)."""
    assert flow_config_for("velocity") == DEFAULT_FLOW
    shifted = flow_config_for("data")
    assert shifted.logit_mean == pytest.approx(-0.8) and shifted.logit_std == pytest.approx(0.8)
    means = {}
    for prediction in ("velocity", "data"):
        model = build(prediction=prediction)
        items = [item(model, 0.25, seed=s, video=False) for s in range(400)]
        with torch.no_grad():
            _, stats = flow_matching_loss(model, data(400, 6), items, torch.Generator().manual_seed(3))
        means[prediction] = stats.mean_t
    assert means["velocity"] == pytest.approx(0.5, abs=0.03)
    assert means["data"] == pytest.approx(0.33, abs=0.03)  # E[sigmoid(-0.8 + 0.8 n)]


class _Oracle(torch.nn.Module):
    """A DiT that returns the clean latent exactly: a perfect data predictor."""

    def __init__(self, clean):
        super().__init__()
        self.clean = clean

    def forward(self, x, t, cond):
        return self.clean


@pytest.mark.parametrize("logit_mean", [-2.0, 0.0, 4.0])  # 4.0: most times past 1 - 0.05
def test_a_perfect_clean_estimate_scores_zero_loss_at_every_time(logit_mean):
    model = build(prediction="data")
    x = data(8, 10)
    model.dit = _Oracle(x)
    items = [item(model, seed=s, video=False) for s in range(8)]
    config = FlowConfig(logit_mean=logit_mean, logit_std=0.5)
    loss, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), config)
    assert loss.item() == pytest.approx(0.0, abs=1e-8), stats.mean_t


def test_padded_frames_are_masked_out_of_the_loss():
    model = build()
    with torch.no_grad():
        for parameter in (model.dit.out_proj.weight, model.dit.final_modulation.weight):
            parameter.add_(0.05 * torch.randn_like(parameter))  # a model that predicts something
    items = [item(model, seed=1), item(model, 0.5, seed=2)]
    x = data(2, 22)
    garbage = x.clone()
    garbage[1, :, 11:] = 100.0
    loss = lambda latents, lengths: flow_matching_loss(  # noqa: E731
        model, latents, items, torch.Generator().manual_seed(3), lengths=lengths)[0].item()
    assert loss(x, [22, 11]) == pytest.approx(loss(garbage, [22, 11]), rel=1e-6)
    assert loss(garbage, None) > 10 * loss(x, [22, 11])
    with pytest.raises(ValueError, match="lengths"):
        loss(x, [22, 0])


@pytest.fixture
def one_thread():
    """Tiny ops on a busy 2-core machine: one intra-op thread avoids OpenMP barrier stalls (10x)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_a_few_steps_overfit_a_single_example(one_thread):
    model = build()
    example = [item(model, seed=4)]
    x = data(1, 22, seed=9)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(20):
        # The same noise, time and dropout every step: a fixed regression target to overfit.
        loss, _ = flow_matching_loss(model, x, example, torch.Generator().manual_seed(0), DEFAULT_FLOW)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_bad_batches_are_refused():
    model = build()
    with pytest.raises(ValueError, match="inputs"):
        flow_matching_loss(model, data(2, 10), [item(model)], torch.Generator())
    with pytest.raises(ValueError, match="latents"):
        flow_matching_loss(model, torch.zeros(CHANNELS, 10), [item(model)], torch.Generator())


# ---- loudness consistency ------------------------------------------------------------------------
def channel_level(latent):
    """A stand-in loudness read-out: the mean latent value per channel half, as 'LUFS'."""
    batch, channels, frames = latent.shape
    return latent.reshape(batch, 2, channels // 2, frames).mean(2) * 10.0 - 30.0


def test_loudness_term_is_zero_for_a_perfect_clean_estimate_and_skips_quiet_frames():
    model = build(prediction="data")
    x = data(4, 10)
    model.dit = _Oracle(x)
    items = [item(model, seed=s, video=False) for s in range(4)]
    config = FlowConfig(logit_mean=-0.8, logit_std=0.8, loudness_weight=1.0)
    loss, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), config,
                                     latent_loudness=channel_level)
    assert stats.loudness_lu == pytest.approx(0.0, abs=1e-5) and loss.item() == pytest.approx(0.0, abs=1e-5)
    # Every real frame below the floor: nothing is scored, whatever the estimate.
    model.dit = _Oracle(x + 1.0)
    silent = FlowConfig(loudness_weight=1.0, loudness_floor_lufs=1e6)
    _, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), silent,
                                  latent_loudness=channel_level)
    assert stats.loudness_lu == 0.0


def test_loudness_weight_needs_a_read_out_and_must_be_non_negative():
    model = build()
    x, items = data(1, 8), [item(model)]
    with pytest.raises(ValueError, match="loudness read-out"):
        flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), FlowConfig(loudness_weight=0.1))
    with pytest.raises(ValueError, match="loudness_weight"):
        FlowConfig(loudness_weight=-1.0)


# ---- tone consistency ----------------------------------------------------------------------------
def channel_shape(latent):
    """A stand-in level-free shape: each channel's mean over the frames, less the channels' mean."""
    means = latent.float().mean(dim=-1)
    return means - means.mean(dim=-1, keepdim=True)


@pytest.mark.parametrize(("weight", "read_out", "stat"), [
    ("loudness_weight", {"latent_loudness": channel_level}, "loudness_lu"),
    ("tone_weight", {"band_shape": channel_shape}, "tone_db"),
])
def test_a_clean_estimate_term_is_added_with_its_weight_and_trains_the_generator(weight, read_out, stat):
    model = build(prediction="data")
    with torch.no_grad():
        model.dit.out_proj.weight.add_(0.05 * torch.randn_like(model.dit.out_proj.weight))
    x, items = data(3, 20), [item(model, seed=s) for s in range(3)]
    plain, plain_stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(7))
    weighted = dataclasses.replace(flow_config_for("data"), **{weight: 0.25})
    loss, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(7), weighted, **read_out)
    assert getattr(plain_stats, stat) is None and getattr(stats, stat) > 0.0
    assert loss.item() == pytest.approx(plain.item() + 0.25 * getattr(stats, stat), rel=1e-5)
    loss.backward()
    assert model.dit.out_proj.weight.grad.abs().sum() > 0


def test_tone_term_scores_the_shape_over_each_items_real_frames_only():
    model = build(prediction="data")
    x = data(2, 12)
    items = [item(model, seed=s, video=False) for s in range(2)]
    config = FlowConfig(tone_weight=1.0)
    # The estimate is exact on the real frames and wrong, differently per channel, on the padding.
    padded = x.clone()
    padded[0, :, 8:] += torch.linspace(-3.0, 3.0, CHANNELS)[:, None]
    model.dit = _Oracle(padded)
    _, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), config, lengths=[8, 12],
                                  band_shape=channel_shape)
    assert stats.tone_db == pytest.approx(0.0, abs=1e-5)
    _, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), config,
                                  band_shape=channel_shape)
    assert stats.tone_db > 0.1  # the same estimate scored over every frame: the padding counts
    # A level change is no change of tone.
    model.dit = _Oracle(x + 2.0)
    _, stats = flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), config,
                                  band_shape=channel_shape)
    assert stats.tone_db == pytest.approx(0.0, abs=1e-5)


def test_tone_weight_needs_a_band_shape_and_must_be_non_negative():
    model = build()
    x, items = data(1, 8), [item(model)]
    with pytest.raises(ValueError, match="band shape"):
        flow_matching_loss(model, x, items, torch.Generator().manual_seed(0), FlowConfig(tone_weight=0.1))
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="tone_weight"):
            FlowConfig(tone_weight=bad)


@pytest.mark.parametrize("prediction", ["velocity", "data"])
def test_clean_estimate_is_where_the_velocity_points(prediction):
    model = build(prediction=prediction)
    x1, z = data(3, 6, seed=1), data(3, 6, seed=2)
    t = torch.tensor([0.1, 0.5, 0.99])  # 0.99: past the data predictor's floored gap
    x_t = (1 - t[:, None, None]) * z + t[:, None, None] * x1
    velocity = model.velocity_target(x1, z, x_t, t)
    torch.testing.assert_close(model.clean_estimate(x_t, t, velocity), x1, rtol=1e-5, atol=1e-5)
    # velocity_toward inverts it, for a batch of times and for one time alike.
    torch.testing.assert_close(model.velocity_toward(x_t, t, x1), velocity, rtol=1e-5, atol=1e-5)
    one = model.velocity_toward(x_t[:1], 0.5, x1[:1])
    torch.testing.assert_close(model.clean_estimate(x_t[:1], 0.5, one), x1[:1], rtol=1e-5, atol=1e-5)
