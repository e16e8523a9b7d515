"""The analytic codec's phase decoder: unit phases from a bounded neighbourhood, a decode that uses
them in place of the phase table, chunking, and the old behaviour of folders without one."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from foleystudio.engine.codec import SMALL_ANALYTIC_CODEC, TINY_ANALYTIC_CODEC, AnalyticCodec, AnalyticCodecConfig
from foleystudio.engine.codec.phase_decoder import PhaseDecoder
from foleystudio.engine.config_io import config_from_dict
from foleystudio.errors import UserInputError
from tests.engine.test_griffinlim import chunked_decode_error
from tests.engine.test_refiner import _harmonic_noise, _randomised

REFINED = dataclasses.replace(TINY_ANALYTIC_CODEC, refiner_width=16, griffin_lim_keep_loudness=True)
PHASED = dataclasses.replace(REFINED, phase_decoder_width=16, griffin_lim_iterations=0)


def test_the_phase_decoder_gives_unit_phases_from_exactly_its_reach():
    decoder = PhaseDecoder(bins=33, width=8).eval()
    with torch.no_grad():
        for block in decoder.blocks:  # full-strength blocks: a change reaches the edge well above rounding
            block.scale.fill_(1.0)
    magnitude = torch.rand(2, 33, 60, generator=torch.Generator().manual_seed(0)) + 0.01
    changed = magnitude.clone()
    changed[:, :, 30] *= 5.0
    with torch.no_grad():
        phase, moved = decoder(magnitude), decoder(changed)
    assert phase.shape == magnitude.shape and phase.is_complex()
    torch.testing.assert_close(phase.abs(), torch.ones_like(phase.abs()))
    differs = (phase - moved).abs().amax(dim=(0, 1)) > 1e-6
    reach = PhaseDecoder.reach_frames()
    assert not differs[: 30 - reach].any() and not differs[31 + reach :].any()
    assert differs[30 - reach] and differs[30 + reach]  # the stated reach is not an overestimate
    with pytest.raises(ValueError, match="positive"):
        PhaseDecoder(0, 8)


def test_a_phase_decoded_codec_decodes_from_its_predicted_phase_not_the_table():
    codec = _randomised(AnalyticCodec(PHASED))
    latent = codec.encode(_harmonic_noise(1.0))
    with torch.no_grad():
        magnitude = codec.decoded_magnitude(latent)
        predicted = codec.predicted_phase(magnitude)
        torch.testing.assert_close(predicted[0], codec.phase_decoder(magnitude[0]))  # each channel on its own
        decoded = codec.decode(latent)
        from_table = codec.retrieve_phase(magnitude, codec.starting_phase(0, magnitude.shape[-1]))
    torch.testing.assert_close(decoded, codec.retrieve_phase(magnitude, predicted))
    assert (decoded - from_table).abs().max() > 1e-3


def test_a_chunked_phase_decoded_decode_equals_the_whole_one():
    codec = _randomised(AnalyticCodec(PHASED))
    refined_only = AnalyticCodec(REFINED)
    assert codec.chunking.decode_context > refined_only.chunking.decode_context  # the two reaches add
    assert chunked_decode_error(codec, codec.encode(_harmonic_noise(4.0))) < 1e-4


def test_phase_decoder_settings_are_checked_and_old_folders_have_none():
    with pytest.raises(UserInputError, match="phase_decoder_width"):
        AnalyticCodecConfig(phase_decoder_width=-1)
    with pytest.raises(UserInputError, match="phase_decoder_width"):
        AnalyticCodecConfig(phase_decoder_width=True)
    with pytest.raises(UserInputError, match="bins"):
        AnalyticCodecConfig(phase_decoder_width=8, griffin_lim_projection="bands")
    old = {k: v for k, v in dataclasses.asdict(SMALL_ANALYTIC_CODEC).items() if k != "phase_decoder_width"}
    config = config_from_dict(AnalyticCodecConfig, old)
    assert config.phase_decoder_width == 0
    assert AnalyticCodec(config).phase_decoder is None
