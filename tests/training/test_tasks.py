"""Each task lowers its loss on a tiny synthetic set and exports a model folder that loads strictly."""

from __future__ import annotations

import json
import math

import pytest
import torch

from foleystudio.engine.builder import build_engine, load_engine
from foleystudio.engine.config import preset
from foleystudio.errors import UserInputError
from foleystudio.training.features import FeatureCache, build_feature_cache
from foleystudio.training.tasks import (
    CodecTask,
    DataInfo,
    DiTTask,
    LufsTask,
    PhaseTask,
    RefinerTask,
    dit_tokenizer,
    with_learned_codec,
    with_phase_decoder,
    with_refiner,
)
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


def _harmonics(fundamental: float, seconds: float = 0.6, seed: int = 0) -> torch.Tensor:
    t = torch.arange(int(seconds * 44100)) / 44100
    tone = sum(0.2 / k * torch.sin(2 * math.pi * fundamental * k * t) for k in range(1, 20))
    wave = tone + 0.003 * torch.randn(t.shape, generator=torch.Generator().manual_seed(seed))
    return torch.stack([wave, 0.7 * wave])


def test_refiner_task_learns_the_shape_within_bands_and_exports_with_the_rest_unchanged(tmp_path):
    base = build_engine(preset("tiny"))
    engine = with_refiner(base, width=32)
    assert engine.config.codec.refiner_width == 32 and engine.config.codec.griffin_lim_projection == "bins"
    assert _same_weights(engine.generator, base.generator) and with_refiner(engine) is engine
    # Harmonic tones: their energy sits on a few bins of each band, which the even spread misses.
    waves = [_harmonics(150.0 + 40.0 * i, seed=i) for i in range(4)]
    task = RefinerTask(engine, waves, segment_seconds=0.5, data=DataInfo("synthetic tones", 4, 2.4 / 3600))
    before = task.evaluate(torch.Generator())
    # 60 steps at 2e-2: 40 at 3e-2 ended at MR-STFT 1.44 on one CPU and 1.57 on another (same start),
    # too close to the bound; this setting measured 1.63 -> 1.40 on the second.
    result = train(task, TrainConfig(steps=60, lr=2e-2, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.8 * early  # measured 8.5 -> 5.8 dB
    load_ema_into(task, tmp_path / "run")
    after = task.evaluate(torch.Generator())
    assert after["train4_shape_l1_db"] < before["train4_shape_l1_db"] - 1.5  # measured 8.6 -> 5.9 dB
    assert after["train4_mr_stft"] < before["train4_mr_stft"] - 0.1
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert loaded.config.codec.refiner_width == 32
    assert _same_weights(loaded.codec, engine.codec) and _same_weights(loaded.generator, base.generator)
    with pytest.raises(ValueError, match="with_refiner"):
        RefinerTask(base, waves)
    with pytest.raises(UserInputError, match="learned codec"):
        with_refiner(build_engine(with_learned_codec(preset("tiny"))))


def test_phase_task_learns_a_phase_and_leaves_the_magnitude_and_the_rest_unchanged(tmp_path):
    base = with_refiner(build_engine(preset("tiny")), width=16)
    _randomise(base.codec.refiner)
    refiner_before = {k: v.clone() for k, v in base.codec.refiner.state_dict().items()}
    engine = with_phase_decoder(base, width=32)
    codec = engine.config.codec
    assert codec.phase_decoder_width == 32 and codec.griffin_lim_iterations == 0 and codec.griffin_lim_keep_loudness
    assert with_phase_decoder(engine) is engine
    waves = [_harmonics(150.0 + 40.0 * i, seed=i) for i in range(4)]
    task = PhaseTask(engine, waves, segment_seconds=0.5, data=DataInfo("synthetic tones", 4, 2.4 / 3600))
    before = task.evaluate(torch.Generator())
    result = train(task, TrainConfig(steps=25, lr=1e-2, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.95 * early  # measured 2.99 -> 2.63
    load_ema_into(task, tmp_path / "run")
    after = task.evaluate(torch.Generator())
    assert after["train4_mr_stft"] < before["train4_mr_stft"] - 0.1  # measured 1.66 -> 1.43
    assert after["train4_log_mel_l1_db"] < before["train4_log_mel_l1_db"]  # measured 7.1 -> 6.0 dB
    assert all(torch.equal(v, refiner_before[k]) for k, v in engine.codec.refiner.state_dict().items())
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert loaded.config.codec.phase_decoder_width == 32
    assert _same_weights(loaded.codec, engine.codec) and _same_weights(loaded.generator, base.generator)
    with pytest.raises(ValueError, match="with_phase_decoder"):
        PhaseTask(base, waves)
    with pytest.raises(ValueError, match="log_mel_weight"):
        PhaseTask(engine, waves, log_mel_weight=-1.0)
    with pytest.raises(UserInputError, match="learned codec"):
        with_phase_decoder(build_engine(with_learned_codec(preset("tiny"))))


def test_the_refiner_loudness_term_is_weighted_into_the_loss_and_checked():
    engine = with_refiner(build_engine(preset("tiny")), width=16)
    _randomise(engine.codec.refiner)
    # Low harmonic tones: the K filter's gain changes across the lowest bands, so where the shape puts
    # the power within them moves the loudness.
    waves = [_harmonics(45.0 + 20.0 * i, seed=i) for i in range(2)]
    plain = RefinerTask(engine, waves, segment_seconds=0.5)
    weighted = RefinerTask(engine, waves, segment_seconds=0.5, loudness_weight=3.0)
    batch = plain.make_batch([0, 1], torch.Generator().manual_seed(0))
    total, logged = plain.loss(batch, None)
    assert total.item() == pytest.approx(logged["shape_l1_db"], rel=1e-6)
    assert logged["loudness_l1_lu"] > 0.05
    weighted_total, weighted_logged = weighted.loss(batch, None)
    assert weighted_total.item() == pytest.approx(logged["shape_l1_db"] + 3.0 * logged["loudness_l1_lu"], rel=1e-5)
    assert weighted_logged == pytest.approx(logged)
    weighted_total.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in engine.codec.refiner.parameters())
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="loudness_weight"):
            RefinerTask(engine, waves, loudness_weight=bad)


def _randomise(module: torch.nn.Module) -> None:
    """Weights drawn away from the zero-initialised head, so the shape is not the even spread."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))


def test_dit_task_learns_on_cached_features_and_exports(tmp_path):
    config = preset("tiny")
    codec = build_engine(config).codec
    index = index_object(tmp_path, count=5, seconds=1.5)
    build_feature_cache(index, tmp_path / "cache", codec=codec, clip_seconds=1.0)
    cache = FeatureCache(tmp_path / "cache")
    tokenizer = dit_tokenizer(config, cache.captions("train"))
    engine = build_engine(config, tokenizer=tokenizer)
    task = DiTTask(engine, cache.items("train"), cache.items("val"), crop_seconds=1.0)
    # The captions the pipeline gives: shown crops are on screen, crops without a picture off screen.
    assert task.items[0].on_screen_ids == tuple(engine.generator.tokenize("on screen: footsteps on gravel"))
    assert task.items[0].off_screen_ids == tuple(engine.generator.tokenize("off screen: footsteps on gravel"))
    assert all(engine.tokenizer.is_known(word) for word in ("on", "screen", "off", "footsteps"))
    # Captions but no picture (video probability 0) and no reference sounds: only text is taught.
    assert engine.generator.config.trained_prompts == ("text",)
    assert engine.config.generator.trained_prompts == ("text",)
    result = train(task, TrainConfig(steps=30, lr=2e-3, **QUICK), tmp_path / "run", device="cpu")
    early, late = _early_late(result)
    assert late < 0.9 * early
    assert "val_flow_loss" in result.final_metrics
    folder = task.export(tmp_path / "model", steps=result.step, metrics=result.final_metrics)
    loaded = load_engine(folder, "cpu")
    assert _same_weights(loaded.generator, engine.generator)
    assert loaded.tokenizer == tokenizer
    assert loaded.generator.config.trained_prompts == ("text",)


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
    # No held-out pairs: the periodic evaluation ran on training pairs, and its name says so.
    assert "train4_error_lu" in result.final_metrics and "val_error_lu" not in result.final_metrics
    held_out = LufsTask(engine, _synthetic_pairs(4), _synthetic_pairs(2))
    with torch.no_grad():
        assert set(held_out.evaluate(None)) == {"val_error_lu"}


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
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(config).codec, clip_seconds=1.0, wave_seconds=1.0)
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
    args = parser.parse_args(["finetune", str(model), "--data", str(tmp_path / "cache"), "--out",
                              str(tmp_path / "louder"), "--steps", "2", "--batch-size", "2", "--device", "cpu",
                              "--loudness-weight", "0.05"])
    assert args.run(args) == 0
    logged = [json.loads(line) for line in (tmp_path / "louder" / "metrics.jsonl").read_text().splitlines()]
    assert all(row["loudness_lu"] >= 0.0 for row in logged if row["kind"] == "train")
    assert "loudness weight 0.05" in (tmp_path / "louder" / "model" / "MODEL_CARD.md").read_text()
    args = parser.parse_args(["finetune", str(model), "--component", "lufs_predictor", "--data", "x", "--out",
                              str(tmp_path / "no"), "--loudness-weight", "0.05"])
    with pytest.raises(UserInputError, match="dit"):
        args.run(args)
    with pytest.raises(SystemExit):
        parser.parse_args(["finetune", str(model), "--data", "x", "--out", "y", "--loudness-weight", "-1"])
    args = parser.parse_args(["train", "refiner", "--from", str(model), "--data", str(tmp_path / "cache"), "--out",
                              str(tmp_path / "refined"), "--steps", "2", "--batch-size", "2", "--device", "cpu",
                              "--loudness-weight", "0.5"])
    assert args.run(args) == 0
    assert "loudness weight 0.5" in (tmp_path / "refined" / "model" / "MODEL_CARD.md").read_text()
    refined = load_engine(tmp_path / "refined" / "model", "cpu")
    assert refined.codec.refiner is not None
    assert _same_weights(refined.generator, load_engine(model, "cpu").generator)
    args = parser.parse_args(["finetune", str(tmp_path / "refined" / "model"), "--component", "codec", "--data",
                              str(tmp_path / "cache"), "--out", str(tmp_path / "refined2"), "--steps", "2",
                              "--batch-size", "2", "--device", "cpu", "--shape-loss", "itakura_saito"])
    assert args.run(args) == 0
    card = (tmp_path / "refined2" / "model" / "MODEL_CARD.md").read_text()
    assert "refiner trained" in card and "shape loss itakura_saito" in card
    logged = [json.loads(line) for line in (tmp_path / "refined2" / "metrics.jsonl").read_text().splitlines()]
    trained = [row for row in logged if row["kind"] == "train"]  # the loss is the divergence, not dB L1
    assert trained and all(row["loss"] == pytest.approx(row["shape_is"], rel=1e-5) for row in trained)
    args = parser.parse_args(["train", "phase", "--from", str(tmp_path / "refined" / "model"), "--data", "x",
                              "--out", str(tmp_path / "no"), "--shape-loss", "itakura_saito"])
    with pytest.raises(UserInputError, match="refiner only"):
        args.run(args)
    args = parser.parse_args(["train", "phase", "--from", str(tmp_path / "refined" / "model"), "--data",
                              str(tmp_path / "cache"), "--out", str(tmp_path / "phased"), "--steps", "2",
                              "--batch-size", "2", "--device", "cpu"])
    assert args.run(args) == 0
    phased = load_engine(tmp_path / "phased" / "model", "cpu")
    assert phased.codec.phase_decoder is not None
    assert _same_weights(phased.codec.refiner, refined.codec.refiner)
    args = parser.parse_args(["finetune", str(tmp_path / "phased" / "model"), "--component", "codec", "--data",
                              str(tmp_path / "cache"), "--out", str(tmp_path / "phased2"), "--steps", "2",
                              "--batch-size", "2", "--device", "cpu"])
    assert args.run(args) == 0
    assert "phase trained" in (tmp_path / "phased2" / "model" / "MODEL_CARD.md").read_text()


def test_a_loudness_weight_needs_a_codec_that_reads_loudness():
    engine = build_engine(with_learned_codec(preset("tiny")))
    with pytest.raises(UserInputError, match="reads loudness"):
        DiTTask(engine, [object()], loudness_weight=0.1)


def test_a_model_trains_with_its_own_presets_schedule():
    from foleystudio.commands.train import DEFAULTS, _size_of

    assert [_size_of(name) for name in ("tiny", "compact", "small", "small-analytic", "base")] == [
        "tiny", "compact", "small", "small", "small"]
    assert all((task, "compact") in DEFAULTS for task in ("codec", "refiner", "phase", "dit", "lufs"))


def _exact_items(seconds: float = 2.0):
    """Feature items with unquantised curves, so the task's picture can be compared with the renderer's."""
    import zlib

    import numpy as np

    from foleystudio.audio.loudness import loudness_curve
    from foleystudio.training.features import FeatureItem
    from foleystudio.training.onsets import detect_onsets

    engine = build_engine(preset("tiny"))
    items = []
    for i in range(3):
        audio = synthetic_wave(i, seconds)
        curve = loudness_curve(audio, 44100)
        latent = engine.codec.encode(torch.from_numpy(audio)[None])[0]
        items.append(FeatureItem(clip_id=f"clip{i}", caption="footsteps on gravel", category="test", latent=latent,
                                 mel=None, curve=torch.from_numpy(np.stack([curve.left, curve.right])).float(),
                                 duration_s=seconds, onsets_s=tuple(detect_onsets(audio, 44100))))
    return engine, items, [zlib.crc32(item.clip_id.encode()) for item in items]


def test_dit_crops_with_video_see_the_rendered_pair_as_the_pipeline_would():
    import numpy as np

    from foleystudio.training.av_pairs import render_av_pair
    from foleystudio.video.motion import motion_energy

    engine, items, seeds = _exact_items()
    task = DiTTask(engine, items, crop_seconds=1.0, video_probability=1.0)
    assert engine.generator.config.trained_prompts == ("video", "text")
    rate = engine.generator.latent_rate
    start = 17  # a latent frame that does not fall on a video frame boundary
    latent, inputs = task._crop(task.items[1], start, with_video=True)
    size = engine.config.video_encoder.frame_size
    pair = render_av_pair(synthetic_wave(1, 2.0), seed=seeds[1], fps=8.0, size=(size, size))
    first = int(np.floor(start / rate * 8.0))
    assert -1 / 8 < inputs.video_start_s <= 0 and inputs.video_start_s == first / 8.0 - start / rate
    count = inputs.video_features.shape[0]
    assert count * (1 / 8) >= latent.shape[1] / rate  # the picture covers the crop
    expected_motion = motion_energy(pair.frames[first : first + count], previous=pair.frames[first - 1])
    np.testing.assert_allclose(inputs.video_motion.numpy(), expected_motion, atol=1e-6)
    with torch.no_grad():
        expected = engine.video_encoder(torch.from_numpy(pair.frames[first : first + count])[None])[0]
    torch.testing.assert_close(inputs.video_features, expected)
    _, without = task._crop(task.items[1], start, with_video=False)
    assert without.present == {"text"} and inputs.present == {"text", "video"}
    assert inputs.text_ids == task.items[1].on_screen_ids and without.text_ids == task.items[1].off_screen_ids


def test_dit_crops_draw_each_clips_picture_once_and_slice_it_exactly(monkeypatch):
    import math

    import numpy as np

    from foleystudio.audio.curve import LoudnessCurve
    from foleystudio.training import av_pairs
    from foleystudio.video.motion import motion_energy

    engine, items, seeds = _exact_items()
    task = DiTTask(engine, items, crop_seconds=0.5, video_probability=1.0)
    draws = []
    real_render = av_pairs.render_frames
    monkeypatch.setattr(av_pairs, "render_frames", lambda *a, **k: draws.append(k) or real_render(*a, **k))
    item, rate, size = task.items[2], engine.generator.latent_rate, engine.config.video_encoder.frame_size
    curve = LoudnessCurve.uniform(item.curve[0].numpy(), item.curve[1].numpy(), 6.0)
    for start in (17, 0, 5, item.latent.shape[1] - task.crop_frames):
        latent, inputs = task._crop(item, start, with_video=True)
        first = int(math.floor(start / rate * 8.0 + 1e-9))
        count = inputs.video_features.shape[0]
        # The crop drawn on its own, with the frame before it (frame -1 repeats frame 0).
        frames = real_render(curve, item.onsets_s, seed=seeds[2], fps=8.0, size=(size, size), first=first - 1,
                             count=count + 1)
        np.testing.assert_allclose(inputs.video_motion.numpy(), motion_energy(frames[1:], previous=frames[0]),
                                   atol=1e-6)
        with torch.no_grad():
            expected = engine.video_encoder(torch.from_numpy(frames[1:])[None])[0]
        torch.testing.assert_close(inputs.video_features, expected)
        assert count * (1 / 8) >= latent.shape[1] / rate
    assert len(draws) == 1 and draws[0]["first"] == 0  # one whole-clip drawing served every crop


def test_dit_training_with_video_trains_the_generator_not_the_frozen_frame_encoder(tmp_path):
    import copy

    engine, items, _ = _exact_items()
    encoder_before = copy.deepcopy(engine.video_encoder)
    generator_before = copy.deepcopy(engine.generator)
    task = DiTTask(engine, items, crop_seconds=1.0, video_probability=0.5)
    batch = task.make_batch([0, 1, 2, 0, 1, 2], torch.Generator().manual_seed(3))
    with_video = [inputs.video_features is not None for inputs in batch.inputs]
    assert any(with_video) and not all(with_video)  # mixed batches work
    train(task, TrainConfig(steps=3, lr=2e-3, **QUICK), tmp_path / "run", device="cpu")
    assert _same_weights(engine.video_encoder, encoder_before)
    assert not _same_weights(engine.generator, generator_before)


def test_the_dit_can_share_the_lufs_predictors_frame_encoder():
    from foleystudio.training.tasks import share_frame_encoder

    engine = build_engine(preset("tiny"))
    assert not _same_weights(engine.video_encoder, engine.lufs_predictor.encoder)
    share_frame_encoder(engine)
    assert _same_weights(engine.video_encoder, engine.lufs_predictor.encoder)


def test_the_training_chain_lufs_then_dit_from_it_with_the_shared_frame_encoder(tmp_path):
    import argparse

    from foleystudio.commands import train as command
    from foleystudio.training.av_dataset import render_av_dataset

    config = preset("tiny")
    index = index_object(tmp_path, count=4, seconds=1.0)
    build_feature_cache(index, tmp_path / "cache", codec=build_engine(config).codec, clip_seconds=1.0)
    render_av_dataset(index, tmp_path / "pairs", count=3, seconds=1.0, size=32)
    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    quick = ["--steps", "2", "--batch-size", "2", "--device", "cpu"]
    args = parser.parse_args(["train", "lufs", "--data", str(tmp_path / "pairs"), "--out", str(tmp_path / "lufs"),
                              "--preset", "tiny", *quick])
    assert args.run(args) == 0
    lufs_model = load_engine(tmp_path / "lufs" / "model", "cpu")
    # Even if the starting folder claimed every prompt, a fresh DiT is taught only what its data has.
    config_file = tmp_path / "lufs" / "model" / "config.json"
    stored = json.loads(config_file.read_text())
    stored["config"]["generator"]["trained_prompts"] = ["video", "text", "audio"]
    config_file.write_text(json.dumps(stored))
    args = parser.parse_args(["train", "dit", "--from", str(tmp_path / "lufs" / "model"), "--share-frame-encoder",
                              "--video-probability", "1", "--data", str(tmp_path / "cache"), "--out",
                              str(tmp_path / "dit"), *quick])
    assert args.run(args) == 0
    dit_model = load_engine(tmp_path / "dit" / "model", "cpu")
    assert _same_weights(dit_model.lufs_predictor, lufs_model.lufs_predictor)  # kept as it came
    assert _same_weights(dit_model.video_encoder, lufs_model.lufs_predictor.encoder)  # shared and frozen
    assert not _same_weights(dit_model.generator, lufs_model.generator)
    assert dit_model.generator.config.trained_prompts == ("video", "text")
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "dit", "--data", "x", "--out", "y", "--video-probability", "1.5"])


def test_on_noise_db_l1_pays_the_refiner_to_ring_and_itakura_saito_does_not():
    """Why the Itakura-Saito shape loss exists: the band means fix each band's mean power, dB L1
    rewards each bin's median level, and on noise (median power 1.6 dB under the mean) the power
    left over is cheapest in one loud bin per band; the Itakura-Saito divergence prefers the flat shape."""
    engine = with_refiner(build_engine(preset("tiny")), width=8)
    generator = torch.Generator().manual_seed(0)
    waves = [0.1 * torch.randn(2, 44100, generator=generator) for _ in range(2)]
    by_loss = {name: RefinerTask(engine, waves, segment_seconds=0.9, shape_loss=name)
               for name in ("db_l1", "itakura_saito")}
    batch = by_loss["db_l1"].make_batch([0, 1], torch.Generator().manual_seed(1))
    refiner = engine.codec.refiner
    filterbank = engine.codec.filterbank
    ringing = torch.zeros_like(refiner.head.bias)
    for band in range(filterbank.shape[1]):
        width = int((filterbank[:, band] > 0).sum())
        if width >= 150:  # one bin per wide band carries the third of the power the median leaves over
            ringing[int(filterbank[:, band].argmax())] = 10.0 * math.log10(0.3 * width)

    def losses():
        with torch.no_grad():
            return {name: task.loss(batch, None)[0].item() for name, task in by_loss.items()}

    flat = losses()  # the head starts at zero: the even spread
    with torch.no_grad():
        refiner.head.bias.copy_(ringing)
    rung = losses()
    assert rung["db_l1"] < flat["db_l1"] - 0.03  # measured 4.337 -> 4.280 dB
    assert rung["itakura_saito"] > flat["itakura_saito"] + 0.03  # measured 0.906 -> 0.977
    with pytest.raises(ValueError, match="shape_loss"):
        RefinerTask(engine, waves, shape_loss="l2")


def test_itakura_saito_is_zero_when_equal_and_bounded_for_a_muted_bin():
    from foleystudio.training.tasks import IS_LOG_RATIO_LIMIT, itakura_saito

    assert itakura_saito(torch.zeros(5)).item() == 0.0
    one = torch.tensor([math.log(2.0)])
    assert itakura_saito(one).item() == pytest.approx(2.0 - math.log(2.0) - 1.0)
    assert itakura_saito(-one).item() == pytest.approx(0.5 + math.log(2.0) - 1.0)  # asymmetric
    muted = itakura_saito(torch.tensor([200.0])).item()
    assert muted == pytest.approx(math.exp(IS_LOG_RATIO_LIMIT) - IS_LOG_RATIO_LIMIT - 1.0)
