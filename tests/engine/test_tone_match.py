"""Tone matching: a take moves onto its reference sound's spectral shape, its loudness kept."""

import dataclasses

import pytest
import torch

from foleystudio.engine.builder import build_engine
from foleystudio.engine.codec.learned import SMALL_LEARNED_CODEC
from foleystudio.engine.config import TINY, EngineConfig
from foleystudio.engine.config_io import config_from_dict, config_to_dict
from foleystudio.engine.pipeline import condition_inputs, generate, run_to_end, tone_match_for
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.codec.analytic import latent_band_levels_db
from foleystudio.engine.tone_match import MAX_CHANGE_DB, ToneMatch, band_shape_db
from foleystudio.errors import UserInputError
from tests.engine.test_reference_bank import _bank_engine

SCALE = TINY.codec.scale_db


def _latent(tilt_db_per_band: float, frames: int = 12, seed: int = 0, level_db: float = -20.0) -> torch.Tensor:
    """A tiny-codec latent [1, C, frames] whose bands fall by ``tilt_db_per_band`` each, with noise."""
    config = TINY.codec
    generator = torch.Generator().manual_seed(seed)
    bands = level_db - tilt_db_per_band * torch.arange(config.n_mels, dtype=torch.float32)
    stacked = bands[None, None, None, :, None] + torch.randn(1, 2, config.frames_per_latent, config.n_mels, frames,
                                                            generator=generator)
    return ((stacked - config.offset_db) / SCALE).reshape(1, -1, frames)


def test_the_shape_is_level_free_and_silence_does_not_count():
    config = TINY.codec
    latent = _latent(2.0)
    shape = band_shape_db(latent, config)[0]
    assert shape.shape == (config.n_mels,)
    torch.testing.assert_close(band_shape_db(latent + 9.0 / SCALE, config)[0], shape, atol=1e-4, rtol=0)
    floor = torch.full((1, latent.shape[1], 5), (config.floor_db - config.offset_db) / SCALE)
    torch.testing.assert_close(band_shape_db(torch.cat([latent, floor], -1), config)[0], shape, atol=1e-4, rtol=0)
    assert abs(float(shape[-1] - shape[0]) + 2.0 * (config.n_mels - 1)) < 2.0  # the tilt, within the noise


def test_a_take_moves_onto_its_references_shape_with_each_frames_loudness_kept():
    codec = build_engine(TINY).codec
    take, reference = _latent(2.5, seed=1), _latent(0.5, frames=20, seed=2)[0]  # 30 dB apart at the top
    for strength in (1.0, 0.5):
        matched = ToneMatch(codec, reference, strength)(take)
        expected = band_shape_db(take, codec.config) + strength * (
            band_shape_db(reference[None], codec.config) - band_shape_db(take, codec.config))
        # Shapes are level-free: compared up to a constant over the bands.
        got = band_shape_db(matched, codec.config)
        torch.testing.assert_close(got - got.mean(), expected - expected.mean(), atol=0.3, rtol=0)
        torch.testing.assert_close(codec.latent_loudness_lufs(matched), codec.latent_loudness_lufs(take),
                                   atol=1e-3, rtol=0)
    assert torch.equal(ToneMatch(codec, reference, 0.0)(take), take)
    with pytest.raises(ValueError, match="strength"):
        ToneMatch(codec, reference, 1.5)


def test_no_band_moves_more_than_the_limit():
    codec = build_engine(TINY).codec
    take, reference = _latent(0.0, seed=1), _latent(8.0, seed=2)[0]  # 8 dB per band: 120 dB across 16
    matched = ToneMatch(codec, reference, 1.0)(take)
    before, after = latent_band_levels_db(take, codec.config), latent_band_levels_db(matched, codec.config)
    change = (after - before).mean(dim=(0, 1, 2))
    spread = float(change.max() - change.min())  # each band within MAX_CHANGE_DB of the mean move
    assert 2 * MAX_CHANGE_DB - 0.1 <= spread <= 2 * MAX_CHANGE_DB + 1e-3


def test_a_long_take_keeps_the_change_its_first_window_measured():
    codec = build_engine(TINY).codec
    match = ToneMatch(codec, _latent(0.5, seed=2)[0], 1.0)
    match(_latent(3.0, seed=1))
    first = match.change_db.clone()
    later = _latent(1.0, seed=3)
    after = match(later)
    torch.testing.assert_close(match.change_db, first)
    levels = latent_band_levels_db(after, codec.config) - latent_band_levels_db(later, codec.config)
    change = levels.mean(dim=(0, 1, 2))
    torch.testing.assert_close(change - change.mean(), first[0] - first[0].mean(), atol=1e-3, rtol=0)


def test_the_model_setting_is_checked_and_old_folders_read_off():
    assert TINY.tone_match == 0.0
    for bad in (-0.1, 1.5, float("nan"), True, "1"):
        with pytest.raises(UserInputError, match="tone_match"):
            dataclasses.replace(TINY, tone_match=bad)
    with pytest.raises(UserInputError, match="analytic codec"):
        dataclasses.replace(TINY, codec=SMALL_LEARNED_CODEC, generator=TINY.generator.for_codec(
            SMALL_LEARNED_CODEC.latent_channels, 44100 / SMALL_LEARNED_CODEC.hop_length), tone_match=0.5)
    written = config_to_dict(dataclasses.replace(TINY, tone_match=0.5))
    assert config_from_dict(EngineConfig, written).tone_match == 0.5
    del written["tone_match"]
    assert config_from_dict(EngineConfig, written).tone_match == 0.0


def _toned_engine(strength: float):
    engine = _bank_engine()
    engine.config = dataclasses.replace(engine.config, tone_match=strength)
    return engine


def test_the_pipeline_matches_only_a_model_that_asks_and_a_request_with_a_reference():
    request = GenerationRequest(duration_s=1.0, on_screen_prompt="a wooden door slam", steps=2, seed=3)
    toned, plain = _toned_engine(1.0), _toned_engine(0.0)
    latent = _latent(3.0)
    inputs = condition_inputs(toned, request)
    assert inputs.reference_latent is not None
    assert not torch.equal(tone_match_for(toned, inputs)(latent), latent)
    assert torch.equal(tone_match_for(plain, inputs)(latent), latent)
    no_reference = condition_inputs(toned, GenerationRequest(duration_s=1.0, steps=2))
    assert no_reference.reference_latent is None
    assert torch.equal(tone_match_for(toned, no_reference)(latent), latent)
    with_match = run_to_end(generate(toned, request))[0].audio
    without = run_to_end(generate(plain, request))[0].audio
    assert with_match.shape == without.shape and not (with_match == without).all()


def test_a_long_take_and_a_retake_are_matched_too():
    from foleystudio.engine.retake import regenerate

    request = GenerationRequest(duration_s=3.0, on_screen_prompt="a wooden door slam", steps=2, seed=3)
    toned, plain = _toned_engine(1.0), _toned_engine(0.0)
    assert len(toned.config.long_take.plan(toned.generator.latent_frames_for(3.0), 21.5).windows) > 1
    take = run_to_end(generate(toned, request))[0]
    assert not (take.audio == run_to_end(generate(plain, request))[0].audio).all()
    again = run_to_end(regenerate(toned, request, take.audio, 1.0, 2.0, seed=5))
    plainly = run_to_end(regenerate(plain, request, take.audio, 1.0, 2.0, seed=5))
    assert not (again.audio == plainly.audio).all()
    outside = slice(0, 44100 // 2)
    assert (again.audio[:, outside] == take.audio[:, outside]).all()  # kept bit for bit
