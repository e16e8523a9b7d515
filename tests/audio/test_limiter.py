"""True-peak limiter: the ceiling holds on our own meter, quiet audio is untouched, the gain is
linked, looks ahead, is smooth, and stays exactly 1 away from the overs."""

import numpy as np
import pytest

from foleystudio.audio.limiter import DEFAULT_LOOKAHEAD_MS, limit_true_peak
from foleystudio.audio.truepeak import true_peak_dbtp
from foleystudio.errors import UserInputError

RATE = 44100


def sine(frequency, seconds=1.0, amplitude=1.0, phase=0.0, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t + phase)).astype(np.float32)


def stereo(left, right=None):
    return np.stack([left, left if right is None else right]).astype(np.float32)


def loud_signals():
    rng = np.random.default_rng(7)
    clicks = np.zeros(RATE, np.float32)
    clicks[::2205] = 1.6
    clicks[1::2205] = -1.4
    square = np.sign(sine(441.0, amplitude=1.0)).astype(np.float32) * 1.2
    onset = sine(1000.0, 0.5, amplitude=2.0)  # loud from the very first sample
    ending = np.concatenate([np.zeros(RATE // 2, np.float32), sine(3000.0, 0.2, amplitude=1.5)])
    return {
        "sine +6 dBFS": stereo(sine(997.0, amplitude=2.0), sine(997.0, amplitude=0.5)),
        # fs/4 at 45 degrees: samples at 0.707 of the true peak, so only the overs between samples exceed.
        "inter-sample overs": stereo(sine(RATE / 4, amplitude=1.0, phase=np.pi / 4)),
        "noise": stereo(*(0.35 * rng.standard_normal((2, RATE))).astype(np.float32)),
        "clicks": stereo(clicks, -clicks),
        "square": stereo(square),
        "onset at sample 0": stereo(onset),
        "burst at the end": stereo(ending),
    }


@pytest.mark.parametrize("name", sorted(loud_signals()))
@pytest.mark.parametrize("ceiling", [-1.0, -0.1, -6.0])
def test_output_true_peak_is_at_or_below_the_ceiling(name, ceiling):
    audio = loud_signals()[name]
    assert true_peak_dbtp(audio, RATE) > ceiling
    limited, reduction = limit_true_peak(audio, RATE, ceiling_dbtp=ceiling)
    peak = true_peak_dbtp(limited, RATE)
    assert peak <= ceiling
    assert peak > ceiling - 0.5  # limits to the ceiling, not far below it
    assert limited.dtype == np.float32 and limited.shape == audio.shape
    assert reduction.shape == (audio.shape[1],) and reduction.min() >= 0.0
    assert np.all(np.abs(limited) <= np.abs(audio))  # a limiter only ever turns down


@pytest.mark.parametrize("rate", [48000, 96000, 192000])
def test_ceiling_holds_at_other_rates(rate):
    audio = stereo(sine(rate / 4, amplitude=1.0, phase=np.pi / 4, rate=rate, seconds=0.3))
    limited, _ = limit_true_peak(audio, rate)
    assert true_peak_dbtp(limited, rate) <= -1.0


def test_audio_below_the_ceiling_is_returned_bit_exact():
    rng = np.random.default_rng(1)
    audio = (0.05 * rng.standard_normal((2, RATE))).astype(np.float32)
    audio[0, 1000] = 0.85  # -1.4 dBFS, below the -1 dBTP ceiling
    assert true_peak_dbtp(audio, RATE) < -1.0
    limited, reduction = limit_true_peak(audio, RATE)
    assert limited.dtype == np.float32
    assert np.array_equal(limited, audio)
    assert not np.any(reduction)
    assert limited is not audio  # a copy: the caller's array is not shared


def test_gain_is_linked_across_channels():
    left = sine(500.0, amplitude=2.0)
    right = sine(700.0, amplitude=0.1)
    audio = stereo(left, right)
    limited, reduction = limit_true_peak(audio, RATE)
    gain = 10.0 ** (-reduction / 20.0)
    # The quiet right channel is turned down exactly as much as the loud left one.
    np.testing.assert_allclose(limited[1], audio[1] * gain, rtol=2e-6, atol=1e-9)
    np.testing.assert_allclose(limited[0], audio[0] * gain, rtol=2e-6, atol=1e-9)
    assert reduction.max() > 6.0


def test_gain_is_exactly_one_away_from_the_overs_and_looks_ahead():
    quiet = sine(440.0, seconds=3.0, amplitude=0.1)
    burst_start, burst_stop = RATE, RATE + 441
    audio = quiet.copy()
    audio[burst_start:burst_stop] = sine(2000.0, seconds=0.01, amplitude=2.0)
    audio = stereo(audio)
    limited, reduction = limit_true_peak(audio, RATE)
    touched = np.flatnonzero(reduction)
    lookahead = round(DEFAULT_LOOKAHEAD_MS * RATE / 1000)
    # The gain starts going down before the burst (look-ahead), but not much earlier.
    assert burst_start - touched[0] >= lookahead
    assert burst_start - touched[0] <= lookahead + 40
    # Everything before the first touched sample and after the release is bit-identical.
    assert np.array_equal(limited[:, : touched[0]], audio[:, : touched[0]])
    assert np.array_equal(limited[:, touched[-1] + 1 :], audio[:, touched[-1] + 1 :])
    assert touched[-1] < burst_stop + RATE  # the release ends within a second (80 ms x ln(7 / 1e-3))
    # At the burst the reduction is in full: it needs about 20 log10(2 / 0.89) = 7 dB.
    assert reduction[burst_start:burst_stop].min() > 6.0


def test_gain_changes_smoothly():
    audio = stereo(np.concatenate([sine(300.0, 0.5, amplitude=0.2), sine(300.0, 0.5, amplitude=4.0)]))
    _, reduction = limit_true_peak(audio, RATE)
    largest = float(reduction.max())
    lookahead = round(DEFAULT_LOOKAHEAD_MS * RATE / 1000)
    # Attack is spread over the look-ahead by two moving averages of half its length each.
    assert np.abs(np.diff(reduction)).max() <= largest / (lookahead // 2) + 1e-4
    assert largest > 12.0


def test_release_recovers_gradually():
    audio = stereo(np.concatenate([sine(300.0, 0.2, amplitude=4.0), sine(300.0, 1.0, amplitude=0.2)]))
    _, reduction = limit_true_peak(audio, RATE, release_ms=80.0)
    after = reduction[int(0.21 * RATE) :]
    assert np.all(np.diff(after) <= 1e-6)  # never pumps back up once the loud part is over
    # Exponential recovery with an 80 ms time constant: after 160 ms about e^-2 of it is left.
    start = float(after[0])
    assert 0.05 * start < after[int(0.16 * RATE)] < 0.25 * start
    assert after[-1] == 0.0


def test_silence_and_empty_audio():
    silence = np.zeros((2, RATE), np.float32)
    limited, reduction = limit_true_peak(silence, RATE)
    assert np.array_equal(limited, silence) and not np.any(reduction)
    empty, reduction = limit_true_peak(np.zeros((2, 0), np.float32), RATE)
    assert empty.shape == (2, 0) and reduction.shape == (0,)


def test_float64_input_gives_float32_output():
    limited, _ = limit_true_peak(np.stack([np.linspace(-2, 2, 1000)] * 2), RATE)
    assert limited.dtype == np.float32
    assert true_peak_dbtp(limited, RATE) <= -1.0


@pytest.mark.parametrize(
    "audio, kwargs, message",
    [
        (np.full((2, 10), np.nan, np.float32), {}, "NaN"),
        (np.ones((2, 10), np.int16), {}, "floating point"),
        (np.ones(10, np.float32), {}, "shape"),
        (np.ones((2, 10), np.float32), {"ceiling_dbtp": 1.0}, "ceiling"),
        (np.ones((2, 10), np.float32), {"ceiling_dbtp": "loud"}, "ceiling"),
        (np.ones((2, 10), np.float32), {"lookahead_ms": 0.0}, "look-ahead"),
        (np.ones((2, 10), np.float32), {"release_ms": -5.0}, "release"),
        (np.ones((2, 10), np.float32), {"ceiling_dbtp": float("nan")}, "ceiling"),
    ],
)
def test_bad_input_is_a_user_error(audio, kwargs, message):
    with pytest.raises(UserInputError, match=message):
        limit_true_peak(audio, RATE, **kwargs)


def test_bad_sample_rate_is_a_user_error():
    with pytest.raises(UserInputError, match="sample rate"):
        limit_true_peak(np.zeros((2, 10), np.float32), 1000)


def test_ceiling_holds_even_if_the_gain_computation_falls_short(monkeypatch, caplog):
    # Simulate a gain curve that never gets the peaks down: the last resort still keeps the promise.
    import foleystudio.audio.limiter as limiter

    monkeypatch.setattr(limiter, "_reduction_db", lambda required, lookahead, release: np.zeros_like(required))
    audio = stereo(sine(997.0, seconds=0.2, amplitude=2.0))
    with caplog.at_level("WARNING", logger="foleystudio.audio.limiter"):
        limited, reduction = limit_true_peak(audio, RATE)
    assert true_peak_dbtp(limited, RATE) <= -1.0
    assert reduction.min() > 6.0  # a constant cut over the whole take
    assert "cutting the whole take" in caplog.text
