"""Oversampling rare sound categories in generator training (`training.balance`, `DiTTask`)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import preset
from foleystudio.training.balance import balanced_schedule, category_repeats
from foleystudio.training.features import FeatureItem
from foleystudio.training.tasks import DiTTask
from tests.training.test_reference_training import _parser, tiny_cache, train_tiny_dit


def test_repeats_grow_with_how_much_rarer_a_category_is():
    categories = ["weapons"] * 16 + ["doors"] * 4 + ["wind"] * 1 + [""] * 3
    assert category_repeats(categories, 0.0) == {"weapons": 1, "doors": 1, "wind": 1}
    assert category_repeats(categories, 0.5) == {"weapons": 1, "doors": 2, "wind": 4}
    assert category_repeats(categories, 1.0) == {"weapons": 1, "doors": 4, "wind": 16}
    schedule = balanced_schedule(categories, 1.0)
    per_category = Counter(categories[index] for index in schedule)
    assert per_category == {"weapons": 16, "doors": 16, "wind": 16, "": 3}  # unlabelled items once each
    assert balanced_schedule(categories, 0.0) == list(range(len(categories)))
    assert schedule == sorted(schedule)  # in item order; the trainer's epoch order shuffles it


def test_the_exponent_is_checked():
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="category balance"):
            category_repeats(["a"], bad)
    assert category_repeats(["", ""], 0.5) == {}


def _items(engine, categories, seconds=2.0):
    generator = torch.Generator().manual_seed(0)
    frames = math.ceil(seconds * engine.generator.latent_rate)
    return [FeatureItem(clip_id=f"clip{index}", caption=category or "a sound", category=category, mel=None,
                        duration_s=seconds,
                        latent=torch.randn(engine.codec.latent_channels, frames, generator=generator) * 0.3,
                        curve=torch.full((2, int(seconds * 6)), -30.0))
            for index, category in enumerate(categories)]


def test_the_task_serves_rare_items_more_often_per_epoch():
    engine = build_engine(preset("tiny"))
    categories = ["weapons"] * 4 + ["doors"]
    plain = DiTTask(engine, _items(engine, categories), crop_seconds=1.0)
    balanced = DiTTask(engine, _items(engine, categories), crop_seconds=1.0, category_balance=1.0)
    assert plain.item_count() == 5
    assert balanced.item_count() == 8  # the door four times
    batch = balanced.make_batch(list(range(4, 8)), torch.Generator().manual_seed(0))
    assert batch.categories == ["doors"] * 4
    door = balanced.items[4].latent
    width = batch.latents.shape[-1]
    assert all(  # each crop is a stretch of the door
               any(torch.equal(crop, door[:, start : start + width]) for start in range(door.shape[1] - width + 1))
               for crop in batch.latents)


def test_the_command_records_the_balance_and_refuses_it_for_other_components(tmp_path):
    from foleystudio.errors import UserInputError

    parser = _parser()
    model = train_tiny_dit(parser, tiny_cache(tmp_path), tmp_path / "run", "--category-balance", "0.5", steps=1)
    assert "category balance 0.5" in (model / "MODEL_CARD.md").read_text()
    codec = parser.parse_args(["train", "codec", "--data", "x", "--out", str(tmp_path / "no"),
                               "--category-balance", "0.5"])
    with pytest.raises(UserInputError, match="--category-balance"):
        codec.run(codec)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "dit", "--data", "x", "--out", "y", "--category-balance", "2"])
