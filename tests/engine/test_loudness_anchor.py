"""Guidance that keeps loudness (`loudness_anchor`): the prompts' guidance changes the spectral
shape of each step's clean estimate, the loudness stays that of text and reference audio at scale 1."""

import dataclasses

import pytest
import torch

from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import COMPACT, SMALL, TINY, EngineConfig
from foleystudio.engine.config_io import ConfigError, config_from_dict, config_to_dict
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.engine.pipeline import condition_inputs, velocity_for
from foleystudio.engine.request import GenerationRequest
from foleystudio.errors import UserInputError


@pytest.fixture(scope="module")
def plain():
    engine = build_engine(TINY)
    # Untrained, the zero-initialised output projections hide the prompt; random ones let it steer.
    # Only those are filled (not every weight, as tests/engine/test_model.build does): a fully
    # perturbed net drives latents past the codec's 60 dB clamp, where loudness is not shiftable.
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in engine.generator.parameters():
            if not parameter.any():
                parameter.copy_(0.05 * torch.randn(parameter.shape, generator=generator))
    return engine


@pytest.fixture(scope="module")
def anchored(plain):
    return dataclasses.replace(plain, config=dataclasses.replace(plain.config, guidance_keeps_loudness=True))


def velocity(engine, text_scale, negative=""):
    request = GenerationRequest(duration_s=1.0, off_screen_prompt="rain on a tin roof", negative_prompt=negative,
                                guidance=GuidanceScales(text=text_scale), steps=4, seed=3)
    inputs = condition_inputs(engine, request)
    frames = engine.generator.latent_frames_for(request.duration_s)
    return velocity_for(engine, request, inputs, frames), frames


def clean(engine, fn, t, x):
    return engine.generator.clean_estimate(x, t, fn(t, x))


@pytest.mark.parametrize("t", [0.0, 0.4, 0.9])
@pytest.mark.parametrize("negative", ["", "thunder"])
def test_strong_text_guidance_keeps_the_loudness_of_scale_one_and_its_own_spectral_shape(plain, anchored, t, negative):
    strong, frames = velocity(anchored, 6.0, negative)
    unanchored, _ = velocity(plain, 6.0, negative)
    reference, _ = velocity(plain, 1.0, negative)
    x = torch.randn(1, plain.generator.config.latent_channels, frames, generator=torch.Generator().manual_seed(1))
    kept, guided, scale_one = (clean(plain, fn, t, x) for fn in (strong, unanchored, reference))
    loudness = plain.codec.latent_loudness_lufs
    # The unanchored guidance does change the loudness (else this test could not fail) ...
    assert (loudness(guided) - loudness(scale_one)).abs().max() > 0.5
    # ... the anchored one has the loudness of scale 1 in every channel and frame ...
    torch.testing.assert_close(loudness(kept), loudness(scale_one), atol=2e-3, rtol=0)
    # ... and the guided shape: per channel and frame, every band moved by the same amount.
    moved = (kept - guided).reshape(1, 2, -1, frames)
    assert moved.std(dim=2).max() < 1e-4


def test_at_text_scale_one_the_anchor_changes_nothing(plain, anchored):
    same, frames = velocity(anchored, 1.0)
    reference, _ = velocity(plain, 1.0)
    x = torch.randn(1, plain.generator.config.latent_channels, frames, generator=torch.Generator().manual_seed(2))
    assert torch.equal(same(0.3, x), reference(0.3, x))


def test_the_cpu_presets_keep_loudness_and_older_model_folders_do_not():
    assert COMPACT.guidance_keeps_loudness and not TINY.guidance_keeps_loudness
    data = config_to_dict(COMPACT)
    del data["guidance_keeps_loudness"]  # a folder written before the option existed
    assert config_from_dict(EngineConfig, data).guidance_keeps_loudness is False
    assert config_from_dict(EngineConfig, config_to_dict(COMPACT)) == COMPACT
    with pytest.raises(ConfigError, match="guidance_keeps_loudness"):
        config_from_dict(EngineConfig, config_to_dict(COMPACT) | {"guidance_keeps_loudness": "yes"})


def test_a_learned_codec_cannot_keep_loudness():
    with pytest.raises(UserInputError, match="needs the analytic codec"):
        dataclasses.replace(SMALL, guidance_keeps_loudness=True)
