"""The text category head: config, zero-start, its loss, training and the CLI option."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from foleystudio.engine.builder import build_engine, load_engine
from foleystudio.engine.conditioners import ConditionerConfig
from foleystudio.engine.conditioners.text_category import TextCategoryHead, category_loss
from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.config import preset
from foleystudio.engine.config_io import config_from_dict
from foleystudio.errors import UserInputError
from foleystudio.training.features import FeatureCache, build_feature_cache
from foleystudio.training.tasks import DiTTask, dit_tokenizer, text_categories_of, with_text_category_head
from foleystudio.training.trainer import TrainConfig, train
from tests.training.test_features import make_fake_index
from tests.training.test_tasks import QUICK

CATEGORIES = ("doors", "footsteps")


def test_the_config_names_its_categories_and_older_folders_read_none():
    config = ConditionerConfig(text_categories=["doors", "footsteps"])
    assert config.text_categories == CATEGORIES
    assert ConditionerConfig.from_dict(config.to_dict()) == config
    data = ConditionerConfig().to_dict()
    del data["text_categories"]  # a folder written before the head existed
    assert config_from_dict(ConditionerConfig, data).text_categories == ()
    for bad in (("doors",), ("doors", "doors"), ("doors", ""), "doors"):
        with pytest.raises(ValueError, match="text_categories"):
            ConditionerConfig(text_categories=bad)


def test_category_loss_scores_labelled_rows_only():
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [5.0, -5.0]])
    loss = category_loss(logits, CATEGORIES, ["doors", "", "unknown"])
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(logits[:1], torch.tensor([0]))))
    assert category_loss(logits, CATEGORIES, ["", "", "x"]) is None
    with pytest.raises(ValueError, match="two categories"):
        TextCategoryHead(8, ("doors",), 4)


def _inputs(engine, caption: str) -> ConditionInputs:
    return ConditionInputs(total_s=1.0, text_ids=engine.generator.tokenize(caption),
                           lufs=torch.full((2, 6), -30.0))


def test_adding_the_head_keeps_every_weight_and_starts_without_effect():
    engine = build_engine(preset("tiny"))
    grown = with_text_category_head(engine, CATEGORIES)
    assert grown.generator.conditioners.text_category.categories == CATEGORIES
    assert grown.config.generator.conditioners.text_categories == CATEGORIES
    assert grown.model_id == engine.model_id
    x = torch.randn(1, engine.generator.config.latent_channels, 20, generator=torch.Generator().manual_seed(0))
    inputs = _inputs(engine, "a door slams")
    with torch.no_grad():
        before = engine.generator.velocity(x, 0.3, engine.generator.encode_conditions(inputs, [{"text"}], 20))
        after = grown.generator.velocity(x, 0.3, grown.generator.encode_conditions(inputs, [{"text"}], 20))
    assert torch.equal(before, after)
    assert with_text_category_head(grown, CATEGORIES) is grown
    with pytest.raises(UserInputError, match="knows"):
        with_text_category_head(grown, ("fire", "water"))
    with pytest.raises(ValueError, match="no text category head"):
        engine.generator.conditioners.text_category_logits([inputs.text_ids])


def test_a_trained_head_steers_the_dit_and_only_with_text():
    engine = with_text_category_head(build_engine(preset("tiny")), CATEGORIES)
    head = engine.generator.conditioners.text_category
    with torch.no_grad():
        head.embed.weight.normal_()
    door, steps = _inputs(engine, "a door slams"), _inputs(engine, "footsteps on gravel")
    with torch.no_grad():
        cond = engine.generator.encode_conditions(door, [{"text"}, set()], 20)
        other = engine.generator.encode_conditions(steps, [{"text"}, set()], 20)
    assert not torch.allclose(cond.globals[0], other.globals[0])
    # Without the text (the unconditional guidance branch) the head adds nothing.
    assert torch.equal(cond.globals[1], other.globals[1])


def test_the_heads_latent_offset_shifts_every_frame_of_text_rows_only():
    engine = with_text_category_head(build_engine(preset("tiny")), CATEGORIES)
    head = engine.generator.conditioners.text_category
    channels = engine.generator.config.latent_channels
    x = torch.randn(2, channels, 12, generator=torch.Generator().manual_seed(3))
    inputs = _inputs(engine, "footsteps on gravel")
    with torch.no_grad():
        before = engine.generator.velocity(x, 0.4, engine.generator.encode_conditions(inputs, [{"text"}, set()], 12))
        head.latent_offset.weight.fill_(0.5)  # every category: +0.5 on every channel
        cond = engine.generator.encode_conditions(inputs, [{"text"}, set()], 12)
        after = engine.generator.velocity(x, 0.4, cond)
    assert cond.output_bias.shape == (2, channels) and not cond.output_bias[1].any()
    # A data predictor's velocity is (estimate - x) / (1 - t): an offset of 0.5 moves it by 0.5 / 0.6.
    shift = 0.5 / 0.6 if engine.generator.config.prediction == "data" else 0.5
    torch.testing.assert_close(after[0] - before[0], torch.full_like(before[0], shift))
    torch.testing.assert_close(after[1], before[1])
    # Batched guidance rows keep the offset; rows from an encoding without one get zeros.
    plain = build_engine(preset("tiny")).generator.encode_conditions(inputs, [{"text"}], 12)
    joined = type(cond).concat([cond, plain])
    assert torch.equal(joined.output_bias[:2], cond.output_bias) and not joined.output_bias[2].any()
    assert torch.equal(cond.repeat(2).select([0, 1]).output_bias, cond.output_bias[[0, 0]])


def _cache(tmp_path, categories=CATEGORIES):
    config = preset("tiny")
    index = make_fake_index(tmp_path, count=6, seconds=1.0, categories=categories)
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(config).codec, clip_seconds=1.0)
    return FeatureCache(tmp_path / "cache")


def test_the_dit_task_adds_the_weighted_category_loss_and_learns_the_labels(tmp_path):
    cache = _cache(tmp_path)
    config = preset("tiny")
    engine = build_engine(config, tokenizer=dit_tokenizer(config, cache.captions("train")))
    with pytest.raises(UserInputError, match="category head"):
        DiTTask(engine, cache.items("train"), category_weight=0.5)
    engine = with_text_category_head(engine, text_categories_of([item.category for item in cache.items("train")]))
    with pytest.raises(UserInputError, match=">= 0"):
        DiTTask(engine, cache.items("train"), category_weight=-1.0)
    task = DiTTask(engine, cache.items("train"), cache.items("train"), crop_seconds=1.0, category_weight=0.5)
    plain = DiTTask(engine, cache.items("train"), crop_seconds=1.0)
    batch = task.make_batch([0, 1, 2, 3], torch.Generator().manual_seed(1))
    assert batch.categories == ["doors", "footsteps", "doors", "footsteps"]
    with torch.no_grad():
        total, logged = task.loss(batch, torch.Generator().manual_seed(2))
        flow, _ = plain.loss(batch, torch.Generator().manual_seed(2))
    assert float(total) == pytest.approx(float(flow) + 0.5 * logged["category_ce"], rel=1e-5)
    result = train(task, TrainConfig(steps=40, lr=3e-3, **QUICK), tmp_path / "run", device="cpu")
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    ce = [row["category_ce"] for row in logged if row["kind"] == "train"]
    assert len(ce) >= 4 and ce[-1] < 0.5 * ce[0]
    assert result.final_metrics["val_text_category_accuracy"] == 1.0


def test_finetune_with_a_category_weight_adds_the_head_and_the_folder_loads_strictly(tmp_path):
    from foleystudio.commands import train as command

    cache = _cache(tmp_path)
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    base = ["--data", str(tmp_path / "cache"), "--steps", "2", "--batch-size", "2", "--device", "cpu"]
    args = parser.parse_args(["train", "dit", *base, "--out", str(tmp_path / "run"), "--preset", "tiny"])
    assert args.run(args) == 0
    args = parser.parse_args(["finetune", str(tmp_path / "run" / "model"), *base, "--out", str(tmp_path / "tuned"),
                              "--category-weight", "0.1"])
    assert args.run(args) == 0
    folder = tmp_path / "tuned" / "model"
    loaded = load_engine(folder, "cpu")
    assert loaded.generator.config.conditioners.text_categories == CATEGORIES
    assert json.loads((folder / "config.json").read_text())["config"]["generator"]["conditioners"][
        "text_categories"] == list(CATEGORIES)
    assert "category weight 0.1" in (folder / "MODEL_CARD.md").read_text()
    logged = [json.loads(line) for line in (tmp_path / "tuned" / "metrics.jsonl").read_text().splitlines()]
    assert all(row["category_ce"] > 0 for row in logged if row["kind"] == "train")
    assert cache.items("train")  # the cache is untouched
    args = parser.parse_args(["finetune", str(folder), "--component", "lufs_predictor", "--data", "x", "--out",
                              str(tmp_path / "no"), "--category-weight", "0.1"])
    with pytest.raises(UserInputError, match="dit"):
        args.run(args)


def test_a_category_weight_needs_labelled_data(tmp_path):
    from foleystudio.commands import train as command

    _cache(tmp_path, categories=("test",))
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "dit", "--data", str(tmp_path / "cache"), "--out", str(tmp_path / "run"),
                              "--preset", "tiny", "--steps", "1", "--batch-size", "2", "--device", "cpu",
                              "--category-weight", "0.1"])
    with pytest.raises(UserInputError, match="at least two categories"):
        args.run(args)


def test_fitting_the_head_on_captions_names_unseen_ones_and_leaves_takes_alone():
    from foleystudio.training.text_category_fit import fit_text_category_head

    captions = ["a wooden door slams", "door creaks open", "heavy door closing", "footsteps on gravel",
                "running footsteps", "footsteps on snow"]
    labels = ["doors", "doors", "doors", "footsteps", "footsteps", "footsteps"]
    config = preset("tiny")
    engine = build_engine(config, tokenizer=dit_tokenizer(config, captions))
    with pytest.raises(ValueError, match="no text category head"):
        fit_text_category_head(engine, captions, labels)
    engine = with_text_category_head(engine, CATEGORIES)
    with pytest.raises(ValueError, match="labelled"):
        fit_text_category_head(engine, captions, ["fire"] * 6)
    with pytest.raises(ValueError, match="6 captions but 1 labels"):
        fit_text_category_head(engine, captions, ["doors"])
    fit = fit_text_category_head(engine, captions, labels, ["the door slams", "footsteps on wood", "x"],
                                 ["doors", "footsteps", ""], steps=150, lr=3e-3)
    assert fit.captions == 6 and fit.train_accuracy == 1.0 and fit.val_accuracy == 1.0
    assert "6 captions" in fit.summary() and "100.0% of held-out" in fit.summary()
    head = engine.generator.conditioners.text_category
    assert not head.embed.weight.any() and not head.training  # the DiT still sees nothing of it
    assert fit_text_category_head(engine, captions, labels, steps=1).val_accuracy is None


def test_a_take_records_what_the_model_heard_its_prompt_as():
    from foleystudio.engine.pipeline import generate, run_to_end
    from foleystudio.engine.request import GenerationRequest

    engine = with_text_category_head(build_engine(preset("tiny")), CATEGORIES)
    with torch.no_grad():
        engine.generator.conditioners.text_category.classify[1].bias.copy_(torch.tensor([0.0, 3.0]))
    request = GenerationRequest(duration_s=0.5, on_screen_prompt="boots on gravel", steps=2)
    take = run_to_end(generate(engine, request))[0]
    name, probability = take.heard_as
    assert name == "footsteps" and 0.5 < probability < 1.0
    assert take.parameters()["heard_as"] == f"footsteps ({probability:.0%})"
    assert engine.generator.text_category(()) is None
    plain = run_to_end(generate(build_engine(preset("tiny")), request))[0]
    assert plain.heard_as is None and plain.parameters()["heard_as"] is None
