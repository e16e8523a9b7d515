"""Reconstruction measures: zero for identical audio, the right size for known degradations."""

import math

import numpy as np
import pytest
import torch

from foleystudio.engine.codec.metrics import (
    log_mel_l1_db,
    loudness_curve_error_lu,
    mr_stft_distance,
    reconstruction_scores,
)
from foleystudio.errors import UserInputError

RATE = 44100


def noise(seed: int, seconds: float = 1.5, scale: float = 0.1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return scale * torch.randn(2, int(seconds * RATE), generator=generator)


def test_identical_audio_scores_zero_and_a_longer_estimate_is_trimmed():
    reference = noise(0)
    padded = torch.nn.functional.pad(reference, (0, 1000), value=0.5)
    scores = reconstruction_scores(reference, padded, RATE)
    assert scores.mr_stft == pytest.approx(0.0, abs=1e-6)
    assert scores.log_mel_l1_db == pytest.approx(0.0, abs=1e-6)
    assert scores.loudness_error_lu == pytest.approx(0.0, abs=1e-9)


def test_a_6_db_level_error_reads_6_lu_and_6_db():
    reference = noise(1)
    half = 0.5 * reference  # -6.02 dB
    assert loudness_curve_error_lu(reference.numpy(), half.numpy(), RATE) == pytest.approx(6.02, abs=0.02)
    assert log_mel_l1_db(reference, half).item() == pytest.approx(6.02, abs=0.02)
    # log-magnitude part: ln 2 = 0.69; spectral convergence part 0.5
    assert mr_stft_distance(reference, half).item() == pytest.approx(0.5 + math.log(2.0), abs=0.01)


def test_the_stft_distance_grows_with_the_damage():
    reference = noise(2)
    slightly = reference + 0.1 * noise(3)
    unrelated = noise(4)
    small, large = mr_stft_distance(reference, slightly).item(), mr_stft_distance(reference, unrelated).item()
    assert 0.0 < small < 0.5 < large


def test_the_stft_distance_is_differentiable():
    reference = noise(5, seconds=0.2)
    estimate = (0.8 * reference).requires_grad_()
    mr_stft_distance(reference, estimate).backward()
    assert torch.isfinite(estimate.grad).all() and estimate.grad.abs().sum() > 0


def test_loudness_error_counts_only_frames_above_minus_60_lufs():
    reference = noise(6, seconds=2.0).numpy()
    reference[:, : RATE] = 0.0  # first second silent: its frames are not scored
    estimate = reference.copy()
    estimate[:, : RATE] = noise(7, seconds=1.0).numpy()  # loud where the reference is silent
    # (the K-weighting filter carries a trace of the loud part into the next frame: 6e-5 LU)
    assert loudness_curve_error_lu(reference, estimate, RATE) == pytest.approx(0.0, abs=1e-3)
    silent = np.zeros((2, RATE), np.float32)
    assert math.isnan(loudness_curve_error_lu(silent, silent, RATE))


def test_an_estimate_shorter_than_the_reference_is_refused():
    reference = noise(8)
    with pytest.raises(UserInputError, match="does not cover"):
        mr_stft_distance(reference, reference[..., :-1])
    with pytest.raises(UserInputError, match="does not cover"):
        loudness_curve_error_lu(reference.numpy(), reference[..., :-1].numpy(), RATE)


def test_a_whistle_added_to_noise_is_a_spurious_tone_and_removing_one_is_not():
    from foleystudio.engine.codec.metrics import LINE_COUNT, spurious_tone_db, tonal_excess_db

    rng = np.random.default_rng(0)
    noise = 0.05 * rng.standard_normal((2, 3 * 44100))
    t = np.arange(noise.shape[1]) / 44100
    whistles = noise + sum(0.01 * np.sin(2 * np.pi * f * t) for f in (6869.0, 9001.0, 13824.0))
    assert tonal_excess_db(noise) < 3.5  # noise's own largest wiggles: measured 2.2 dB
    # Three lines about 40 dB over their bins' noise: the mean of the ten largest excesses rises by
    # about 3 x 40 / LINE_COUNT.
    added = spurious_tone_db(noise, whistles)
    assert 3 * 30 / LINE_COUNT < added < 3 * 50 / LINE_COUNT
    assert spurious_tone_db(whistles, noise) == 0.0
    assert np.isnan(tonal_excess_db(np.zeros((2, 44100)))) and np.isnan(tonal_excess_db(noise[:, :4000]))
