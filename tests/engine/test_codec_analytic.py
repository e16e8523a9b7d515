"""The analytic codec (log-mel + Griffin-Lim): level, loudness curve, channels, timing, normalisation."""

import math

import numpy as np
import pytest
import torch

from foleystudio.audio.loudness import loudness_curve
from foleystudio.engine.codec import SMALL_ANALYTIC_CODEC, AnalyticCodec, AnalyticCodecConfig
from foleystudio.engine.codec.metrics import loudness_curve_error_lu
from foleystudio.engine.codec.spectral import partition_mel_filterbank
from foleystudio.errors import UserInputError

RATE = 44100
SECONDS = 2.5


@pytest.fixture(scope="module")
def codec():
    return AnalyticCodec(SMALL_ANALYTIC_CODEC)


def tone(frequency=1000.0, amplitude=0.1, seconds=SECONDS) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def round_trip(codec, audio: np.ndarray) -> np.ndarray:
    return codec(torch.from_numpy(audio)[None])[0].numpy()


def curves(audio: np.ndarray) -> np.ndarray:
    curve = loudness_curve(audio, RATE)
    return np.stack([curve.left, curve.right])


@pytest.mark.parametrize(
    "make",
    [
        lambda: np.stack([tone(), tone()]),
        lambda: (0.05 * np.random.default_rng(1).standard_normal((2, int(SECONDS * RATE)))).astype(np.float32),
    ],
    ids=["1kHz_tone", "noise"],
)
def test_round_trip_keeps_the_loudness_curve(codec, make):
    # Measured: 0.048 LU mean / 0.10 LU worst frame (tone), 0.012 / 0.073 (noise): band envelopes
    # and the energy finish keep each frame's energy. Plain Griffin-Lim on the bins read 0.14 / 0.16
    # LU low; a decode that loud or quiet, silent or in the wrong frames fails these bounds.
    audio = make()
    decoded = round_trip(codec, audio)
    assert loudness_curve_error_lu(audio, decoded, RATE) < 0.1
    difference = curves(decoded) - curves(audio)
    assert np.abs(difference).max() < 0.3
    assert abs(difference.mean()) < 0.1


def test_each_channel_keeps_its_own_content(codec):
    audio = np.stack([tone(), np.zeros(int(SECONDS * RATE), np.float32)])
    decoded = round_trip(codec, audio)
    left, right = curves(decoded)
    assert np.all(right <= -70.0 + 1e-9)  # the silent right channel stays silent
    assert np.abs(left - curves(audio)[0]).mean() < 0.1  # measured 0.048


def test_a_centred_source_decodes_identically_in_both_channels(codec):
    # Both channels start Griffin-Lim from the same phase, so mono stays mono.
    decoded = round_trip(codec, np.stack([tone(440.0), tone(440.0)]))
    np.testing.assert_array_equal(decoded[0], decoded[1])


def test_a_click_decodes_at_its_time(codec):
    audio = np.zeros((2, int(SECONDS * RATE)), np.float32)
    audio[:, RATE] = 0.9  # one click at 1.000 s
    decoded = round_trip(codec, audio)
    energy = np.convolve(decoded[0] ** 2, np.ones(441), mode="same")  # 10 ms smoothing
    assert abs(np.argmax(energy) / RATE - 1.0) < 0.025


def test_the_dominant_frequency_survives(codec):
    decoded = round_trip(codec, np.stack([tone(3000.0), tone(3000.0)]))
    spectrum = np.abs(np.fft.rfft(decoded[0]))
    peak_hz = np.argmax(spectrum) * RATE / len(decoded[0])
    assert abs(peak_hz - 3000.0) < 100.0


def test_latent_normalisation_is_the_stated_affine_map(codec):
    silence = torch.zeros(1, 2, 8192)
    floor = codec.encode(silence)
    torch.testing.assert_close(floor, torch.full_like(floor, (-100.0 + 50.0) / 30.0))
    generator = torch.Generator().manual_seed(0)
    white = torch.randn(1, 2, 4 * RATE, generator=generator)  # variance 1: 0 dB in every band
    latent = codec.encode(white)[..., 2:-2]
    assert latent.mean().item() == pytest.approx(50.0 / 30.0, abs=0.05)


def test_decoding_is_deterministic(codec):
    latent = codec.encode(torch.from_numpy(np.stack([tone(), tone(330.0)]))[None])
    torch.testing.assert_close(codec.decode(latent), codec.decode(latent), rtol=0, atol=0)


def test_latents_outside_the_data_range_decode_to_finite_audio(codec):
    wave = codec.decode(torch.full((1, codec.latent_channels, 4), 50.0))
    assert torch.isfinite(wave).all()


def test_mel_filters_sum_to_one_at_every_bin():
    filterbank = partition_mel_filterbank(2048, 64, RATE)
    assert filterbank.shape == (1025, 64)
    torch.testing.assert_close(filterbank.sum(dim=1), torch.ones(1025))
    with pytest.raises(UserInputError, match="contain no FFT bin"):
        partition_mel_filterbank(256, 120, RATE)


def test_band_means_spread_back_keep_each_frame_energy(codec):
    generator = torch.Generator().manual_seed(2)
    wave = torch.randn(1, 2, 8 * 2048, generator=generator) * torch.linspace(0.01, 1.0, 8 * 2048)
    spectrum = codec.framing.analyse(wave).abs().square().sum(dim=2)
    rebuilt = codec.decoded_magnitude(codec.encode(wave)).square().sum(dim=2)
    torch.testing.assert_close(rebuilt, spectrum, rtol=1e-3, atol=0)


def test_config_is_checked():
    with pytest.raises(UserInputError, match="not a multiple"):
        AnalyticCodecConfig(hop_length=2048, stft_hop=500)
    with pytest.raises(UserInputError, match="n_fft >= 2 x hop"):
        AnalyticCodecConfig(stft_hop=2048, n_fft=2048)
    assert AnalyticCodec().latent_channels == 2 * 64 * 4
    assert math.isclose(AnalyticCodec().latent_rate, 21.533, abs_tol=1e-3)


# ---- loudness read off the latent ------------------------------------------------------------
def stepped_noise(seed=3, seconds=3.0) -> np.ndarray:
    """Reddish stereo noise whose level steps by 10-20 dB each second; right about 5 dB under left."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    white = rng.standard_normal((2, n))
    coloured = np.cumsum(white, axis=1)  # brown, then high-passed a little: a sound-like slope
    for channel in coloured:
        channel -= np.convolve(channel, np.ones(64) / 64, mode="same")
    coloured /= coloured.std(axis=1, keepdims=True)
    level = 10.0 ** (np.repeat([-10.0, -30.0, -20.0], RATE)[:n] / 20.0)
    return (coloured * level * np.array([[1.0], [0.5]])).astype(np.float32)


@pytest.mark.parametrize("config", [SMALL_ANALYTIC_CODEC, AnalyticCodecConfig(n_mels=32)], ids=["small", "compact"])
def test_latent_loudness_reads_the_measured_loudness(config):
    codec = AnalyticCodec(config)
    audio = stepped_noise()
    latent = codec.encode(torch.from_numpy(audio)[None])
    read = codec.latent_loudness_lufs(latent)[0].numpy()  # [2, T] at 21.5 frames/s
    per_second = round(codec.latent_rate)
    for second in range(3):
        # Whole seconds, away from the steps (the STFT window spreads a step over a frame or two).
        inside = slice(second * per_second + 3, (second + 1) * per_second - 3)
        measured = integrated(audio, second * RATE + RATE // 7, (second + 1) * RATE - RATE // 7)
        np.testing.assert_allclose(energy_mean(read[:, inside]), measured, atol=0.5)


def test_latent_loudness_is_differentiable_and_floors_finite():
    codec = AnalyticCodec(AnalyticCodecConfig(n_mels=32))
    latent = torch.zeros(1, codec.latent_channels, 4, requires_grad=True)
    codec.latent_loudness_lufs(latent).sum().backward()
    assert latent.grad.abs().sum() > 0
    floor = codec.latent_loudness_lufs(torch.full((1, codec.latent_channels, 2), -10.0))
    assert torch.isfinite(floor).all() and floor.max() < -100.0


def integrated(audio: np.ndarray, first: int, stop: int) -> np.ndarray:
    """BS.1770 loudness per channel of samples first..stop (ungated), filtered in context."""
    from foleystudio.audio.kweighting import KWeightingFilter

    weighted = KWeightingFilter(RATE, 2).process(audio.astype(np.float64))[:, first:stop]
    return -0.691 + 10.0 * np.log10(np.mean(weighted**2, axis=1))


def energy_mean(lufs: np.ndarray) -> np.ndarray:
    return 10.0 * np.log10(np.mean(10.0 ** (lufs / 10.0), axis=-1))


def test_shifting_loudness_moves_the_read_out_and_the_decoded_audio_by_that_much_and_keeps_the_shape():
    codec = AnalyticCodec(AnalyticCodecConfig(n_mels=32))
    latent = codec.encode(torch.from_numpy(stepped_noise())[None])
    lift = torch.linspace(-6.0, 4.0, latent.shape[-1]).expand(1, 2, -1).clone()
    lift[:, 1] *= -1  # the channels move apart: each is shifted on its own
    shifted = codec.shift_loudness(latent, lift)
    torch.testing.assert_close(codec.latent_loudness_lufs(shifted) - codec.latent_loudness_lufs(latent), lift,
                               atol=1e-3, rtol=0)
    # The bands of a channel's frame move together: the spectral shape is untouched.
    bands = (shifted - latent).reshape(1, 2, -1, latent.shape[-1])
    torch.testing.assert_close(bands.std(dim=2), torch.zeros(1, 2, latent.shape[-1]), atol=1e-5, rtol=0)
    # Heard: a constant +5 LU decodes 5 LU louder (measured on the decoded audio).
    louder = codec.decode(codec.shift_loudness(latent, torch.full((1, 2, latent.shape[-1]), 5.0)))[0].numpy()
    quiet = codec.decode(latent)[0].numpy()
    np.testing.assert_allclose(integrated(louder, RATE // 2, 2 * RATE) - integrated(quiet, RATE // 2, 2 * RATE),
                               [5.0, 5.0], atol=0.1)
