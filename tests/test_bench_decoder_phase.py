"""bench/decoder_phase.py: the phase-gradient heap integration and the decoder variants it scores
(the benchmark is run by hand; these keep its parts honest)."""

import dataclasses

import numpy as np
import torch

from foleystudio.engine.codec import TINY_ANALYTIC_CODEC, AnalyticCodec
from foleystudio.engine.codec.spectral import StftFraming
from tests._bench import load_bench

RATE = 44100


def _bench_module():
    return load_bench("decoder_phase")


def _inconsistency(framing: StftFraming, magnitude: torch.Tensor, phase: np.ndarray) -> float:
    """Relative distance between a magnitude and that of the wave synthesised from it with ``phase``."""
    spectrum = magnitude * torch.polar(torch.ones(()), torch.from_numpy(phase).float())
    again = framing.analyse(framing.synthesise(spectrum[None, None]))[0, 0].abs()
    return float(torch.linalg.vector_norm(again - magnitude) / torch.linalg.vector_norm(magnitude))


def test_heap_integration_gives_a_consistent_phase_for_clicks_and_a_tone():
    framing = StftFraming(1024, 256)
    samples = 64 * 256
    t = np.arange(samples) / RATE
    wave = 0.1 * np.sin(2 * np.pi * 1000.0 * t)
    wave[4000] += 1.0
    wave[11000] -= 0.7
    magnitude = framing.analyse(torch.from_numpy(wave.astype(np.float32))[None, None])[0, 0].abs()
    bench = _bench_module()
    integrated = _inconsistency(framing, magnitude, bench.pghi_phase(magnitude.numpy(), 256, 1024))
    random = _inconsistency(framing, magnitude, np.random.default_rng(0).uniform(0, 2 * np.pi, magnitude.shape))
    # Without a single Griffin-Lim iteration the integrated phase is nearly consistent (0.04; with
    # the frequency step's sign flipped 0.08, without its -pi 0.75); a random one is not (0.63).
    assert integrated < 0.06
    assert random > 0.5


def test_the_shipped_variant_is_the_decoder_and_every_variant_scores():
    codec = AnalyticCodec(dataclasses.replace(TINY_ANALYTIC_CODEC, refiner_width=4)).eval()
    rng = np.random.default_rng(1)
    audio = (0.05 * rng.standard_normal((2, RATE // 2))).astype(np.float32)
    bench = _bench_module()
    with torch.no_grad():
        variants, seconds = bench.decodes(codec, audio)
        latent = codec.encode(torch.from_numpy(audio)[None])
        magnitude = codec.decoded_magnitude(latent)
        restarted = codec.retrieve_phase(magnitude, codec.starting_phase(0, magnitude.shape[-1]))
    assert set(variants) == {"shipped", "pghi", "true_phase", "true_phase_no_iterations", "real_magnitude"}
    torch.testing.assert_close(variants["shipped"], restarted)  # decode is retrieve_phase from the table
    assert seconds >= 0.0
    result = bench.score(codec, {"noise": audio})
    assert set(result["decoders"]) == set(variants)
    assert all(np.isfinite(value) for scores in result["decoders"].values() for value in scores.values())


def test_a_phase_decoded_codec_is_also_scored_with_the_griffin_lim_it_replaced():
    config = dataclasses.replace(TINY_ANALYTIC_CODEC, refiner_width=4, griffin_lim_keep_loudness=True,
                                 phase_decoder_width=4, griffin_lim_iterations=0)
    codec = AnalyticCodec(config).eval()
    audio = (0.05 * np.random.default_rng(2).standard_normal((2, RATE // 2))).astype(np.float32)
    bench = _bench_module()
    assert config.with_griffin_lim_phase().griffin_lim_iterations == 16  # the default config's, not the decoder's none
    assert TINY_ANALYTIC_CODEC.with_griffin_lim_phase() is TINY_ANALYTIC_CODEC  # no phase decoder: as it is
    with torch.no_grad():
        variants, _ = bench.decodes(codec, audio)
        magnitude = codec.decoded_magnitude(codec.encode(torch.from_numpy(audio)[None]))
        table = codec.retrieve_phase(magnitude, codec.starting_phase(0, magnitude.shape[-1]), 16)
    assert {"griffin_lim", "phase_decoder_then_griffin_lim"} <= set(variants)
    torch.testing.assert_close(variants["griffin_lim"], table)
    assert (variants["shipped"] - variants["griffin_lim"]).abs().max() > 1e-3
