"""Evaluation metrics on constructed cases with known answers, and a smoke run of evaluate_model."""

import json
import math

import numpy as np
import pytest
import torch

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.wav import write_wav
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.training.evaluate import (
    classifier_embedding,
    codec_scores,
    curve_bias_lu,
    curve_mae_lu,
    evaluate_model,
    frechet_distance,
    limited_frames,
    lufs_predictor_mae,
    per_category,
    train_category_classifier,
)
from foleystudio.training.index import Clip, Index

RATE = 44100


def test_take_equal_to_target_has_zero_error():
    curve = LoudnessCurve.uniform(np.linspace(-40, -10, 12), np.linspace(-30, -20, 12))
    assert curve_mae_lu(curve, curve) == 0.0


def test_three_db_offset_is_three_lu():
    target = LoudnessCurve.uniform(np.full(12, -30.0), np.full(12, -25.0))
    louder = LoudnessCurve.uniform(np.full(12, -27.0), np.full(12, -22.0))
    assert curve_mae_lu(target, louder) == pytest.approx(3.0)


def test_bias_is_the_signed_offset_on_the_scored_frames():
    target = np.array([[-30.0, -30.0, -65.0], [-30.0, -30.0, -30.0]])
    measured = np.array([[-36.0, -34.0, 0.0], [-24.0, -32.0, -33.0]])
    # Scored: -6, -4, +6, -2, -3 (the -65 LUFS frame is not); MAE counts magnitudes, bias signs.
    assert curve_bias_lu(target, measured) == pytest.approx(-9 / 5)
    assert curve_mae_lu(target, measured) == pytest.approx(21 / 5)
    quieter = LoudnessCurve.uniform(np.full(12, -36.0), np.full(12, -36.0))
    flat = LoudnessCurve.uniform(np.full(12, -30.0), np.full(12, -30.0))
    assert curve_bias_lu(flat, quieter) == pytest.approx(-6.0) == -curve_mae_lu(flat, quieter)


def test_frames_below_minus_sixty_are_ignored():
    target = np.array([[-30.0, -65.0, -70.0], [-30.0, -30.0, -61.0]])
    measured = np.array([[-28.0, -20.0, -10.0], [-32.0, -28.0, 0.0]])
    assert curve_mae_lu(target, measured) == pytest.approx(2.0)
    assert math.isnan(curve_mae_lu(np.full((2, 3), -65.0), measured))


def test_skipped_frames_are_left_out_on_both_channels():
    target = np.array([[-30.0, -30.0, -30.0], [-30.0, -30.0, -30.0]])
    measured = np.array([[-30.0, -20.0, -29.0], [-30.0, -10.0, -31.0]])
    assert curve_mae_lu(target, measured) == pytest.approx((0 + 10 + 1 + 0 + 20 + 1) / 6)
    assert curve_mae_lu(target, measured, skip_frames=[False, True, False]) == pytest.approx(0.5)


def test_frames_the_limiter_had_to_pull_down_are_marked():
    from foleystudio.audio.conformance import conform_to_curve

    # White noise asked to sit at -3 LUFS for its second second: impossible under -1 dBTP (noise
    # has a crest factor of ~12 dB), so the limiter works there, and only there.
    rng = np.random.default_rng(0)
    noise = (0.05 * rng.standard_normal((2, 3 * RATE))).astype(np.float32)
    times = np.arange(18) / 6.0
    target_lufs = np.where((times >= 1.0) & (times < 2.0), -3.0, -30.0)
    result = conform_to_curve(noise, RATE, LoudnessCurve.uniform(target_lufs, target_lufs), adherence=1.0)
    limited = limited_frames(result)
    assert limited.shape == (18,)
    assert limited[6:12].all() and not limited[:5].any() and not limited[14:].any()  # release: a frame or two
    everywhere = curve_mae_lu(result.target, result.after)
    reachable = curve_mae_lu(result.target, result.after, skip_frames=limited)
    assert reachable < 0.5 < everywhere


def test_lufs_predictor_mae_counts_every_frame_clipped():
    assert lufs_predictor_mae(np.full((2, 6), -80.0), np.full((2, 6), -70.0)) == 0.0
    assert lufs_predictor_mae(np.full((2, 6), -40.0), np.full((2, 6), -70.0)) == pytest.approx(30.0)


def test_codec_scores_of_identical_audio_are_zero():
    audio = (0.1 * np.random.default_rng(0).standard_normal((2, RATE))).astype(np.float32)
    scores = codec_scores(audio, audio)
    assert scores["mr_stft"] == pytest.approx(0.0, abs=1e-5) and scores["loudness_error_lu"] == 0.0
    assert codec_scores(audio, audio * 0.5)["loudness_error_lu"] == pytest.approx(20 * math.log10(2), abs=0.05)


def test_frechet_distance_zero_for_identical_positive_for_shifted():
    embeddings = np.random.default_rng(0).standard_normal((200, 4))
    assert frechet_distance(embeddings, embeddings) == pytest.approx(0.0, abs=1e-6)
    shifted = frechet_distance(embeddings, embeddings + 2.0)
    assert shifted == pytest.approx(16.0, rel=1e-6)  # |mean shift|^2 = 4 dims x 2^2; covariances equal


def test_per_category_means_skip_nan():
    result = per_category([1.0, 3.0, float("nan"), 5.0], ["a", "a", "b", ""])
    assert result == {"(none)": {"n": 1, "mean": 5.0}, "a": {"n": 2, "mean": 2.0}}


def tone(seed, seconds=0.5):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 0.2 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
    return np.stack([wave, wave]).astype(np.float32)


def noise(seed, seconds=0.5):
    return (0.2 * np.random.default_rng(seed).standard_normal((2, int(seconds * RATE)))).astype(np.float32)


def test_classifier_beats_chance_on_tones_vs_noise():
    train = [(tone(s), "tone") for s in range(8)] + [(noise(s), "noise") for s in range(8)]
    classifier = train_category_classifier(train, epochs=150, seed=0)
    held_out = [tone(s) for s in range(100, 106)] + [noise(s) for s in range(100, 106)]
    labels = ["tone"] * 6 + ["noise"] * 6
    assert classifier.accuracy(held_out, labels) >= 0.9
    embeddings = classifier_embedding(classifier, held_out)
    assert embeddings.shape == (12, 64)
    # Tones and noise sit apart in the embedding: more than two noise sets drawn alike.
    assert frechet_distance(embeddings[:6], embeddings[6:]) > frechet_distance(
        classifier_embedding(classifier, [noise(s) for s in range(200, 206)]), embeddings[6:])


def test_an_ensemble_votes_by_mean_probability_and_its_first_member_is_the_single_classifier():
    from foleystudio.training.sound_classifier import fit_category_classifier, labelled_features

    features, labels = labelled_features([(tone(s), "tone") for s in range(6)] + [(noise(s), "noise") for s in range(6)])
    single = fit_category_classifier(features, labels, epochs=30, seed=3)
    ensemble = fit_category_classifier(features, labels, members=3, epochs=30, seed=3)
    assert len(ensemble.networks) == 3
    held_out = ensemble.features([tone(50), noise(50), tone(51)])
    # Member k starts from seed + k: member 0 is exactly the single classifier of that seed.
    np.testing.assert_allclose(ensemble.embed_features(held_out), single.embed_features(held_out))
    with torch.no_grad():
        members = [torch.softmax(net(ensemble._inputs(held_out)), 1).numpy() for net in ensemble.networks]
    np.testing.assert_allclose(ensemble.probabilities(held_out), np.mean(members, axis=0), rtol=1e-6)
    with torch.no_grad():  # the members do differ
        hidden = [net.embed(ensemble._inputs(held_out)).numpy() for net in ensemble.networks]
    assert not np.allclose(hidden[0], hidden[1])
    with pytest.raises(ValueError, match="at least one member"):
        fit_category_classifier(features, labels, members=0)


def test_classifier_needs_two_categories():
    with pytest.raises(ValueError, match="two categories"):
        train_category_classifier([(tone(0), "tone"), (tone(1), "tone")])


# ---- evaluate_model on a fake three-clip index ---------------------------------------------------------


def clip(number: int, path: str, category: str, split: str) -> Clip:
    return Clip(id=str(number), path=path, caption=f"{category} sound", caption_source="words", category=category,
                duration_s=1.0, channels=2, sample_rate=RATE, licence="", credit="", source=path, split=split,
                size=0, mtime=0.0)


def footsteps(seed, seconds=1.0):
    rng = np.random.default_rng(seed)
    audio = np.zeros((2, int(seconds * RATE)), np.float32)
    for t in (0.2, 0.6):
        start, length = int(t * RATE), int(0.1 * RATE)
        audio[:, start:start + length] = 0.3 * rng.standard_normal(length) * np.exp(-np.arange(length) / 2000)
    return audio


def test_evaluate_model_smoke_on_a_fake_index(tmp_path):
    clips = []
    makers = {"footsteps": footsteps, "tone": tone}
    for number, (category, split) in enumerate(
        [("footsteps", "train"), ("tone", "train"), ("footsteps", "train"), ("tone", "train"),
         ("footsteps", "val"), ("tone", "val")]
    ):
        name = f"{category}_{number}.wav"
        audio = makers[category](number, 1.0)
        write_wav(tmp_path / name, audio, RATE, bit_depth=24)
        clips.append(clip(number, name, category, split))
    report = evaluate_model("preset:tiny", index=Index(tmp_path, clips, []), steps=2, device="cpu", seconds=1.0)
    json.dumps(report, allow_nan=True)
    assert report["clips_evaluated"] == 2 and report["split"] == "val"
    metrics = report["metrics"]
    # Conformance is DSP: after it the take is much closer to the curve than the raw noise was.
    assert metrics["curve_mae_conformed_lu"] < metrics["curve_mae_raw_lu"]
    assert abs(metrics["curve_bias_raw_lu"]) <= metrics["curve_mae_raw_lu"]
    assert 0.0 <= metrics["av_align_generated"] <= 1.0
    assert metrics["lufs_predictor_mae_lu"] >= 0.0
    assert set(report["per_category"]["curve_mae_raw_lu"]) == {"footsteps", "tone"}
    semantic = report["semantic"]
    assert semantic["classifier_categories"] == ["footsteps", "tone"] and semantic["classifier_train_clips"] == 4
    assert semantic["classifier_members"] == 8
    single = semantic["single_classifier"]  # the judge before the ensemble, initialised from the eval seed
    assert single["seed"] == 0 and set(single["text_following"]) == {"wins", "losses", "ties", "p_value"}
    assert 0.0 <= single["classifier_accuracy_generated"] <= 1.0 and single["frechet_distance"] >= 0.0
    assert semantic["classifier_accuracy_real"] == 1.0  # the ceiling on this easy pair of categories
    assert report["adherence"] == 1.0 and report["ablations"]
    assert set(report["paired_tests"]["video_following"]) == {"wins", "losses", "ties", "p_value"}
    assert set(semantic["text_following"]) == {"wins", "losses", "ties", "p_value"}
    assert report["frame_size"] == 32  # the tiny frame encoder's size, as its AV pairs are drawn
    assert report["guidance"] == {"video": 2.5, "text": 2.5, "audio": 2.5} and not report["guidance_keeps_loudness"]
    assert 0.0 <= metrics["av_align_generated_no_video"] <= 1.0
    assert 0.0 <= semantic["classifier_accuracy_generated_shuffled_captions"] <= 1.0
    # Each val clip got the other category's caption in the text ablation.
    assert {row["caption"]: row["shuffled_caption"] for row in report["clips"]} == {
        "footsteps sound": "tone sound", "tone sound": "footsteps sound"}


def test_paired_sign_test_counts_wins_and_gives_the_exact_binomial_tail():
    from foleystudio.training.evaluate import paired_sign_test

    result = paired_sign_test([1, 1, 1, 0, 1, 0.5, float("nan")], [0, 0, 0, 1, 1, 0.5, 1])
    assert (result["wins"], result["losses"], result["ties"]) == (3, 1, 2)
    assert result["p_value"] == pytest.approx(5 / 16)  # P(X >= 3), X ~ Binomial(4, 1/2)
    assert paired_sign_test([1] * 10, [0] * 10)["p_value"] == pytest.approx(2**-10)
    assert paired_sign_test([0] * 5, [1] * 5)["p_value"] == 1.0
    assert paired_sign_test([], [])["p_value"] == 1.0  # nothing to tell apart


def test_balanced_selection_takes_categories_in_turn():
    from foleystudio.training.evaluate import balanced_selection

    clips = [clip(n, f"{n}.wav", category, "val") for n, category in
             enumerate(["weapons"] * 5 + ["", "doors", "doors", "animals"])]
    picked = balanced_selection(clips, 5)
    assert [c.category for c in picked] == ["animals", "doors", "weapons", "", "doors"]
    assert len(balanced_selection(clips, None)) == len(clips)


def test_evaluate_command_parses_its_arguments():
    import argparse

    from foleystudio.commands import evaluate as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["evaluate", "preset:tiny", "--data", "idx", "--limit", "3", "--out", "r.json"])
    assert (args.model, args.data, args.split, args.limit, args.out) == ("preset:tiny", "idx", "val", 3, "r.json")
    assert args.run is command.run and args.frame_size is None
    assert parser.parse_args(["evaluate", "m", "--data", "idx", "--frame-size", "64"]).frame_size == 64
    with pytest.raises(SystemExit):
        parser.parse_args(["evaluate", "preset:tiny", "--data", "idx", "--limit", "0"])
    assert command._guidance(args) == GuidanceScales()  # generate's defaults unless asked
    asked = parser.parse_args(["evaluate", "m", "--data", "idx", "--guidance-text", "6", "--guidance-video", "1"])
    assert command._guidance(asked) == GuidanceScales(video=1.0, text=6.0)


def test_evaluate_takes_are_made_with_the_asked_guidance(tmp_path, monkeypatch):
    from foleystudio.training import evaluate as module

    write_wav(tmp_path / "a.wav", tone(0, 1.0), RATE, bit_depth=24)
    seen = []

    class Enough(Exception):
        pass

    def take(engine, request):
        seen.append(request.guidance)
        raise Enough  # one take is enough to see its scales

    monkeypatch.setattr(module, "_take", take)
    with pytest.raises(Enough):
        module.evaluate_model("preset:tiny", index=Index(tmp_path, [clip(0, "a.wav", "tone", "val")], []), steps=1,
                              device="cpu", seconds=1.0, guidance=GuidanceScales(video=1.5, text=7.0))
    assert seen == [GuidanceScales(video=1.5, text=7.0)]
