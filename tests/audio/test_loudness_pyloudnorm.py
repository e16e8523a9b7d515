"""Integrated loudness agrees with pyloudnorm (filter_class="DeMan") within 0.01 LU.

Durations are whole multiples of 100 ms: pyloudnorm rounds the number of gating blocks and would
otherwise add a block that runs past the end of the audio.
"""

import numpy as np
import pyloudnorm
import pytest

from foleystudio.audio.loudness import measure

AGREEMENT_LU = 0.01


def pyloudnorm_integrated(samples, rate):
    meter = pyloudnorm.Meter(rate, filter_class="DeMan")
    return meter.integrated_loudness(np.asarray(samples, dtype=np.float64).T)


def assert_agrees(samples, rate):
    ours = measure(samples, rate).integrated_lufs
    reference = pyloudnorm_integrated(samples, rate)
    assert np.isfinite(ours)
    assert ours == pytest.approx(reference, abs=AGREEMENT_LU)
    return ours


@pytest.mark.parametrize("rate", [8000, 44100, 48000, 96000, 192000])
def test_noise_at_several_rates(rate):
    rng = np.random.default_rng(rate)
    noise = (0.05 * rng.standard_normal((2, int(6.0 * rate)))).astype(np.float32)
    assert_agrees(noise, rate)


@pytest.mark.parametrize(
    "rate, frequencies",
    [
        (8000, [100.0, 1000.0, 3000.0]),
        (44100, [50.0, 1000.0, 15000.0]),
        (48000, [40.0, 997.0, 12000.0]),
        (96000, [30.0, 1000.0, 30000.0]),
        (192000, [30.0, 1000.0, 60000.0]),
    ],
)
def test_sines_at_several_rates(rate, frequencies):
    t = np.arange(int(4.0 * rate)) / rate
    for frequency in frequencies:
        tone = 0.3 * np.sin(2 * np.pi * frequency * t)
        stereo = np.stack([tone, 0.5 * tone]).astype(np.float32)
        assert_agrees(stereo, rate)


def footsteps_clip(rate=44100, seconds=30.0, seed=7):
    """Synthetic Foley: decaying filtered-noise impacts at varied levels and pans, digital silence
    between them, a stretch of very quiet room tone (below the -70 LUFS gate) and a loud burst."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    clip = np.zeros((2, total))
    time = 0.5
    while time < seconds - 1.0:
        length = int(rng.uniform(0.03, 0.25) * rate)
        decay = np.exp(-np.arange(length) / (rng.uniform(0.01, 0.06) * rate))
        body = np.convolve(rng.standard_normal(length), np.ones(8) / 8, mode="same") * decay
        level = 10 ** (rng.uniform(-40, -8) / 20)
        pan = rng.uniform(0.0, 1.0)
        start = int(time * rate)
        clip[0, start : start + length] += level * np.sqrt(1 - pan) * body
        clip[1, start : start + length] += level * np.sqrt(pan) * body
        time += rng.uniform(0.2, 1.2) if rng.uniform() < 0.8 else rng.uniform(1.5, 3.0)
    room = slice(int(0.35 * total), int(0.45 * total))
    clip[:, room] = 10 ** (-80 / 20) * rng.standard_normal((2, room.stop - room.start))
    return clip.astype(np.float32)


def test_footsteps_clip_exercises_both_gates():
    clip = footsteps_clip()
    report = measure(clip, 44100)
    block_loudness = report.momentary.values
    assert np.any(block_loudness == -np.inf) or np.any(block_loudness < -70)  # absolute gate
    relative_gate = report.integrated_lufs - 10
    assert np.any((block_loudness > -70) & (block_loudness < relative_gate))  # relative gate
    assert_agrees(clip, 44100)


@pytest.mark.parametrize("rate", [22050, 48000])
def test_footsteps_clip_mono_and_surround(rate):
    clip = footsteps_clip(rate=rate, seconds=12.0, seed=rate)
    assert_agrees(clip[0], rate)  # mono
    five = np.stack([clip[0], clip[1], 0.5 * clip[0], 0.7 * clip[1], 0.3 * clip[0]])
    assert_agrees(five, rate)  # L R C Ls Rs, the 1.41 surround weights
