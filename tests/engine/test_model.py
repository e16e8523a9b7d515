"""The composed generator: presets, branch encoding, velocity for every condition combination."""

import dataclasses
import itertools
import sys

import pytest
import torch

from foleystudio.engine.conditions import ConditionInputs, EncodedConditions
from foleystudio.engine.flow import flow_matching_loss
from foleystudio.engine.model import (
    BASE_GENERATOR,
    COMPACT_GENERATOR,
    SMALL_GENERATOR,
    TINY_GENERATOR,
    FoleyGenerator,
    GeneratorConfig,
    parameter_count,
)

CHANNELS = TINY_GENERATOR.latent_channels
ALL = frozenset({"video", "text", "audio"})


def build(seed=0, config=TINY_GENERATOR) -> FoleyGenerator:
    """Reproducible weights; the zero-initialised layers are filled too, so outputs differ by input."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = FoleyGenerator(config)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(0.05 * torch.randn_like(parameter))
    return model.eval()


def request_inputs(model, seconds=2.0, negative="", **changes):
    generator = torch.Generator().manual_seed(11)
    values = dict(
        total_s=seconds,
        text_ids=model.tokenize("on screen: footsteps on gravel"),
        negative_text_ids=model.tokenize(negative),
        reference_audio=0.1 * torch.randn(2, 11025, generator=generator),
        video_features=torch.randn(int(seconds * 8), 16, generator=generator),
        video_motion=0.05 * torch.rand(int(seconds * 8), 5, generator=generator),
        lufs=torch.full((2, int(seconds * 6)), -23.0),
    )
    values.update(changes)
    return ConditionInputs(**values)


def velocity(model, cond, frames, seed=4):
    x = torch.randn(cond.batch_size, CHANNELS, frames, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return model.velocity(x, torch.full((cond.batch_size,), 0.4), cond)


def test_presets_have_the_documented_sizes():
    with torch.device("meta"):  # shapes only: counting parameters allocates nothing
        tiny, compact, small, base = (
            FoleyGenerator(config) for config in (TINY_GENERATOR, COMPACT_GENERATOR, SMALL_GENERATOR, BASE_GENERATOR)
        )
    assert parameter_count(tiny) < 1_000_000
    assert 1e6 < parameter_count(compact) < 10e6  # trains on a 2-core CPU in about an hour
    assert 10e6 < parameter_count(small.dit) < 50e6
    assert (BASE_GENERATOR.dit.depth, BASE_GENERATOR.dit.width, BASE_GENERATOR.dit.heads) == (20, 1536, 24)
    assert 0.7e9 < parameter_count(base) < 1.0e9  # Tri-Ergon-S: 0.88 B


def test_config_round_trips_and_fits_a_codec():
    config = SMALL_GENERATOR.for_codec(latent_channels=32, latent_rate=44100 / 1024)
    assert config.latent_channels == 32 and config.latent_rate == pytest.approx(43.07, abs=0.01)
    assert GeneratorConfig.from_dict(config.to_dict()) == config
    assert config.max_latent_frames == 2584
    with pytest.raises(ValueError, match="latent_rate"):
        dataclasses.replace(config, latent_rate=60.0)


def test_old_model_folders_read_as_velocity_predictors_and_predictions_are_checked():
    stored = TINY_GENERATOR.to_dict()
    del stored["prediction"]  # a config.json written before data prediction existed
    assert GeneratorConfig.from_dict(stored).prediction == "velocity"
    data = dataclasses.replace(TINY_GENERATOR, prediction="data")
    assert GeneratorConfig.from_dict(data.to_dict()) == data
    # Backbones narrower than their latent tokens predict data, the others velocity.
    assert [c.prediction for c in (TINY_GENERATOR, COMPACT_GENERATOR, SMALL_GENERATOR, BASE_GENERATOR)] == [
        "velocity", "data", "velocity", "velocity"]
    from foleystudio.engine.config import PRESETS

    for config in PRESETS.values():  # the rule, on every preset as assembled with its codec
        narrow = config.generator.dit.width < config.generator.latent_channels
        assert config.generator.prediction == ("data" if narrow else "velocity"), config.name
    with pytest.raises(ValueError, match="prediction"):
        dataclasses.replace(TINY_GENERATOR, prediction="noise")


def test_trained_prompts_round_trip_and_old_folders_read_as_not_recorded():
    stored = TINY_GENERATOR.to_dict()
    assert stored["trained_prompts"] is None
    del stored["trained_prompts"]  # a config.json written before the field existed
    assert GeneratorConfig.from_dict(stored).trained_prompts is None
    taught = TINY_GENERATOR.with_trained_prompts({"text", "video"})
    assert taught.trained_prompts == ("video", "text")  # canonical order
    assert GeneratorConfig.from_dict(taught.to_dict()) == taught
    assert TINY_GENERATOR.with_trained_prompts(()).trained_prompts == ()
    for wrong in (("speech",), "text"):
        with pytest.raises(ValueError, match="trained_prompts"):
            dataclasses.replace(TINY_GENERATOR, trained_prompts=wrong)


def test_a_data_predicting_generator_turns_its_clean_estimate_into_the_flow_velocity(monkeypatch):
    model = build(config=dataclasses.replace(TINY_GENERATOR, prediction="data"))
    frames = model.latent_frames_for(1.0)
    cond = model.encode_conditions(request_inputs(model), [ALL, ALL, ALL], frames)
    x_t = torch.randn(3, CHANNELS, frames, generator=torch.Generator().manual_seed(2))
    clean = torch.randn(3, CHANNELS, frames, generator=torch.Generator().manual_seed(3))
    monkeypatch.setattr(model.dit, "forward", lambda x, t, c: clean[: x.shape[0]])
    t = torch.tensor([0.0, 0.5, 0.99])
    expected = (clean - x_t) / torch.tensor([1.0, 0.5, 0.05])[:, None, None]  # the last gap is floored
    torch.testing.assert_close(model.velocity(x_t, t, cond), expected)
    # One Euler step to t = 1 lands on the estimate, whatever the noise: nothing of it is carried over.
    torch.testing.assert_close(x_t[:1] + 1.0 * model.velocity(x_t[:1], 0.0, cond.select([0])), clean[:1])


@pytest.mark.parametrize("seconds", [0.04, 1.0, 2.5, 7.3])
def test_velocity_has_the_latent_shape_for_any_length(seconds):
    model = build()
    frames = model.latent_frames_for(seconds)
    cond = model.encode_conditions(request_inputs(model, max(seconds, 0.25)), [ALL], frames)
    out = velocity(model, cond, frames)
    assert out.shape == (1, CHANNELS, frames) and torch.isfinite(out).all()


def test_all_eight_condition_combinations_run_and_differ():
    model = build()
    inputs = request_inputs(model)
    branches = [frozenset(c) for n in range(4) for c in itertools.combinations(("video", "text", "audio"), n)]
    cond = model.encode_conditions(inputs, branches, 44)
    out = velocity(model, cond, 44)
    assert cond.batch_size == 8 and torch.isfinite(out).all()
    rows = [out[i] for i in range(8)]
    assert all(not torch.allclose(a, b, atol=1e-4) for a, b in itertools.combinations(rows, 2))


def test_branch_rows_equal_single_branch_encodings():
    model = build()
    inputs = request_inputs(model)
    branches = [frozenset(), frozenset({"video"}), frozenset({"video", "text"}), ALL]
    together = velocity(model, model.encode_conditions(inputs, branches, 44), 44, seed=4)
    x = torch.randn(4, CHANNELS, 44, generator=torch.Generator().manual_seed(4))
    for index, branch in enumerate(branches):
        alone = model.encode_conditions(inputs, [branch], 44)
        with torch.no_grad():
            single = model.velocity(x[index : index + 1], torch.tensor([0.4]), alone)
        assert torch.allclose(together[index], single[0], atol=1e-5)


def test_negative_prompt_replaces_the_null_text_in_branches_without_text():
    model = build()
    plain = request_inputs(model)
    negative = request_inputs(model, negative="music with vocals")
    branches = [frozenset(), frozenset({"video"}), frozenset({"video", "text"})]
    cond_plain = model.encode_conditions(plain, branches, 44)
    cond_negative = model.encode_conditions(negative, branches, 44)
    words = len(model.tokenize("music with vocals"))
    assert (cond_negative.token_mask.sum(1) - cond_plain.token_mask.sum(1)).tolist() == [words, words, 0]
    v_plain, v_negative = velocity(model, cond_plain, 44), velocity(model, cond_negative, 44)
    assert not torch.allclose(v_plain[0], v_negative[0], atol=1e-4)
    assert torch.allclose(v_plain[2], v_negative[2], atol=1e-6)


def test_branch_objects_say_where_the_negative_prompt_goes():
    @dataclasses.dataclass(frozen=True)
    class Branch:  # the shape of guidance.Branch
        modalities: frozenset
        negative_text: bool = False

    model = build()
    no_text = request_inputs(model, negative="music", text_ids=())
    cond = model.encode_conditions(no_text, [Branch(frozenset(), True), Branch(frozenset(), False)], 44)
    assert (cond.token_mask[0].sum() - cond.token_mask[1].sum()).item() == len(model.tokenize("music"))
    with pytest.raises(ValueError, match="unknown modality"):
        model.encode_conditions(no_text, [frozenset({"smell"})], 44)


def test_variations_repeat_rows_in_branch_major_order():
    model = build()
    cond = model.encode_conditions(request_inputs(model), [frozenset(), ALL], 44).repeat(3)
    x = torch.randn(1, CHANNELS, 44, generator=torch.Generator().manual_seed(2)).repeat(6, 1, 1)
    with torch.no_grad():
        out = model.velocity(x, 0.5, cond)
    assert torch.allclose(out[0], out[2], atol=1e-6) and torch.allclose(out[3], out[5], atol=1e-6)
    assert not torch.allclose(out[0], out[3], atol=1e-4)


def test_same_seed_same_model_same_velocity():
    inputs_model = build(seed=1)
    inputs = request_inputs(inputs_model)
    outputs = []
    for seed in (1, 1, 2):
        model = build(seed=seed)
        outputs.append(velocity(model, model.encode_conditions(inputs, [ALL], 30), 30))
    assert torch.equal(outputs[0], outputs[1]) and not torch.allclose(outputs[0], outputs[2])


def test_conditions_encoded_once_are_reused_across_steps():
    model = build()
    cond = model.encode_conditions(request_inputs(model), [ALL], 20)
    assert isinstance(cond, EncodedConditions)
    first, second = velocity(model, cond, 20, seed=1), velocity(model, cond, 20, seed=1)
    assert torch.equal(first, second)


@pytest.mark.slow
def test_base_preset_builds_and_trains_one_step():
    model = FoleyGenerator(BASE_GENERATOR)
    inputs = ConditionInputs(
        total_s=0.5, text_ids=model.tokenize("footsteps"), video_features=torch.randn(4, 512),
        reference_audio=torch.randn(2, 4410) * 0.1, lufs=torch.full((2, 3), -20.0),
    )
    x = torch.randn(1, BASE_GENERATOR.latent_channels, 11, generator=torch.Generator().manual_seed(0))
    loss, _ = flow_matching_loss(model, x, [inputs], torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and model.dit.out_proj.weight.grad.abs().sum() > 0
    if sys.platform.startswith("linux"):
        import resource  # noqa: PLC0415 - Unix only

        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        assert peak_gib < 12, f"one base step peaked at {peak_gib:.1f} GiB"
