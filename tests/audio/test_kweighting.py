"""K-weighting: the standard's 48 kHz coefficients, the response at other rates, streaming state."""

import numpy as np
import pytest
import scipy.signal

from foleystudio.audio.kweighting import (
    KWeightingFilter,
    kweighting_response_db,
    kweighting_sos,
    prefilter_coefficients,
    rlb_coefficients,
)
from foleystudio.errors import UserInputError

# ITU-R BS.1770-4, Annex 1, Tables 1 and 2 (48 kHz).
PUBLISHED_PREFILTER_B = [1.53512485958697, -2.69169618940638, 1.19839281085285]
PUBLISHED_PREFILTER_A = [1.0, -1.69065929318241, 0.73248077421585]
PUBLISHED_RLB_B = [1.0, -2.0, 1.0]
PUBLISHED_RLB_A = [1.0, -1.99004745483398, 0.99007225036621]


def published_response_db(frequencies):
    sos = np.array([PUBLISHED_PREFILTER_B + PUBLISHED_PREFILTER_A, PUBLISHED_RLB_B + PUBLISHED_RLB_A])
    _, response = scipy.signal.sosfreqz(sos, worN=np.asarray(frequencies, float), fs=48000)
    return 20 * np.log10(np.abs(response))


def test_48k_design_reproduces_the_published_coefficients():
    b, a = prefilter_coefficients(48000)
    np.testing.assert_allclose(b, PUBLISHED_PREFILTER_B, rtol=0, atol=1e-13)
    np.testing.assert_allclose(a, PUBLISHED_PREFILTER_A, rtol=0, atol=1e-13)
    b, a = rlb_coefficients(48000)
    np.testing.assert_array_equal(b, PUBLISHED_RLB_B)
    np.testing.assert_allclose(a, PUBLISHED_RLB_A, rtol=0, atol=1e-13)


def test_48k_response_has_the_known_landmarks():
    gains = kweighting_response_db(48000, [20.0, 100.0, 997.0, 10_000.0])
    assert gains[0] == pytest.approx(-13.28, abs=0.01)  # the RLB high-pass
    assert gains[1] == pytest.approx(-1.13, abs=0.01)
    assert gains[2] == pytest.approx(0.691, abs=0.002)  # what the -0.691 dB offset cancels
    assert gains[3] == pytest.approx(4.04, abs=0.01)  # the +4 dB head shelf


@pytest.mark.parametrize(
    "rate, frequencies, tolerance_db",
    [
        # At 44.1 and 192 kHz the design follows the 48 kHz standard filter closely over the band.
        (44100, [20, 38, 100, 997, 3000, 10_000, 16_000], 0.01),
        (192000, [20, 38, 100, 997, 3000, 10_000, 20_000], 0.045),
        # At 8 kHz the bilinear transform compresses the shelf towards Nyquist (4 kHz) and the RLB
        # numerator convention adds +0.21 dB in the bass; 1 kHz stays within 0.02 dB.
        (8000, [20, 38, 100, 997, 2000, 3000], 0.45),
    ],
)
def test_response_at_other_rates_follows_the_standard_filter(rate, frequencies, tolerance_db):
    ours = kweighting_response_db(rate, frequencies)
    standard = published_response_db(frequencies)
    np.testing.assert_allclose(ours, standard, atol=tolerance_db)


def test_8k_response_at_1k_and_in_the_bass():
    gains = kweighting_response_db(8000, [100.0, 997.0]) - published_response_db([100.0, 997.0])
    assert gains[1] == pytest.approx(0.014, abs=0.01)
    assert gains[0] == pytest.approx(0.216, abs=0.01)


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 88200, 96000, 176400, 192000])
def test_filter_is_stable_at_every_rate(rate):
    sos = kweighting_sos(rate)
    poles = np.concatenate([np.roots(section[3:]) for section in sos])
    assert np.all(np.abs(poles) < 1.0)


def test_streaming_state_makes_blocks_equal_one_pass():
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((2, 30_000))
    whole = KWeightingFilter(44100, 2).process(signal)
    streamed = KWeightingFilter(44100, 2)
    cuts = [0, 1, 17, 4096, 4097, 20_000, 30_000]
    pieces = [streamed.process(signal[:, a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    np.testing.assert_array_equal(np.concatenate(pieces, axis=1), whole)
    reference = scipy.signal.sosfilt(kweighting_sos(44100), signal, axis=-1)
    np.testing.assert_allclose(whole, reference, rtol=0, atol=1e-12)


def test_reset_forgets_the_state():
    kfilter = KWeightingFilter(48000, 1)
    impulse = np.zeros((1, 100))
    impulse[0, 0] = 1.0
    first = kfilter.process(impulse)
    kfilter.reset()
    np.testing.assert_array_equal(kfilter.process(impulse), first)


@pytest.mark.parametrize("bad", [7999, 192001, 44100.5, float("nan"), "48000", True])
def test_unsupported_rates_are_user_errors(bad):
    with pytest.raises(UserInputError, match="sample rate"):
        kweighting_sos(bad)
