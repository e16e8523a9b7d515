"""Rates that share almost no factor with the target (old tracker and game rates) resample
accurately without torchaudio's phases x taps kernel (4.7 GB for 8363 Hz -> 44.1 kHz)."""

import math

import numpy as np
import pytest

from foleystudio.audio.resample import KERNEL_LIMIT, StreamResampler, _kernel_size, resample


def kernel_size(rate, target=44100):
    gcd = math.gcd(rate, target)
    return _kernel_size(rate // gcd, target // gcd)


@pytest.mark.parametrize("rate", [8363, 7418, 11128])
def test_awkward_rates_take_the_polyphase_path_and_are_accurate(rate):
    assert kernel_size(rate) > KERNEL_LIMIT and StreamResampler(rate, 44100, 1)._polyphase
    t = np.arange(rate * 2) / rate
    tone = np.stack([np.sin(2 * np.pi * 700 * t), np.full_like(t, 0.25)]).astype(np.float32)
    out = resample(tone, rate, 44100)
    assert out.shape == (2, -(-tone.shape[1] * 44100 // rate))
    tt = np.arange(out.shape[1]) / 44100
    middle = slice(4000, -4000)
    np.testing.assert_allclose(out[0, middle], np.sin(2 * np.pi * 700 * tt[middle]), atol=1e-4)
    np.testing.assert_allclose(out[1, middle], 0.25, atol=1e-5)


def test_streaming_an_awkward_rate_equals_the_whole_signal():
    rng = np.random.default_rng(3)
    audio = rng.standard_normal((2, 20000)).astype(np.float32)
    stream = StreamResampler(8363, 44100, 2)
    pieces = [stream.process(audio[:, i : i + 3001]) for i in range(0, audio.shape[1], 3001)]
    streamed = np.concatenate([*pieces, stream.flush()], axis=1)
    np.testing.assert_array_equal(streamed, resample(audio, 8363, 44100))


def test_common_rates_keep_the_torchaudio_kernel():
    for rate in (8000, 11025, 16000, 22050, 24000, 32000, 48000, 96000, 192000):
        assert kernel_size(rate) <= KERNEL_LIMIT, rate
        assert not StreamResampler(rate, 44100, 1)._polyphase
