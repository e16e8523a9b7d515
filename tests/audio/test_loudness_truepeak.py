"""True peak: the interpolator, accuracy on sines at several rates, exactness of the skipping."""

import numpy as np
import pytest
import scipy.signal

from foleystudio.audio.truepeak import (
    TruePeakMeter,
    interpolation_filter,
    oversampling_factor,
    true_peak_dbtp,
)
from foleystudio.errors import UserInputError


def reference_true_peak_db(samples, factor):
    """Full oversampling with the same interpolator, in float64, silence around the signal."""
    taps = interpolation_filter(factor)
    oversampled = scipy.signal.upfirdn(taps, np.asarray(samples, np.float64), up=factor, axis=-1)
    return 20 * np.log10(np.max(np.abs(oversampled), axis=-1))


def faded_sine(frequency, rate, amplitude=0.5, phase=0.3, seconds=1.0):
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # 20 ms linear fades
    return (amplitude * envelope * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


@pytest.mark.parametrize("rate, factor", [(8000, 4), (44100, 4), (96000, 4), (176400, 2), (192000, 2)])
def test_oversampling_factor(rate, factor):
    assert oversampling_factor(rate) == factor


@pytest.mark.parametrize("factor", [2, 4])
def test_interpolator_is_a_nyquist_filter_with_unity_gain_per_phase(factor):
    taps = interpolation_filter(factor)
    centre = len(taps) // 2
    assert taps[centre] == 1.0
    on_sample = taps[(np.arange(len(taps)) - centre) % factor == 0]
    assert np.count_nonzero(on_sample) == 1  # the on-sample phase copies the input
    for phase in range(factor):
        assert taps[phase::factor].sum() == pytest.approx(1.0, abs=0.003)


@pytest.mark.parametrize(
    "rate, frequencies",
    [
        (8000, [500.0, 1500.0, 2500.0, 3500.0]),
        (44100, [997.0, 5000.0, 11025.0, 17000.0, 19000.0]),
        (48000, [1000.0, 8000.0, 12000.0, 18000.0]),
        (96000, [1000.0, 20000.0, 38000.0]),
        (192000, [1000.0, 20000.0, 50000.0, 75000.0]),
    ],
)
def test_sines_read_their_amplitude_within_the_ebu_tolerance(rate, frequencies):
    for frequency in frequencies:
        for phase in (0.0, 0.4, 1.1):
            tone = faded_sine(frequency, rate, amplitude=0.5, phase=phase)
            reading = true_peak_dbtp(tone, rate)
            assert -6.02 - 0.4 <= reading <= -6.02 + 0.2, (frequency, phase, reading)


def test_an_inter_sample_peak_is_found_above_the_sample_peak():
    # fs/4 at 45 degrees: every sample is at 0.707 of the waveform's peak (-3 dB).
    rate = 44100
    tone = faded_sine(rate / 4, rate, amplitude=1.0, phase=np.pi / 4)
    meter = TruePeakMeter(rate, 1)
    meter.process(tone[np.newaxis, :])
    sample_peak, true_peak = meter.peaks()
    assert 20 * np.log10(sample_peak[0]) == pytest.approx(-3.01, abs=0.01)
    assert 20 * np.log10(true_peak[0]) == pytest.approx(0.0, abs=0.05)


def test_matches_full_oversampling_on_noise_and_bursts():
    rate = 48000
    rng = np.random.default_rng(11)
    noise = 0.1 * rng.standard_normal((2, 5 * rate))
    noise[:, 2 * rate : 2 * rate + 300] *= 6  # a loud burst among quieter noise
    noise[1, : rate // 2] = 0.0  # silence then an abrupt start
    noise = noise.astype(np.float32)
    meter = TruePeakMeter(rate, 2)
    meter.process(noise)
    _, true_peak = meter.peaks()
    np.testing.assert_allclose(20 * np.log10(true_peak), reference_true_peak_db(noise, 4), atol=1e-4)


def test_streaming_is_bit_identical_to_one_block():
    rate = 44100
    rng = np.random.default_rng(4)
    signal = (0.2 * rng.standard_normal((2, 3 * rate))).astype(np.float32)
    whole = TruePeakMeter(rate, 2)
    whole.process(signal)
    streamed = TruePeakMeter(rate, 2)
    position = 0
    while position < signal.shape[1]:
        size = int(rng.integers(0, 20_000))
        streamed.process(signal[:, position : position + size])
        position += size
    for ours, reference in zip(streamed.peaks(), whole.peaks(), strict=True):
        np.testing.assert_array_equal(ours, reference)


def test_peaks_can_be_read_mid_stream():
    rate = 48000
    rng = np.random.default_rng(8)
    signal = (0.2 * rng.standard_normal((1, 2 * rate))).astype(np.float32)
    meter = TruePeakMeter(rate, 1)
    meter.process(signal[:, :30_000])
    first_half = meter.peaks()[1][0]
    meter.process(signal[:, 30_000:])
    whole = TruePeakMeter(rate, 1)
    whole.process(signal)
    assert first_half <= meter.peaks()[1][0]
    np.testing.assert_array_equal(meter.peaks()[1], whole.peaks()[1])


def test_silence_reads_minus_infinity():
    assert true_peak_dbtp(np.zeros((2, 1000), np.float32), 48000) == float("-inf")


def test_bad_input_is_a_user_error():
    with pytest.raises(UserInputError, match="NaN"):
        true_peak_dbtp(np.array([0.0, np.nan, 0.0]), 48000)
    with pytest.raises(UserInputError, match="sample rate"):
        true_peak_dbtp(np.zeros(100), 4000)
