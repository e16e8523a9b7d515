"""The analytic codec's refiner: a trained within-band shape that keeps band powers, chunking and the
old behaviour of folders without one."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from foleystudio.engine.codec import SMALL_ANALYTIC_CODEC, TINY_ANALYTIC_CODEC, AnalyticCodec, AnalyticCodecConfig
from foleystudio.engine.codec.refiner import (
    MagnitudeRefiner,
    _tridiagonal_solve,
    correction_smoothing,
    shaped_bin_power,
)
from foleystudio.engine.codec.spectral import partition_mel_filterbank
from foleystudio.engine.config_io import config_from_dict
from foleystudio.errors import UserInputError
from tests.engine.test_griffinlim import chunked_decode_error

RATE = 44100
REFINED = dataclasses.replace(TINY_ANALYTIC_CODEC, refiner_width=16)


def _randomised(codec: AnalyticCodec, seed: int = 0) -> AnalyticCodec:
    """The codec with a refiner whose head is not zero, so that it really reshapes the bins."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in codec.refiner.parameters():
            parameter.copy_(0.3 * torch.randn(parameter.shape, generator=generator))
    return codec.eval()


def _harmonic_noise(seconds: float = 2.0, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * RATE)) / RATE
    tone = sum(0.1 / k * torch.sin(2 * math.pi * 180 * k * t) for k in range(1, 12))
    wave = tone + 0.01 * torch.randn(t.shape, generator=generator)
    return torch.stack([wave, 0.8 * wave])[None].float()


def _filterbank():
    filterbank = partition_mel_filterbank(2048, 32, RATE)
    return filterbank, filterbank.sum(dim=0)


def test_shaped_bins_meet_every_band_mean_exactly_where_positive_gains_can():
    filterbank, widths = _filterbank()
    generator = torch.Generator().manual_seed(3)
    shape = 10.0 ** (torch.randn(2, 7, filterbank.shape[0], generator=generator) * 0.3)  # any positive spectrum
    gains = 10.0 ** (torch.rand(2, 7, 32, generator=generator) - 0.5)  # +-5 dB per band
    band_power = ((shape * (gains @ filterbank.T)) @ filterbank) / widths  # reachable by construction
    correction = 10 * torch.log10(shape / (band_power @ filterbank.T))
    shaped = shaped_bin_power(band_power, correction, filterbank, widths)
    measured = shaped @ filterbank / widths
    assert (10 * torch.log10(measured / band_power)).abs().max().item() < 1e-3
    assert torch.allclose(shaped, shape * (gains @ filterbank.T), rtol=1e-3)


def test_shaped_bins_come_close_to_the_band_means_for_smooth_shapes_and_keep_the_shape():
    filterbank, widths = _filterbank()
    generator = torch.Generator().manual_seed(3)
    band_power = 1e-3 * 10.0 ** (torch.cumsum(torch.randn(2, 7, 32, generator=generator) * 3, -1) / 10)
    ripple = 6.0 * torch.sin(2 * math.pi * torch.arange(filterbank.shape[0]) / 37.0)
    correction = ripple + torch.randn(2, 7, filterbank.shape[0], generator=generator)
    shaped = shaped_bin_power(band_power, correction, filterbank, widths)
    error_db = (10 * torch.log10((shaped @ filterbank / widths) / band_power)).abs()
    assert error_db.mean().item() < 0.1 and error_db.max().item() < 1.5  # measured 0.034 / 0.88
    # ... and the shape is the correction's, not the triangles' even spread.
    assert (10 * torch.log10(shaped / (band_power @ filterbank.T))).std().item() > 3.0


def test_the_tridiagonal_solve_agrees_with_a_dense_one():
    generator = torch.Generator().manual_seed(0)
    lower, upper = torch.rand(5, 9, generator=generator), torch.rand(5, 9, generator=generator)
    diagonal = 2.5 + torch.rand(5, 10, generator=generator)
    right = torch.randn(5, 10, generator=generator)
    dense = torch.diag_embed(diagonal) + torch.diag_embed(upper, 1) + torch.diag_embed(lower, -1)
    expected = torch.linalg.solve(dense.double(), right.double().unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(_tridiagonal_solve(lower, diagonal, upper, right).double(), expected, atol=1e-5)


def test_an_untrained_refiner_decodes_as_the_plain_spread_up_to_band_matching():
    plain = AnalyticCodec(TINY_ANALYTIC_CODEC)
    refined = AnalyticCodec(REFINED).eval()
    wave = _harmonic_noise()
    latent = plain.encode(wave)
    assert torch.equal(refined.encode(wave), latent)  # the encoder (hence the latent) is unchanged
    band_power = plain.band_power(plain.padded(wave))
    zero_head = refined.bin_power(band_power)
    spread = plain.bin_power(band_power)
    # The head starts at zero: the only change is that band means are matched exactly.
    assert (10 * torch.log10(zero_head / spread)).abs().mean().item() < 1.0
    assert torch.allclose(zero_head.sum(dim=-1), spread.sum(dim=-1), rtol=1e-3)


def test_a_refined_decode_keeps_the_loudness_the_latent_says():
    codec = _randomised(AnalyticCodec(REFINED))
    latent = codec.encode(_harmonic_noise())
    with torch.no_grad():
        decoded = codec.decode(latent)
        error_db = (codec.encode(decoded) - latent)[..., 2:-2] * REFINED.scale_db
    reread = codec.latent_loudness_lufs(codec.encode(decoded))[..., 2:-2]
    assert error_db.mean().abs().item() < 0.5
    assert (reread - codec.latent_loudness_lufs(latent)[..., 2:-2]).abs().mean().item() < 0.5


def test_a_chunked_refined_decode_equals_the_whole_one():
    codec = _randomised(AnalyticCodec(REFINED))
    assert codec.chunking.decode_context > REFINED.decode_context  # the refiner's reach is added
    assert chunked_decode_error(codec, codec.encode(_harmonic_noise(4.0))) < 1e-4


def test_refiner_settings_are_checked_and_old_folders_have_none():
    with pytest.raises(UserInputError, match="refiner_width"):
        AnalyticCodecConfig(refiner_width=-1)
    with pytest.raises(UserInputError, match="bins"):
        AnalyticCodecConfig(refiner_width=8, griffin_lim_projection="bands")
    with pytest.raises(ValueError, match="positive"):
        MagnitudeRefiner(0, 10, 4)
    old = {k: v for k, v in dataclasses.asdict(SMALL_ANALYTIC_CODEC).items() if k != "refiner_width"}
    config = config_from_dict(AnalyticCodecConfig, old)
    assert config.refiner_width == 0
    assert AnalyticCodec(config).refiner is None and not list(AnalyticCodec(config).parameters())


def test_the_refiner_output_is_bounded():
    refiner = MagnitudeRefiner(4, 9, 8)
    with torch.no_grad():
        refiner.head.bias.fill_(1e6)
    assert refiner(torch.zeros(1, 4, 5)).abs().max().item() <= 40.0 + 1e-3


# ---- the correction smoothed along frequency ---------------------------------------------------------------


def test_the_smoothing_averages_over_part_of_each_band_keeps_slopes_and_leaves_narrow_bands_alone():
    filterbank, _ = _filterbank()
    smoothing = correction_smoothing(filterbank, 0.25)
    assert smoothing.shape == (1025, 1025) and torch.allclose(smoothing.sum(dim=1), torch.ones(1025))
    diagonal = smoothing.diagonal()
    assert diagonal[:3].min().item() > 0.7 and diagonal[800].item() < 0.1  # narrow bands barely, wide ones much
    bins = torch.arange(1025, dtype=torch.float32)
    slope = 0.01 * bins  # a tilt: a symmetric window keeps it away from the ends
    assert (smoothing @ slope - slope)[50:-50].abs().max().item() < 1e-3
    line = torch.zeros(1025)
    line[800] = 20.0  # a one-bin line 20 dB up, where the bands are ~200 bins wide
    smoothed = smoothing @ line
    assert smoothed.max().item() < 1.0 and smoothed.sum().item() == pytest.approx(20.0, rel=0.05)
    assert torch.equal(correction_smoothing(filterbank, 0.0), torch.eye(1025))
    with pytest.raises(ValueError, match=">= 0"):
        correction_smoothing(filterbank, -0.5)


def test_a_refiner_that_rings_decodes_noise_without_lines_once_smoothed():
    from foleystudio.engine.codec.metrics import tonal_excess_db

    config = dataclasses.replace(SMALL_ANALYTIC_CODEC, refiner_width=8, griffin_lim_projection="bins",
                                 griffin_lim_iterations=4)
    noise = 0.05 * torch.randn(1, 2, 2 * RATE, generator=torch.Generator().manual_seed(0))
    excess = {}
    for smoothing in (0.0, 0.125):
        codec = AnalyticCodec(dataclasses.replace(config, refiner_smoothing=smoothing)).eval()
        with torch.no_grad():
            codec.refiner.head.bias[[400, 560, 750, 930]] = 20.0  # foley-small's fault: lines at fixed bins
            decoded = codec.decode(codec.encode(noise))[0, :, : noise.shape[-1]]
        excess[smoothing] = tonal_excess_db(decoded.numpy())
    assert excess[0.0] > 8.0 and excess[0.125] < 5.0  # measured 18.1 and 3.7 dB (white noise itself: 2)


def test_refiner_smoothing_is_checked_and_old_folders_have_none():
    for bad in (-0.1, 4.5, float("nan"), True, "0.5"):
        with pytest.raises(UserInputError, match="refiner_smoothing"):
            AnalyticCodecConfig(refiner_width=8, refiner_smoothing=bad)
    with pytest.raises(UserInputError, match="no refiner"):
        AnalyticCodecConfig(refiner_smoothing=0.25)
    old = {k: v for k, v in dataclasses.asdict(REFINED).items() if k != "refiner_smoothing"}
    codec = AnalyticCodec(config_from_dict(AnalyticCodecConfig, old))
    assert codec.config.refiner_smoothing == 0.0 and codec.correction_smoothing is None
    # Smoothing is along frequency only: a chunk needs no more context, and equals the whole decode.
    smoothed = _randomised(AnalyticCodec(dataclasses.replace(REFINED, refiner_smoothing=0.5)))
    assert smoothed.chunking == codec.chunking
    assert chunked_decode_error(smoothed, smoothed.encode(_harmonic_noise(4.0))) < 1e-4
    assert not any("smoothing" in key for key in smoothed.state_dict())  # derived, never saved
