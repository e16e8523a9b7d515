"""bench/codec.py's model comparison: a model folder's codec against the same latent decoded without
its trained parts (the benchmark is run by hand; this keeps its set-up from breaking silently)."""

import dataclasses

import numpy as np
import torch

from foleystudio.engine.builder import build_engine, save_engine
from foleystudio.engine.config import preset
from tests._bench import load_bench


def _bench_module():
    return load_bench("codec")


def test_a_refined_model_is_scored_with_and_without_its_refiner_and_finish(tmp_path):
    config = preset("tiny")
    codec = dataclasses.replace(config.codec, refiner_width=8, griffin_lim_projection="bins",
                                griffin_lim_keep_loudness=True, refiner_smoothing=0.125)
    engine = build_engine(dataclasses.replace(config, codec=codec))
    folder = save_engine(engine, tmp_path / "refined", "a tiny refined test model")
    bench = _bench_module()
    codecs = bench.model_codecs(folder)
    name = config.name
    assert set(codecs) == {f"{name}_model", f"{name}_without_refiner", f"{name}_spread_keeping_loudness"}
    without = codecs[f"{name}_without_refiner"].config
    assert (without.refiner_width, without.griffin_lim_projection, without.griffin_lim_keep_loudness) == (
        0, "bands", False)
    spread = codecs[f"{name}_spread_keeping_loudness"].config
    assert (spread.refiner_width, spread.griffin_lim_keep_loudness) == (0, True)
    assert without.refiner_smoothing == spread.refiner_smoothing == 0.0  # nothing left to smooth
    # All three decode the same latent; the scores are finite numbers.
    t = np.arange(int(0.5 * 44100)) / 44100
    wave = (0.1 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    clips = {"tone": np.stack([wave, 0.5 * wave])}
    for scored in codecs.values():
        scores = bench.score(scored, clips)
        assert "spurious_tone_db" in scores and all(np.isfinite(value) for value in scores.values())
    assert torch.is_grad_enabled()  # scoring runs under no_grad and leaves the global mode as it was


def test_a_model_without_the_loudness_finish_is_not_scored_with_it(tmp_path):
    config = preset("tiny")
    codec = dataclasses.replace(config.codec, refiner_width=8, griffin_lim_projection="bins")
    (tmp_path / "run").mkdir()
    folder = save_engine(build_engine(dataclasses.replace(config, codec=codec)), tmp_path / "run" / "model", "test")
    bench = _bench_module()
    assert set(bench.model_codecs(folder)) == {f"{config.name}_model", f"{config.name}_without_refiner"}
    # Models compared in one run are named by their folders: a run's exported model by the run.
    assert set(bench.model_codecs(folder, bench._folder_label(folder))) == {"run_model", "run_without_refiner"}
    assert bench._folder_label(tmp_path / "foley-small") == "foley-small"
    assert set(bench.model_codecs(folder, variants=False)) == {f"{config.name}_model"}  # --models-only


def test_a_phase_decoded_model_is_also_scored_with_griffin_lims_phase_and_its_own_refiner(tmp_path):
    config = preset("tiny")
    codec = dataclasses.replace(config.codec, refiner_width=8, griffin_lim_projection="bins",
                                griffin_lim_keep_loudness=True, phase_decoder_width=8, griffin_lim_iterations=0)
    engine = build_engine(dataclasses.replace(config, codec=codec))
    with torch.no_grad():
        engine.codec.refiner.head.weight.normal_()  # a trained-looking refiner, not the zero head
    folder = save_engine(engine, tmp_path / "phased", "a tiny phase-decoded test model")
    codecs = _bench_module().model_codecs(folder)
    name = config.name
    assert set(codecs) == {f"{name}_model", f"{name}_griffin_lim_phase", f"{name}_without_refiner",
                           f"{name}_spread_keeping_loudness"}
    griffin = codecs[f"{name}_griffin_lim_phase"]
    assert griffin.phase_decoder is None and griffin.config.griffin_lim_iterations == 16
    assert torch.equal(griffin.refiner.head.weight, engine.codec.refiner.head.weight)
    assert all(c.config.phase_decoder_width == 0 for key, c in codecs.items() if key != f"{name}_model")
