"""The K-weighting filter of ITU-R BS.1770-4 at any sample rate from 8 to 192 kHz.

BS.1770-4 publishes the two filter stages only as digital coefficients at 48 kHz: a high shelf
(+4 dB above about 1.7 kHz, the acoustic effect of the head) and the RLB high-pass (about 38 Hz).
Each stage is the bilinear transform, pre-warped at its corner frequency, of an analogue
second-order section. The analogue parameters below are the ones that reproduce the published
48 kHz coefficients to within 1e-15 (fitted by Brecht De Man; libebur128 and pyloudnorm's "DeMan"
filter use the same ones), so designing from them at another rate gives the same filter there.

The RLB stage keeps the standard's unnormalised numerator (1, -2, 1) at every rate, as libebur128
and pyloudnorm do. Its pass-band gain is therefore 1 + K/Q + K^2: +0.04 dB at 48 kHz, which the
standard's -0.691 dB offset already absorbs, and a little more at low rates (+0.26 dB at 8 kHz),
which is what the reference implementations measure too.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.signal

from foleystudio.audio.loudness_input import check_sample_rate

# Analogue prototype of the pre-filter (high shelf).
SHELF_CORNER_HZ = 1681.974450955533
SHELF_GAIN_DB = 3.999843853973347
SHELF_Q = 0.7071752369554196
# The shelf's mid-band (s^1) numerator term is not sqrt(high-frequency gain) exactly.
SHELF_MID_EXPONENT = 0.4996667741545416
# Analogue prototype of the RLB high-pass.
HIGHPASS_CORNER_HZ = 38.13547087602444
HIGHPASS_Q = 0.5003270373238773

_Z_MINUS_ONE_SQUARED = np.array([1.0, -2.0, 1.0])  # (z - 1)^2, coefficients of z^2, z^1, z^0
_Z_SQUARED_MINUS_ONE = np.array([1.0, 0.0, -1.0])  # (z - 1)(z + 1)
_Z_PLUS_ONE_SQUARED = np.array([1.0, 2.0, 1.0])  # (z + 1)^2


def _bilinear(analogue: tuple[float, float, float], warp: float) -> np.ndarray:
    """Digital polynomial (z^2, z^1, z^0) of an analogue c2 s^2 + c1 s + c0, with s = s_true / w0.

    The pre-warped bilinear transform maps s -> (z - 1) / (warp (z + 1)), warp = tan(pi f0 / fs);
    multiplying through by warp^2 (z + 1)^2 leaves a polynomial in z.
    """
    c2, c1, c0 = analogue
    return c2 * _Z_MINUS_ONE_SQUARED + c1 * warp * _Z_SQUARED_MINUS_ONE + c0 * warp**2 * _Z_PLUS_ONE_SQUARED


def _biquad(numerator, denominator, corner_hz: float, sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised (b, a) of the analogue section numerator / denominator (each c2, c1, c0)."""
    warp = math.tan(math.pi * corner_hz / sample_rate)
    b = _bilinear(numerator, warp)
    a = _bilinear(denominator, warp)
    return b / a[0], a / a[0]


def prefilter_coefficients(sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of the BS.1770 stage-1 pre-filter (high shelf) at ``sample_rate``."""
    sample_rate = check_sample_rate(sample_rate)
    high_gain = 10.0 ** (SHELF_GAIN_DB / 20.0)
    mid_gain = high_gain**SHELF_MID_EXPONENT
    numerator = (high_gain, mid_gain / SHELF_Q, 1.0)
    denominator = (1.0, 1.0 / SHELF_Q, 1.0)
    return _biquad(numerator, denominator, SHELF_CORNER_HZ, sample_rate)


def rlb_coefficients(sample_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of the BS.1770 stage-2 RLB high-pass at ``sample_rate`` (b is always 1, -2, 1)."""
    sample_rate = check_sample_rate(sample_rate)
    _, a = _biquad((1.0, 0.0, 0.0), (1.0, 1.0 / HIGHPASS_Q, 1.0), HIGHPASS_CORNER_HZ, sample_rate)
    return _Z_MINUS_ONE_SQUARED.copy(), a


def kweighting_sos(sample_rate: float) -> np.ndarray:
    """Both stages as second-order sections, shape (2, 6), for ``scipy.signal.sosfilt``."""
    b1, a1 = prefilter_coefficients(sample_rate)
    b2, a2 = rlb_coefficients(sample_rate)
    return np.array([np.concatenate([b1, a1]), np.concatenate([b2, a2])])


def kweighting_response_db(sample_rate: float, frequencies_hz) -> np.ndarray:
    """Gain in dB of the K-weighting filter at ``frequencies_hz`` (-inf at 0 Hz: it is a high-pass)."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(kweighting_power_gain(sample_rate, frequencies_hz))


def kweighting_power_gain(sample_rate: float, frequencies_hz) -> np.ndarray:
    """|H(f)|^2 of the K-weighting filter at ``frequencies_hz`` (0 at 0 Hz)."""
    _, response = scipy.signal.sosfreqz(
        kweighting_sos(sample_rate), worN=np.asarray(frequencies_hz, dtype=float), fs=float(sample_rate)
    )
    return np.abs(response) ** 2


class KWeightingFilter:
    """K-weights blocks of a multichannel stream; the filter state carries over between blocks.

    Output is float64 whatever the input, because loudness sums many small squares.
    """

    def __init__(self, sample_rate: float, channels: int):
        self.sample_rate = check_sample_rate(sample_rate)
        self.channels = int(channels)
        self._sos = kweighting_sos(self.sample_rate)
        self._state = np.zeros((self._sos.shape[0], self.channels, 2))

    def process(self, block: np.ndarray) -> np.ndarray:
        """K-weighted copy of ``block`` (shape (channels, n))."""
        if block.shape[-1] == 0:
            return np.zeros(block.shape, dtype=np.float64)
        # sosfilt converts float32 to float64 itself, in the one copy it makes anyway.
        filtered, self._state = scipy.signal.sosfilt(self._sos, block, axis=-1, zi=self._state)
        return filtered

    def reset(self) -> None:
        self._state[:] = 0.0
