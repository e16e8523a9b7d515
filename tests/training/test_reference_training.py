"""Training the generator with reference sounds from cached latents, and building a model's bank."""

from __future__ import annotations

import argparse
import math

import pytest
import torch

from foleystudio.engine.builder import build_engine, load_engine
from foleystudio.engine.conditions import ConditionInputs
from foleystudio.engine.config import preset
from foleystudio.engine.reference_bank import BANK_FILE, STEP, load_bank
from foleystudio.errors import UserInputError
from foleystudio.training.features import FeatureCache, FeatureItem, build_feature_cache
from foleystudio.training.tasks import REFERENCE_GAIN_DB, REFERENCE_SECONDS, DiTTask, with_latent_references
from foleystudio.training.trainer import TrainConfig, train
from tests.training.test_features import index_object

QUICK = dict(batch_size=4, warmup=3, every_steps=1000, eval_every=1000, log_every=5, ema_decay=0.9, seed=0)


def _items(engine, captions, seconds=5.0):
    generator = torch.Generator().manual_seed(0)
    frames = math.ceil(seconds * engine.generator.latent_rate)
    return [FeatureItem(clip_id=f"clip{index}", caption=caption, category="", mel=None, duration_s=seconds,
                        latent=torch.randn(engine.codec.latent_channels, frames, generator=generator) * 0.3,
                        curve=torch.full((2, int(seconds * 6)), -30.0))
            for index, caption in enumerate(captions)]


def test_reference_training_needs_a_generator_that_reads_latents():
    engine = build_engine(preset("tiny"))
    with pytest.raises(UserInputError, match="with_latent_references"):
        DiTTask(engine, _items(engine, ["a door"]), reference_probability=0.5)
    with pytest.raises(ValueError, match="reference probability"):
        DiTTask(with_latent_references(engine), _items(engine, ["a door"]), reference_probability=1.5)


def test_reading_latents_keeps_every_weight_and_the_output_without_a_reference():
    engine = build_engine(preset("tiny"))
    reader = with_latent_references(engine)
    assert reader.config.generator.conditioners.ref_reads_latent
    assert with_latent_references(reader) is reader
    inputs = ConditionInputs(total_s=1.0, lufs=torch.full((2, 6), -20.0))
    x = torch.randn(1, engine.codec.latent_channels, 21, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = engine.generator.velocity(x, 0.3, engine.generator.encode_conditions(inputs, [set()], 21))
        after = reader.generator.velocity(x, 0.3, reader.generator.encode_conditions(inputs, [set()], 21))
    torch.testing.assert_close(before, after)


def test_a_reference_is_a_gain_shifted_stretch_of_another_clip_with_the_same_caption():
    engine = with_latent_references(build_engine(preset("tiny")))
    task = DiTTask(engine, _items(engine, ["a door", "a door", "rain"]), reference_probability=1.0)
    frames = math.ceil(REFERENCE_SECONDS * engine.generator.latent_rate)
    scale = engine.config.codec.scale_db
    generator = torch.Generator().manual_seed(3)
    for _ in range(6):
        reference = task.reference_for(0, generator)
        partner = task.items[1].latent
        assert reference.shape == (partner.shape[0], frames)
        starts = [start for start in range(partner.shape[1] - frames + 1)
                  if torch.allclose(reference - partner[:, start : start + frames],
                                    (reference - partner[:, start : start + frames]).mean().expand_as(reference),
                                    atol=1e-5)]
        assert len(starts) == 1  # a stretch of clip 1, not of clip 0 itself
        gain_db = float((reference - partner[:, starts[0] : starts[0] + frames]).mean()) * scale
        assert abs(gain_db) <= REFERENCE_GAIN_DB + 1e-4
    alone = task.reference_for(2, generator)  # no other clip says "rain": itself, backwards
    own = task.items[2].latent
    offsets = [(alone.flip(-1) - own[:, start : start + frames]) for start in range(own.shape[1] - frames + 1)]
    assert any(torch.allclose(offset, offset.mean().expand_as(offset), atol=1e-5) for offset in offsets)


def test_reference_training_runs_and_the_model_says_it_was_taught_references(tmp_path):
    engine = with_latent_references(build_engine(preset("tiny")))
    task = DiTTask(engine, _items(engine, ["a door", "a door", "rain", "rain"], seconds=2.0), crop_seconds=1.0,
                   reference_probability=1.0)
    batch = task.make_batch([0, 1, 2], torch.Generator().manual_seed(0))
    assert all(inputs.reference_latent is not None for inputs in batch.inputs)
    assert "audio" in engine.generator.config.trained_prompts
    result = train(task, TrainConfig(steps=4, lr=1e-3, **QUICK), tmp_path / "run", device="cpu")
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert "audio" in loaded.generator.config.trained_prompts
    assert loaded.config.generator.conditioners.ref_reads_latent


def _parser():
    from foleystudio.commands import dataset, train as train_command

    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command")
    dataset.add_parser(commands)
    train_command.add_parser(commands)
    return parser


def tiny_cache(tmp_path):
    """A feature cache of five 1.5 s synthetic clips for the tiny preset."""
    index = index_object(tmp_path, count=5, seconds=1.5)
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(preset("tiny")).codec, clip_seconds=1.0)
    return tmp_path / "cache"


def train_tiny_dit(parser, cache, out, *options, steps=2):
    """Run `train dit` on the tiny preset; the model folder it writes."""
    args = parser.parse_args(["train", "dit", "--data", str(cache), "--out", str(out), "--preset", "tiny",
                              "--steps", str(steps), "--batch-size", "2", "--device", "cpu", *options])
    assert args.run(args) == 0
    return out / "model"


def test_the_commands_train_with_references_and_store_a_bank_of_training_captions(tmp_path, capsys):
    tiny_cache(tmp_path)
    parser = _parser()
    model = train_tiny_dit(parser, tmp_path / "cache", tmp_path / "run", "--reference-probability", "0.5")
    assert "reference probability 0.5" in (model / "MODEL_CARD.md").read_text()
    bank_args = ["dataset", "reference-bank", str(tmp_path / "cache"), "--model", str(model), "--seconds", "0.5"]
    assert parser.parse_args(bank_args).run(parser.parse_args(bank_args)) == 0
    assert BANK_FILE in capsys.readouterr().out
    bank = load_bank(model)
    cache = FeatureCache(tmp_path / "cache")
    train_items = cache.items("train", waves=False)
    assert set(bank.captions) == {item.caption for item in train_items}  # training clips only
    first = next(item for item in train_items if item.caption == bank.captions[0])
    frames = math.ceil(0.5 * cache.manifest["latent_rate"])
    assert (bank.latent(0) - first.latent[:, :frames]).abs().max() <= STEP / 2 + 1e-3
    assert load_engine(model, "cpu").reference_bank is not None
    with pytest.raises(UserInputError, match="--replace"):
        parser.parse_args(bank_args).run(parser.parse_args(bank_args))
    plain = train_tiny_dit(parser, tmp_path / "cache", tmp_path / "plain", steps=1)
    refused = ["dataset", "reference-bank", str(tmp_path / "cache"), "--model", str(plain)]
    with pytest.raises(UserInputError, match="waveforms"):
        parser.parse_args(refused).run(parser.parse_args(refused))
    lufs = parser.parse_args(["train", "lufs", "--data", "x", "--out", str(tmp_path / "no"),
                              "--reference-probability", "0.5"])
    with pytest.raises(UserInputError, match="dit"):
        lufs.run(lufs)


def test_a_bank_keeps_up_to_n_more_recordings_of_each_caption_as_its_variants(tmp_path, capsys):
    from collections import Counter

    from foleystudio.engine.reference_bank import VARIANTS_FILE

    index = index_object(tmp_path, count=15, seconds=1.5)  # five captions, three clips each
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(preset("tiny")).codec, clip_seconds=1.0)
    parser = _parser()
    model = train_tiny_dit(parser, tmp_path / "cache", tmp_path / "run", "--reference-probability", "0.5", steps=1)
    bank_args = ["dataset", "reference-bank", str(tmp_path / "cache"), "--model", str(model), "--variants", "1"]
    assert parser.parse_args(bank_args).run(parser.parse_args(bank_args)) == 0
    assert "variants" in capsys.readouterr().out
    bank = load_bank(model)
    train_items = FeatureCache(tmp_path / "cache").items("train", waves=False)
    clips = Counter(item.caption for item in train_items)
    assert Counter(bank.variants.captions) == {caption: min(count - 1, 1) for caption, count in clips.items()
                                               if count > 1}
    for index, caption in enumerate(bank.captions):  # the entry, then the next clip of its caption
        same = [item for item in train_items if item.caption == caption][: 2]
        sounds = bank.sounds(index)
        assert len(sounds) == len(same)
        for sound, item in zip(sounds, same, strict=True):
            assert (sound - item.latent).abs().max() <= STEP / 2 + 1e-3
    with pytest.raises(UserInputError, match="--replace"):  # the variants file is never overwritten unasked
        (model / BANK_FILE).unlink()
        parser.parse_args(bank_args).run(parser.parse_args(bank_args))
    without = ["dataset", "reference-bank", str(tmp_path / "cache"), "--model", str(model), "--replace"]
    assert parser.parse_args(without).run(parser.parse_args(without)) == 0
    assert not (model / VARIANTS_FILE).exists() and load_bank(model).variants is None
    negative = parser.parse_args([*bank_args, "--variants", "-1", "--replace"])
    with pytest.raises(UserInputError, match="--variants"):
        negative.run(negative)
