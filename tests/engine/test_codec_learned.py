"""The learned codec (waveform VAE): builds, latent normalisation, posterior, loss and gradients."""

import dataclasses

import pytest
import torch

from foleystudio.engine.codec import (
    SMALL_LEARNED_CODEC,
    TINY_LEARNED_CODEC,
    CodecLossWeights,
    LearnedCodec,
    LearnedCodecConfig,
    Posterior,
    codec_loss,
)
from foleystudio.errors import UserInputError


def build(config=TINY_LEARNED_CODEC, seed=0) -> LearnedCodec:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LearnedCodec(config)


def batch(samples=6000, seed=0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 44100
    tone = 0.2 * torch.sin(2 * torch.pi * 440 * t)
    stereo = torch.stack([tone, 0.5 * tone])[None].repeat(2, 1, 1)
    return stereo + 0.01 * torch.randn(2, 2, samples, generator=generator)


def test_small_preset_is_a_64_channel_latent_at_21_5_frames_per_second():
    codec = build(SMALL_LEARNED_CODEC)
    assert codec.latent_channels == 64
    assert codec.latent_rate == pytest.approx(21.533, abs=1e-3)
    parameters = sum(p.numel() for p in codec.parameters())
    assert 20e6 < parameters < 45e6  # the size the report measures (31.7 M)


def test_loss_is_finite_and_every_parameter_gets_a_finite_gradient():
    codec = build()
    loss = codec_loss(codec, batch(), generator=torch.Generator().manual_seed(1))
    for part in (loss.total, loss.spectral, loss.waveform, loss.kl):
        assert part.ndim == 0 and torch.isfinite(part)
    assert loss.spectral > 0.1  # untrained: far from a reconstruction
    loss.total.backward()
    for name, parameter in codec.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert codec.encoder.inputs.weight.grad.abs().sum() > 0
    assert codec.decoder.head.weight.grad.abs().sum() > 0


def test_loss_weights_combine_the_parts():
    codec = build()
    weights = CodecLossWeights(spectral=2.0, waveform=3.0, kl=0.5)
    loss = codec_loss(codec, batch(), torch.Generator().manual_seed(1), weights)
    expected = 2.0 * loss.spectral + 3.0 * loss.waveform + 0.5 * loss.kl
    torch.testing.assert_close(loss.total, expected)


def test_a_few_training_steps_reduce_the_loss():
    codec = build()
    optimiser = torch.optim.Adam(codec.parameters(), lr=5e-3)
    wave = batch(4096)
    losses = []
    for step in range(12):
        optimiser.zero_grad()
        loss = codec_loss(codec, wave, torch.Generator().manual_seed(step))
        loss.total.backward()
        optimiser.step()
        losses.append(loss.total.item())
    assert losses[-1] < 0.8 * losses[0]  # measured: 2.38 -> 1.72


def test_training_samples_the_posterior_but_encode_returns_its_mean():
    codec = build().eval()
    wave = batch(4096)
    with torch.no_grad():
        first, _ = codec.reconstruct(wave, torch.Generator().manual_seed(1))
        again, _ = codec.reconstruct(wave, torch.Generator().manual_seed(1))
        other, posterior = codec.reconstruct(wave, torch.Generator().manual_seed(2))
        torch.testing.assert_close(first, again)
        assert not torch.allclose(first, other)
        torch.testing.assert_close(codec.encode(wave), posterior.mean)


def test_latent_normalisation_is_the_configured_affine_map():
    plain = build()
    shifted = build(dataclasses.replace(TINY_LEARNED_CODEC, latent_shift=0.5, latent_scale=2.0))
    wave = batch(4096)
    with torch.no_grad():
        torch.testing.assert_close(shifted.encode(wave), (plain.encode(wave) - 0.5) / 2.0)
        latent = plain.encode(wave)
        torch.testing.assert_close(shifted.decode((latent - 0.5) / 2.0), plain.decode(latent), atol=1e-5, rtol=1e-4)


def test_kl_is_zero_for_the_standard_normal_and_positive_otherwise():
    zeros, ones = torch.zeros(1, 4, 3), torch.ones(1, 4, 3)
    assert Posterior(zeros, ones).kl().item() == pytest.approx(0.0, abs=1e-7)
    assert Posterior(ones, ones).kl().item() == pytest.approx(0.5)
    assert Posterior(zeros, 0.5 * ones).kl().item() > 0.1


def test_an_untrained_decoder_cannot_produce_infinite_audio():
    codec = build()
    with torch.no_grad():
        wave = codec.decode(torch.full((1, codec.latent_channels, 3), 1e4))
    assert torch.isfinite(wave).all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stft_hop": 500}, "not a multiple"),
        ({"kernel_size": 4}, "odd"),
        ({"width": 0}, "positive"),
        ({"hop_length": 512, "stft_hop": 512, "n_fft": 2048}, "latent frames/s"),
    ],
)
def test_config_is_checked(changes, message):
    with pytest.raises(UserInputError, match=message):
        LearnedCodec(dataclasses.replace(TINY_LEARNED_CODEC, **changes))


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TINY_LEARNED_CODEC.width = 8
    assert isinstance(TINY_LEARNED_CODEC, LearnedCodecConfig)
