"""bench/demo_takes.py: the judge's verdicts on the demo project's takes (run by hand on the corpus;
this checks its excerpt, its counting and its set-up on a tiny model and a three-category index)."""


import numpy as np
import pytest

from foleystudio.audio.wav import write_wav
from foleystudio.demo_project import DEMO_REFERENCE_LIKENESS
from foleystudio.training.index import Clip, Index
from tests._bench import load_bench

RATE = 44100


def _bench():
    return load_bench("demo_takes")


def test_the_judged_excerpt_starts_just_before_the_loudest_moment_and_stays_inside_the_take():
    bench = _bench()
    take = np.zeros((2, 10 * RATE), np.float32)
    take[:, 3 * RATE : 3 * RATE + 100] = 0.5
    excerpt = bench.judged_excerpt(take, seconds=4.0, lead_s=0.1)
    assert excerpt.shape == (2, 4 * RATE)
    assert np.flatnonzero(excerpt[0])[0] == int(0.1 * RATE)  # the click, 0.1 s in
    late = np.zeros_like(take)
    late[:, -200:] = 0.5
    assert np.flatnonzero(bench.judged_excerpt(late, seconds=4.0)[0])[0] == 4 * RATE - 200  # the last 4 s
    short = take[:, : 2 * RATE]
    assert bench.judged_excerpt(short, seconds=4.0) is short


class _Judge:
    """Fixed probabilities per take, in the order the takes come."""

    categories = ("doors/mechanisms", "footsteps", "wind/weather")

    def __init__(self, rows):
        self.rows = np.asarray(rows, dtype=np.float32)

    def features(self, audios):
        return np.zeros((len(audios), 1))

    def probabilities(self, features):
        return self.rows[: len(features)]


def test_verdicts_count_hits_ranks_and_probabilities():
    bench = _bench()
    judge = _Judge([[0.2, 0.7, 0.1], [0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    takes = [np.zeros((2, RATE), np.float32)] * 3
    result = bench.verdicts(judge, takes, "footsteps")
    assert result["hit_rate"] == pytest.approx(1 / 3)
    assert result["mean_rank"] == pytest.approx((1 + 2 + 2) / 3)
    assert result["mean_probability"] == pytest.approx(0.4)
    assert result["verdicts"] == {"footsteps": 1, "doors/mechanisms": 1, "wind/weather": 1}
    unknown = bench.verdicts(judge, takes, "animals")
    assert unknown["hit_rate"] is None and "not trained" in unknown["note"]
    assert bench.verdicts(judge, [], "footsteps") == {"takes": 0}


def _clip(number: int, path: str, category: str, split: str) -> Clip:
    return Clip(id=str(number), path=path, caption=f"{category} sound", caption_source="words", category=category,
                duration_s=1.0, channels=2, sample_rate=RATE, licence="", credit="", source=path, split=split,
                size=0, mtime=0.0)


def _three_category_clips(bench, folder):
    """Two training clips and one held-out clip of each demo layer's category, written in ``folder``."""
    rng = np.random.default_rng(0)
    clips = []
    for number, (category, split) in enumerate([(c, s) for c in bench.LAYER_CATEGORIES.values()
                                                for s in ("train", "train", "val")]):
        name = f"clip{number}.wav"
        spectrum_tilt = np.cumsum(rng.standard_normal((2, RATE)), axis=1) if category == "wind/weather" else 0.0
        write_wav(folder / name, (0.05 * rng.standard_normal((2, RATE)) + 0.001 * spectrum_tilt).astype(np.float32),
                  RATE, bit_depth=24)
        clips.append(_clip(number, name, category, split))
    return clips


def test_the_bench_judges_the_recordings_of_a_layers_bank_sound_apart(tmp_path, monkeypatch):
    bench = _bench()
    monkeypatch.setattr(bench, "_bank_references", lambda engine, requests: {"Wind": "wind/weather sound"})
    report = bench.run(Index(tmp_path, _three_category_clips(bench, tmp_path), []), "preset:tiny", seeds=1,
                       train_limit=None, device="cpu")
    assert report["judge"]["left_out_captions"] == ["wind/weather sound"] and report["judge"]["train_clips"] == 4
    assert report["layers"]["Wind"]["bank_recordings"] == {"clips": 2}  # its two training clips, judged apart
    assert report["layers"]["Footsteps"]["bank_recordings"] == {"clips": 0}


def test_the_bench_judges_every_demo_layer_in_each_kind(tmp_path, monkeypatch):
    bench = _bench()
    asked = []
    requests = bench.demo_requests

    def recorded(project, model, device, seed, other, likeness=None):
        asked.append(seed)
        return requests(project, model, device, seed, other, likeness)

    monkeypatch.setattr(bench, "demo_requests", recorded)
    clips = _three_category_clips(bench, tmp_path)
    report = bench.run(Index(tmp_path, clips, []), "preset:tiny", seeds=1, train_limit=None, device="cpu",
                       first_seed=7)
    assert set(asked) == {7} and report["first_seed"] == 7  # another first seed: other takes, same judge
    assert report["judge"]["categories"] == 3 and report["judge"]["train_clips"] == 6
    assert set(report["layers"]) == set(bench.LAYER_CATEGORIES)
    for name, layer in report["layers"].items():
        assert layer["category"] == bench.LAYER_CATEGORIES[name]
        for kind in ("generated", "generated_other_prompts", "synthesised"):
            assert 0.0 <= layer[kind]["hit_rate"] <= 1.0 and 1 <= layer[kind]["mean_rank"] <= 3
        assert layer["generated"]["takes"] == 1 and layer["real_held_out"]["clips"] == 1
        assert 1 <= layer["real_held_out"]["mean_rank"] <= 3
        assert layer["bank_recordings"] == {"clips": 0}  # no bank, no recordings
        assert 0.0 <= layer["generated"]["onset_f1"] <= 1.0
        assert layer["generated"]["reference_distance_db"] is None  # the tiny preset has no bank
        assert layer["bank_reference"] is None and layer["reference_likeness"] == DEMO_REFERENCE_LIKENESS
    assert report["judge"]["left_out_captions"] == []


def test_the_judge_never_learns_the_demos_bank_references(tmp_path):
    bench = _bench()
    clips = [_clip(0, "a.wav", "footsteps", "train"), _clip(1, "b.wav", "wind/weather", "train"),
             _clip(2, "c.wav", "footsteps", "val")]
    kept = bench._without_captions(Index(tmp_path, clips, []), {"footsteps sound"})
    assert [clip.id for clip in kept.clips] == ["1"] and kept.library_root == tmp_path
    assert bench._without_captions(Index(tmp_path, clips, []), set()).clips == clips


def test_closeness_measures_onsets_against_the_synthesised_sound():
    bench = _bench()

    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import TINY

    no_bank = build_engine(TINY)
    events = np.zeros((2, 2 * RATE), np.float32)
    for start in (0.3, 1.1):
        events[:, int(start * RATE): int(start * RATE) + 2000] = 0.5
    late = np.roll(events, int(0.3 * RATE), axis=1)
    assert bench._closeness(no_bank, None, [events], events)["onset_f1"] == 1.0
    result = bench._closeness(no_bank, None, [events, late], events)
    assert result["onset_f1"] == 0.5 and result["reference_distance_db"] is None


def _steps(colours) -> np.ndarray:
    """Half-second steps of noise, each a burst of 0.2 s, coloured by a one-pole filter (-1..1)."""
    rng = np.random.default_rng(3)
    audio = np.zeros((2, len(colours) * RATE // 2 + RATE // 2), np.float32)
    for number, colour in enumerate(colours):
        burst = rng.standard_normal(RATE // 5)
        for i in range(1, len(burst)):
            burst[i] += colour * burst[i - 1]
        start = RATE // 4 + number * RATE // 2
        audio[:, start:start + len(burst)] = 0.1 * burst / np.abs(burst).max()
    return audio


def test_event_variety_tells_one_step_copied_from_steps_that_differ():
    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import TINY

    bench = _bench()
    engine = build_engine(TINY)
    same = bench.event_variety_db(engine, _steps([0.9] * 6))
    varied = bench.event_variety_db(engine, _steps([0.9, -0.9] * 3))
    assert same is not None and varied is not None
    assert varied > same + 3.0
    assert bench.event_variety_db(engine, _steps([0.9])) is None  # one event: nothing to compare


def test_repeat_correlation_hears_a_plain_loop_and_not_noise():
    import torch

    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import TINY
    from foleystudio.engine.reference_layout import loop

    bench = _bench()
    engine = build_engine(TINY)
    generator = torch.Generator().manual_seed(0)
    reference = torch.randn(engine.codec.latent_channels, 40, generator=generator)
    fade = round(0.25 * engine.generator.latent_rate)
    looped = loop(reference, 200, fade)
    assert bench.repeat_correlation(engine, looped, 40) > 0.8
    noise = torch.randn(engine.codec.latent_channels, 200, generator=generator)
    assert abs(bench.repeat_correlation(engine, noise, 40)) < 0.2
    assert bench.repeat_correlation(engine, looped[:, :20], 40) == 0.0  # too short to tell
