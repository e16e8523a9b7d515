"""The codec contract shared by both codecs: shapes, latent rate, input checks, chunked processing."""

import numpy as np
import pytest
import torch

from foleystudio.engine.codec import (
    BASE_ANALYTIC_CODEC,
    BASE_LEARNED_CODEC,
    SMALL_ANALYTIC_CODEC,
    SMALL_LEARNED_CODEC,
    TINY_ANALYTIC_CODEC,
    TINY_LEARNED_CODEC,
    AnalyticCodec,
    AudioCodec,
    Chunking,
    LearnedCodec,
)
from foleystudio.errors import UserInputError


def tiny_learned() -> LearnedCodec:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return LearnedCodec(TINY_LEARNED_CODEC).eval()


@pytest.fixture(scope="module")
def codecs():
    return {"analytic": AnalyticCodec(TINY_ANALYTIC_CODEC), "learned": tiny_learned()}


def noise(samples: int, seed: int = 0, batch: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, 2, samples, generator=generator)


@pytest.mark.parametrize("kind", ["analytic", "learned"])
@pytest.mark.parametrize("samples", [1, 2047, 2048, 2049, 44100])
def test_latent_and_wave_lengths_follow_the_contract(codecs, kind, samples):
    codec = codecs[kind]
    latent = codec.encode(noise(samples, batch=2))
    frames = -(-samples // codec.hop_length)
    assert latent.shape == (2, codec.latent_channels, frames)
    assert latent.dtype == torch.float32
    wave = codec.decode(latent)
    assert wave.shape == (2, 2, frames * codec.hop_length)
    assert codec.forward(noise(samples)).shape == (1, 2, samples)


@pytest.mark.parametrize(
    ("codec_class", "config"),
    [
        (AnalyticCodec, TINY_ANALYTIC_CODEC),
        (AnalyticCodec, SMALL_ANALYTIC_CODEC),
        (AnalyticCodec, BASE_ANALYTIC_CODEC),
        (LearnedCodec, TINY_LEARNED_CODEC),
        (LearnedCodec, SMALL_LEARNED_CODEC),
        (LearnedCodec, BASE_LEARNED_CODEC),
    ],
)
def test_every_preset_is_stereo_44k1_at_most_50_latent_frames_per_second(codec_class, config):
    codec = codec_class(config)
    assert (codec.sample_rate, codec.channels) == (44100, 2)
    assert codec.latent_rate == pytest.approx(44100 / codec.hop_length)
    assert codec.latent_rate <= 50.0
    assert codec.latent_frames(codec.hop_length + 1) == 2


class _Identity(AudioCodec):
    def _encode(self, wave):
        return wave

    def _decode(self, latent):
        return latent


def test_a_latent_rate_above_50_per_second_is_refused():
    with pytest.raises(UserInputError, match="86.1 latent frames/s"):
        _Identity(2, 512, Chunking(8, 0, 0))
    assert _Identity(2, 882, Chunking(8, 0, 0)).latent_rate == 50.0


@pytest.mark.parametrize(
    ("wave", "message"),
    [
        (np.zeros((1, 2, 100), np.float32), "must be a torch tensor"),
        (torch.zeros(2, 100), r"shape \[batch, 2, samples\], got \(2, 100\)"),
        (torch.zeros(1, 1, 100), "must have 2 channels"),
        (torch.zeros(1, 2, 0), "empty"),
        (torch.zeros(1, 2, 100, dtype=torch.int16), "floating point"),
        (torch.tensor([[[0.0, float("nan")], [0.0, 0.0]]]), "NaN or infinite"),
    ],
)
def test_bad_waves_are_refused_with_a_precise_message(codecs, wave, message):
    for codec in codecs.values():
        with pytest.raises(UserInputError, match=message):
            codec.encode(wave)
        with pytest.raises(UserInputError, match=message):
            codec.encode_long(wave)


def test_bad_latents_are_refused(codecs):
    codec = codecs["learned"]
    channels = codec.latent_channels
    with pytest.raises(UserInputError, match=rf"shape \[batch, {channels}, frames\], got \(1, {channels + 1}, 3\)"):
        codec.decode(torch.zeros(1, channels + 1, 3))
    with pytest.raises(UserInputError, match="shape"):
        codec.decode(torch.zeros(channels, 3))
    with pytest.raises(UserInputError, match="empty"):
        codec.decode_long(torch.zeros(1, channels, 0))
    with pytest.raises(UserInputError, match="NaN or infinite"):
        codec.decode(torch.full((1, channels, 3), float("inf")))
    with pytest.raises(UserInputError, match="chunk"):
        codec.decode_long(torch.zeros(1, channels, 3), chunk_frames=0)


@pytest.mark.parametrize("kind", ["analytic", "learned"])
@pytest.mark.parametrize("chunk_frames", [3, 7, 16])
def test_chunked_encoding_equals_whole_encoding(codecs, kind, chunk_frames):
    codec = codecs[kind]
    wave = noise(40 * 2048 + 777, seed=3)
    whole = codec.encode(wave)
    chunked = codec.encode_long(wave, chunk_frames=chunk_frames)
    assert chunked.shape == whole.shape
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["analytic", "learned"])
# 41 frames: chunks of 4 and 8 leave a 1-frame last chunk (shorter than the analytic crossfade:
# merged into the one before), 13 a 2-frame one.
@pytest.mark.parametrize("chunk_frames", [4, 8, 13])
def test_chunked_decoding_equals_whole_decoding(codecs, kind, chunk_frames):
    codec = codecs[kind]
    latent = codec.encode(noise(40 * 2048 + 777, seed=4))
    whole = codec.decode(latent)
    blocks = list(codec.iter_decode(latent, chunk_frames=chunk_frames))
    assert len(blocks) > 2
    chunked = torch.cat(blocks, dim=-1)
    assert chunked.shape == whole.shape
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(codec.decode_long(latent, chunk_frames=chunk_frames), chunked)


def test_chunked_griffin_lim_decode_matches_the_whole_decode_within_1e_4():
    # SMALL's Griffin-Lim (16 iterations) reaches further than TINY's; its stated error is ~1e-6.
    codec = AnalyticCodec(SMALL_ANALYTIC_CODEC)
    generator = torch.Generator().manual_seed(5)
    wave = 0.1 * torch.randn(1, 2, 3 * 44100, generator=generator) * torch.linspace(0, 1, 3 * 44100)
    latent = codec.encode(wave)
    whole = codec.decode(latent)
    chunked = codec.decode_long(latent, chunk_frames=16)
    relative_rms = (chunked - whole).square().mean().sqrt() / whole.square().mean().sqrt()
    assert relative_rms < 1e-4


def test_chunking_settings_are_checked():
    with pytest.raises(UserInputError, match="crossfade"):
        Chunking(chunk_frames=8, encode_context=1, decode_context=1, decode_crossfade=4)
    with pytest.raises(UserInputError, match="invalid"):
        Chunking(chunk_frames=0, encode_context=1, decode_context=1)
