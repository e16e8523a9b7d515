"""Onset detection, onset F1 and AV-Align on constructed cases with known answers."""

import numpy as np
import pytest

from foleystudio.training.onsets import av_align, detect_onsets, motion_energy_peaks, onset_f1, pick_peaks

RATE = 44100


def bursts(times, seconds=2.0, seed=0):
    rng = np.random.default_rng(seed)
    audio = np.zeros((2, int(seconds * RATE)), np.float32)
    for t in times:
        start, length = int(t * RATE), int(0.12 * RATE)
        audio[:, start:start + length] += 0.3 * rng.standard_normal(length) * np.exp(-np.arange(length) / (0.03 * RATE))
    return audio


def test_detects_noise_bursts_at_their_times():
    truth = [0.25, 0.7, 1.2, 1.65]
    found = detect_onsets(bursts(truth))
    assert len(found) == len(truth)
    assert np.max(np.abs(found - truth)) < 0.02


def test_steady_noise_and_silence_have_no_onsets():
    rng = np.random.default_rng(1)
    steady = np.concatenate([np.zeros((2, RATE // 10)), 0.1 * rng.standard_normal((2, RATE))], axis=1)
    assert len(detect_onsets(np.zeros((2, RATE), np.float32))) == 0
    assert len(detect_onsets(steady)) == 1  # only where it starts


def test_onset_f1_identical_is_one_and_shifted_is_lower():
    train = np.array([0.2, 0.6, 1.0, 1.4])
    assert onset_f1(train, train, 0.05).f1 == 1.0
    shifted = onset_f1(train + 0.1, train, 0.05)
    assert shifted.f1 == 0.0 and shifted.matched == 0
    half = onset_f1(np.array([0.2, 0.6, 1.1, 1.5]), train, 0.05)
    assert half.f1 == pytest.approx(0.5)


def test_matching_is_one_to_one():
    scores = onset_f1([0.50, 0.51, 0.52], [0.5], 0.05)
    assert scores.matched == 1 and scores.precision == pytest.approx(1 / 3) and scores.recall == 1.0


def test_av_align_aligned_is_one_and_shifted_is_lower():
    fps = 8.0
    audio = np.array([0.25, 1.0, 1.75])
    assert av_align(audio, audio + 0.05, fps) == 1.0  # within one frame
    assert av_align(audio, audio + 0.5, fps) == 0.0  # four frames late
    partial = av_align(audio, np.array([0.25, 1.5]), fps)
    assert partial == pytest.approx(1 / (3 + 2 - 1))
    assert av_align([], [], fps) == 1.0 and av_align([0.1], [], fps) == 0.0


def test_peak_picking_respects_threshold_and_gap():
    signal = np.array([0, 1, 0, 0.2, 0, 3, 2.9, 0, 0.5, 0])
    assert list(pick_peaks(signal, threshold=0.4)) == [1, 5, 8]
    assert list(pick_peaks(signal, threshold=0.4, min_gap=5)) == [5]
    assert list(motion_energy_peaks(signal / 3, 10.0)) == pytest.approx([0.1, 0.5])
