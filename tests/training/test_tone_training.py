"""Generator training with the tone-consistency loss (`FlowConfig.tone_weight`, `DiTTask`, the commands)."""

from __future__ import annotations

import math

import pytest
import torch

from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import preset
from foleystudio.engine.tone_match import band_shape_db
from foleystudio.errors import UserInputError
from foleystudio.training.features import FeatureItem
from foleystudio.training.tasks import DiTTask, with_learned_codec
from tests.training.test_reference_training import _parser, tiny_cache, train_tiny_dit


def _items(engine, count=3, seconds=1.0):
    generator = torch.Generator().manual_seed(3)
    frames = math.ceil(seconds * engine.generator.latent_rate)
    return [FeatureItem(clip_id=f"clip{index}", caption="a door", category="doors", mel=None, duration_s=seconds,
                        latent=torch.randn(engine.codec.latent_channels, frames, generator=generator) * 0.3,
                        curve=torch.full((2, int(seconds * 6)), -30.0))
            for index in range(count)]


def test_the_task_scores_the_codecs_band_shape():
    engine = build_engine(preset("tiny"))
    task = DiTTask(engine, _items(engine), crop_seconds=1.0, tone_weight=0.1)
    batch = task.make_batch([0, 1, 2], torch.Generator().manual_seed(0))
    loss, logged = task.loss(batch, torch.Generator().manual_seed(1))
    assert logged["tone_db"] > 0.0 and torch.isfinite(loss)
    latent = batch.latents[:1]
    assert torch.equal(task._band_shape(latent), band_shape_db(latent, engine.codec.config))
    plain = DiTTask(engine, _items(engine), crop_seconds=1.0)
    assert "tone_db" not in plain.loss(batch, torch.Generator().manual_seed(1))[1]


def test_a_tone_weight_needs_the_analytic_codec():
    engine = build_engine(with_learned_codec(preset("tiny")))
    with pytest.raises(UserInputError, match="tone weight needs the analytic codec"):
        DiTTask(engine, [object()], tone_weight=0.1)


def test_the_command_records_the_tone_weight_and_refuses_it_for_other_components(tmp_path):
    parser = _parser()
    model = train_tiny_dit(parser, tiny_cache(tmp_path), tmp_path / "run", "--tone-weight", "0.05", steps=1)
    assert "tone weight 0.05" in (model / "MODEL_CARD.md").read_text()
    codec = parser.parse_args(["train", "codec", "--data", "x", "--out", str(tmp_path / "no"), "--tone-weight", "0.1"])
    with pytest.raises(UserInputError, match="--tone-weight"):
        codec.run(codec)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "dit", "--data", "x", "--out", "y", "--tone-weight", "-1"])
