"""Each task lowers its loss on a tiny synthetic set and exports a model folder that loads strictly."""

from __future__ import annotations

import torch

from foleystudio.engine.builder import build_engine, load_engine
from foleystudio.engine.config import preset
from foleystudio.training.features import FeatureCache, build_feature_cache
from foleystudio.training.tasks import CodecTask, DataInfo, DiTTask, LufsTask, dit_tokenizer, with_learned_codec
from foleystudio.training.trainer import TrainConfig, load_ema_into, train
from tests.training.test_features import index_object, synthetic_wave

QUICK = dict(batch_size=4, warmup=3, every_steps=1000, eval_every=1000, log_every=5, ema_decay=0.9, seed=0)


def _early_late(result) -> tuple[float, float]:
    losses = [result.losses[s] for s in sorted(result.losses)]
    return sum(losses[:5]) / 5, sum(losses[-5:]) / 5


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y.to(x.device)) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_codec_task_learns_and_exports(tmp_path):
    engine = build_engine(with_learned_codec(preset("tiny")))
    waves = [torch.from_numpy(synthetic_wave(i, 0.4)) for i in range(4)]
    task = CodecTask(engine, waves, segment_seconds=0.2, data=DataInfo("synthetic tones", 4, 1.6 / 3600))
    result = train(task, TrainConfig(steps=30, lr=3e-3, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.9 * early
    load_ema_into(task, tmp_path / "run")
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert _same_weights(loaded.codec, engine.codec)
    card = (folder / "MODEL_CARD.md").read_text()
    assert "synthetic tones" in card and "optimiser steps: 30" in card and "train_loss" in card


def test_dit_task_learns_on_cached_features_and_exports(tmp_path):
    config = preset("tiny")
    codec = build_engine(config).codec
    index = index_object(tmp_path, count=5, seconds=1.5)
    build_feature_cache(index, tmp_path / "cache", codec=codec, clip_seconds=1.0)
    cache = FeatureCache(tmp_path / "cache")
    tokenizer = dit_tokenizer(config, cache.captions("train"))
    engine = build_engine(config, tokenizer=tokenizer)
    task = DiTTask(engine, cache.items("train"), cache.items("val"), crop_seconds=1.0, tokenizer=cache.tokenizer())
    assert task.items[0].text_ids == tuple(engine.generator.tokenize("footsteps on gravel"))
    result = train(task, TrainConfig(steps=30, lr=2e-3, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.9 * early
    assert "val_flow_loss" in result.final_metrics
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert _same_weights(loaded.generator, engine.generator)
    assert loaded.tokenizer == tokenizer


def _synthetic_pairs(count: int, frames: int = 12, size: int = 32):
    """Brightness follows loudness: the predictor can learn the curve from the frames."""
    generator = torch.Generator().manual_seed(9)
    pairs = []
    for _ in range(count):
        level = torch.rand(frames, generator=generator)
        video = (level[:, None, None, None] * 255).expand(frames, size, size, 3).to(torch.uint8).contiguous()
        curve = torch.stack([-60 + 50 * level, -62 + 50 * level], dim=1)
        pairs.append((video, curve))
    return pairs


def test_lufs_task_learns_and_exports(tmp_path):
    engine = build_engine(preset("tiny"))
    task = LufsTask(engine, _synthetic_pairs(4))
    result = train(task, TrainConfig(steps=30, lr=3e-3, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.9 * early
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    assert _same_weights(load_engine(folder, "cpu").lufs_predictor, engine.lufs_predictor)


def test_bad_inputs_are_clear_errors():
    import pytest

    with pytest.raises(ValueError, match="learned codec"):
        CodecTask(build_engine(preset("tiny")), [torch.zeros(2, 4096)])
    with pytest.raises(ValueError, match="frames"):
        LufsTask(build_engine(preset("tiny")), [(torch.zeros(4, 8, 8, 3), torch.zeros(5, 2))])


def test_train_and_finetune_commands(tmp_path, capsys):
    import argparse

    from foleystudio.commands import train as command

    config = preset("tiny")
    index = index_object(tmp_path, count=4, seconds=1.0)
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(config).codec, clip_seconds=1.0)
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["train", "dit", "--data", str(tmp_path / "cache"), "--out", str(tmp_path / "run"),
                              "--preset", "tiny", "--steps", "3", "--batch-size", "2", "--device", "cpu"])
    assert args.run(args) == 0
    model = tmp_path / "run" / "model"
    assert load_engine(model, "cpu").config.name == "tiny"
    args = parser.parse_args(["finetune", str(model), "--data", str(tmp_path / "cache"), "--out",
                              str(tmp_path / "tuned"), "--steps", "2", "--batch-size", "2", "--device", "cpu"])
    assert args.run(args) == 0
    card = (tmp_path / "tuned" / "model" / "MODEL_CARD.md").read_text()
    assert "optimiser steps: 2" in card and "fine-tuned from" in card
    assert "model folder" in capsys.readouterr().out
