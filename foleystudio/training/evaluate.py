"""Evaluation metrics on plain arrays, and `evaluate_model`.

Every metric is a function of arrays (no files, no model) with its definition in its docstring, so
tests can check it on constructed cases with known answers. `evaluate_model` is the orchestration:
held-out clips of an index -> generation requests (caption + measured curve + rendered video) ->
takes -> the metrics, as one JSON-ready dict.

What the numbers mean for an **untrained** engine (``preset:tiny``, today's state): takes are noise
shaped only by loudness conformance, so the raw LU error is large, the after-conformance error is
small (that part is DSP, not learning), onset/AV-Align scores of generated audio are near chance,
the classifier on generated audio is near chance and the Fréchet distance is large, and the LUFS
predictor's error is that of random weights. They become meaningful once training runs; the real
validation audio rows (classifier ceiling, AV-Align of the real audio against its own rendered
picture) show what a perfect generator would score.

The semantic metrics use classifiers trained here, on the index's own training split
(`sound_classifier`: log-mel band statistics -> a two-layer MLP, an ensemble of eight as the judge),
in place of Tri-Ergon's PaSST/OpenL3 (unavailable offline). The first member's hidden layer is the
embedding for the Fréchet distance: a small, domain-matched stand-in for FD_openl3.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.training.onsets import av_align, detect_onsets, motion_peaks, onset_f1
from foleystudio.training.sound_classifier import (
    CategoryClassifier,
    classifier_embedding,
    fit_category_classifier,
    labelled_features,
    mel_statistics,
    train_category_classifier,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
ACTIVE_LUFS = -60.0
LIMITED_DB = 0.5  # a frame the limiter took more than this off is out of reach of conformance
# The semantic metrics' judge: an ensemble of classifiers initialised from seeds 0..7, whatever the
# evaluation's seed (`sound_classifier`: one classifier's initialisation moved real accuracy by 7 points).
JUDGE_MEMBERS = 8
JUDGE_SEED = 0

__all__ = [
    "CategoryClassifier", "av_align", "classifier_embedding", "codec_scores", "curve_bias_lu", "curve_mae_lu",
    "evaluate_model", "frechet_distance", "limited_frames", "lufs_predictor_mae", "mel_statistics", "onset_f1",
    "paired_sign_test", "per_category", "train_category_classifier",
]


# ---- loudness ---------------------------------------------------------------------------------------


def _curve_array(curve) -> np.ndarray:
    if isinstance(curve, LoudnessCurve):
        return np.stack([curve.left, curve.right])
    array = np.asarray(curve, dtype=np.float64)
    if array.ndim == 1:
        array = array[None]
    if array.ndim != 2:
        raise ValueError(f"a curve must be a LoudnessCurve or an array (channels, frames), got shape {array.shape}")
    return array


def curve_mae_lu(requested, measured, floor: float = ACTIVE_LUFS, skip_frames=None) -> float:
    """Loudness-curve adherence: mean |measured - requested| in LU over the frames (of each channel)
    where the requested value is above ``floor`` (-60 LUFS); NaN if there is none.

    Curves are `LoudnessCurve` s or arrays (channels, frames) on the same frames (DESIGN.md §2,
    1/6 s); both are floored at -70 LUFS first; a longer one is cut to the shorter's length.
    ``skip_frames`` (bool per frame) leaves frames out on both channels.
    """
    errors = _curve_errors(requested, measured, floor, skip_frames)
    return float(np.abs(errors).mean()) if errors.size else float("nan")


def curve_bias_lu(requested, measured, floor: float = ACTIVE_LUFS) -> float:
    """Mean signed error (measured - requested) in LU on the frames `curve_mae_lu` scores: negative
    when takes come out quieter than asked. An MAE close to |bias| means a level offset, not a
    shape the model failed to follow."""
    errors = _curve_errors(requested, measured, floor, None)
    return float(errors.mean()) if errors.size else float("nan")


def _curve_errors(requested, measured, floor: float, skip_frames) -> np.ndarray:
    want, got = _curve_array(requested), _curve_array(measured)
    if want.shape[0] != got.shape[0]:
        raise ValueError(f"curves have different channel counts: {want.shape[0]} and {got.shape[0]}")
    frames = min(want.shape[1], got.shape[1])
    want = np.maximum(want[:, :frames], FLOOR_LUFS)
    got = np.maximum(got[:, :frames], FLOOR_LUFS)
    active = want > floor
    if skip_frames is not None:
        active &= ~np.asarray(skip_frames, dtype=bool)[None, :frames]
    return (got - want)[active]


def limited_frames(conformance, threshold_db: float = LIMITED_DB) -> np.ndarray:
    """Bool per curve frame: the true-peak limiter took more than ``threshold_db`` off somewhere in it.

    On those frames the target is out of reach of this take under the ceiling (a noisy take cannot
    be as loud as a clipped game asset at -1 dBTP), whatever conformance does; adherence there says
    more about the target than about the model.
    """
    reduction = np.asarray(conformance.limiter_reduction_db)
    times = np.asarray(conformance.after.times)
    hop = int(round(conformance.sample_rate * (times[1] - times[0]))) if len(times) > 1 else len(reduction)
    starts = np.round(times * conformance.sample_rate).astype(int)
    return np.array([reduction[start : start + hop].max(initial=0.0) > threshold_db for start in starts])


def lufs_predictor_mae(predicted, reference) -> float:
    """LUFS-predictor error: mean |predicted - reference| in LU over all frames of both channels,
    each clipped to [-70, 0] LUFS first (the predictor's output range; 70 x its training loss).
    Quiet frames count: predicting silence where there is silence is part of the job."""
    want, got = _curve_array(reference), _curve_array(predicted)
    frames = min(want.shape[1], got.shape[1])
    if frames == 0:
        return float("nan")
    want = np.clip(want[:, :frames], FLOOR_LUFS, 0.0)
    got = np.clip(got[:, :frames], FLOOR_LUFS, 0.0)
    return float(np.abs(got - want).mean())


def codec_scores(reference, estimate, sample_rate: int = SAMPLE_RATE) -> dict:
    """Codec reconstruction (`foleystudio.engine.codec.metrics`): multi-resolution STFT distance,
    log-mel L1 in dB, loudness-curve error in LU (frames above -60 LUFS) of a (2, n) reference and
    its (2, >= n) reconstruction."""
    from foleystudio.engine.codec.metrics import reconstruction_scores

    ref = torch.as_tensor(np.asarray(reference, dtype=np.float32))
    est = torch.as_tensor(np.asarray(estimate, dtype=np.float32))
    scores = reconstruction_scores(ref, est, sample_rate)
    return {"mr_stft": scores.mr_stft, "log_mel_l1_db": scores.log_mel_l1_db,
            "loudness_error_lu": scores.loudness_error_lu}


# ---- distributions -------------------------------------------------------------------------------------


def frechet_distance(emb_a, emb_b) -> float:
    """Fréchet distance between Gaussians fitted to two embedding sets (rows are samples):
    |mu_a - mu_b|^2 + Tr(C_a + C_b - 2 (C_a C_b)^(1/2)), with scipy's matrix square root (its
    imaginary part from round-off dropped; a tiny ridge added when the product is singular).
    0 for identical sets; needs at least two rows each."""
    import scipy.linalg

    a, b = np.asarray(emb_a, dtype=np.float64), np.asarray(emb_b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings must be (samples, dims) with equal dims, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Fréchet distance needs at least two embeddings on each side")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Few samples in many dimensions make the covariances singular; scipy then warns that the root
    # "might be inaccurate". The trace we need stays well defined, so the warning is silenced here
    # (locally) and a non-finite result is retried with a small ridge, as the usual FID code does.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = scipy.linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(root)):
            ridge = np.eye(len(cov_a)) * 1e-6
            root = scipy.linalg.sqrtm((cov_a + ridge) @ (cov_b + ridge))
    root = np.real(root)
    value = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(root))
    return max(value, 0.0)  # round-off can leave identical sets a hair below 0


def per_category(values: Sequence[float], categories: Sequence[str]) -> dict[str, dict]:
    """Mean and count of ``values`` per category (NaNs skipped; "" reads "(none)")."""
    if len(values) != len(categories):
        raise ValueError(f"{len(values)} values but {len(categories)} categories")
    groups: dict[str, list[float]] = defaultdict(list)
    for value, category in zip(values, categories):
        if value is not None and math.isfinite(value):
            groups[category or "(none)"].append(float(value))
    return {name: {"n": len(items), "mean": float(np.mean(items))} for name, items in sorted(groups.items())}


def _mean(values) -> float | None:
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def read_clip(clip, root: Path, seconds: float) -> np.ndarray | None:
    """A clip's first ``seconds`` as (2, n) float32 at 44.1 kHz; None (logged) when it cannot be read
    or is shorter than 0.5 s. Shared with bench/codec.py, which scores the same excerpts."""
    from foleystudio.audio.io import read_audio

    try:
        audio, _ = read_audio(clip.absolute(root), sample_rate=SAMPLE_RATE, channels=2, duration_s=None)
    except Exception as error:  # a bad file is reported, never fatal to an evaluation run
        logger.warning("skipping %s: %s", getattr(clip, "path", clip), error)
        return None
    audio = audio[:, : int(round(seconds * SAMPLE_RATE))]
    return audio if audio.shape[1] >= SAMPLE_RATE // 2 else None  # shorter than 0.5 s: too short to judge


def _load_engine(model, device: str):
    if hasattr(model, "generator") and hasattr(model, "codec"):
        return model
    from foleystudio.engine.builder import load_engine

    return load_engine(str(model), device)


def balanced_selection(clips: Sequence, limit: int | None) -> list:
    """Up to ``limit`` clips taking the categories in turn (each category's clips in index order,
    uncategorised clips last), so a limited run covers every category instead of the first
    package's; all clips, in that order, when ``limit`` is None."""
    groups: dict[str, list] = defaultdict(list)
    for clip in clips:
        groups[getattr(clip, "category", "") or ""].append(clip)
    order = sorted(groups, key=lambda name: (name == "", name))
    picked, depth = [], 0
    while any(depth < len(groups[name]) for name in order):
        picked.extend(groups[name][depth] for name in order if depth < len(groups[name]))
        depth += 1
    return picked if limit is None else picked[:limit]


def _shuffled_captions(clips: Sequence) -> list[str]:
    """For each clip the caption of another clip, of another category where the selection has one
    (the text ablation: a model that follows its text must lose category accuracy with these)."""
    captions = []
    for number, clip in enumerate(clips):
        others = [clips[(number + step) % len(clips)] for step in range(1, len(clips))]
        different = [other for other in others if getattr(other, "category", "") != getattr(clip, "category", "")]
        chosen = (different or others or [clip])[0]
        captions.append(chosen.caption)
    return captions


def _take(engine, request):
    from foleystudio.engine.pipeline import generate, run_to_end

    return run_to_end(generate(engine, request))[0]


def _clip_rows(engine, clips, root: Path, *, steps: int, seed: int, seconds: float, fps: float,
               frame_size: int, work: Path, ablations: bool, guidance,
               progress: Callable[[str], None] | None) -> list[dict]:
    from foleystudio.engine.lufs_predictor import predict_curve
    from foleystudio.engine.request import GenerationRequest, VideoSpan
    from foleystudio.training.av_pairs import render_av_pair, write_av_pair_mp4

    shuffled = _shuffled_captions(clips)
    rows = []
    for number, clip in enumerate(clips):
        real = read_clip(clip, root, seconds)
        if real is None:
            continue
        duration = real.shape[1] / SAMPLE_RATE
        pair = render_av_pair(real, None, seed=seed + number, fps=fps, size=(frame_size, frame_size),
                              caption_on=clip.caption)
        video_path = write_av_pair_mp4(pair, work / f"pair_{number}.mp4", with_audio=False)
        # Full adherence: "after conformance" measures how close conformance can bring a take.
        request = GenerationRequest(duration_s=duration, on_screen_prompt=clip.caption, curve=pair.curve,
                                    video=VideoSpan(video_path), steps=steps, seed=seed + number, adherence=1.0,
                                    guidance=guidance,
                                    model=getattr(engine, "model_id", "engine"), device=str(engine.device))
        take = _take(engine, request)
        conformance = take.conformance
        limited = limited_frames(conformance)
        video_peaks = motion_peaks(pair.frames, fps)
        generated_onsets = detect_onsets(take.audio)
        predicted = predict_curve(engine.lufs_predictor, video_path, 0.0, duration, engine.device)
        with torch.no_grad():
            decoded = engine.codec(torch.from_numpy(real)[None].to(engine.device)).float()[0].cpu().numpy()
        row = {
            "id": getattr(clip, "id", str(number)), "category": getattr(clip, "category", ""),
            "caption": clip.caption, "duration_s": duration,
            "curve_mae_raw_lu": curve_mae_lu(conformance.target, conformance.before),
            "curve_bias_raw_lu": curve_bias_lu(conformance.target, conformance.before),
            "curve_mae_conformed_lu": curve_mae_lu(conformance.target, conformance.after),
            "curve_mae_conformed_within_ceiling_lu": curve_mae_lu(conformance.target, conformance.after,
                                                                  skip_frames=limited),
            "limited_frame_share": float(limited.mean()),
            "av_align_generated": av_align(generated_onsets, video_peaks, fps),
            "av_align_real": av_align(pair.onsets_s, video_peaks, fps),
            "onset_f1_generated": onset_f1(generated_onsets, pair.onsets_s, 1.0 / fps).f1,
            "lufs_predictor_mae_lu": lufs_predictor_mae(predicted, pair.curve),
            **{f"codec_{name}": value for name, value in codec_scores(real, decoded).items()},
            "_real": real, "_generated": take.audio,
        }
        if ablations:
            row.update(_ablation_row(engine, request, shuffled[number], video_peaks, fps))
        rows.append(row)
        if progress is not None:
            progress(f"evaluated {len(rows)}/{len(clips)}: {clip.caption}")
    return rows


def _ablation_row(engine, request, shuffled_caption: str, video_peaks, fps: float) -> dict:
    """The same request without its video (AV-Align must drop) and with another clip's caption (the
    classifier must stop finding the clip's category), same seed."""
    without_video = _take(engine, dataclasses.replace(request, video=None))
    wrong_text = _take(engine, dataclasses.replace(request, on_screen_prompt=shuffled_caption))
    return {"av_align_generated_no_video": av_align(detect_onsets(without_video.audio), video_peaks, fps),
            "curve_mae_raw_no_video_lu": curve_mae_lu(without_video.conformance.target, without_video.conformance.before),
            "shuffled_caption": shuffled_caption, "_generated_shuffled": wrong_text.audio}


def judge_training_set(index, train_limit: int | None, seconds: float) -> tuple[np.ndarray, list[str]]:
    """The judge's training rows: `mel_statistics` of the first ``seconds`` of the index's categorised
    training clips (up to ``train_limit``, the categories in turn so that every category is known,
    not the first packages' only) and their categories. Unreadable clips are left out (logged)."""
    root = Path(index.library_root)
    train = balanced_selection([clip for clip in index.split("train") if getattr(clip, "category", "")], train_limit)
    return labelled_features(
        (audio, clip.category) for clip in train if (audio := read_clip(clip, root, seconds)) is not None)


def fit_judge(features: np.ndarray, labels: Sequence[str]) -> CategoryClassifier:
    """The semantic metrics' judge on `judge_training_set` rows: the fixed ensemble (`JUDGE_MEMBERS`
    from `JUDGE_SEED`). Raises ValueError when the rows hold fewer than two categories."""
    return fit_category_classifier(features, labels, members=JUDGE_MEMBERS, seed=JUDGE_SEED)


def _semantic_metrics(index, rows: list[dict], train_limit: int, seconds: float, seed: int) -> dict:
    """Classifier accuracy on real and generated validation audio, the text ablation, and the Fréchet
    distance, judged by a fixed ensemble (`JUDGE_MEMBERS`, the same whatever ``seed``); the single
    classifier initialised from ``seed`` that judged evaluations before is reported alongside."""
    features, labels = judge_training_set(index, train_limit, seconds)
    if len(set(labels)) < 2:
        return {"skipped": "fewer than two categories in the training split"}
    try:
        judge = fit_judge(features, labels)
        single = fit_category_classifier(features, labels, seed=seed)
    except ValueError as error:  # every readable clip in one category
        return {"skipped": str(error)}
    known = [row for row in rows if row["category"] in judge.categories]
    result: dict = {"classifier_categories": list(judge.categories), "classifier_train_clips": judge.clips,
                    "classifier_members": JUDGE_MEMBERS, "scored_clips": len(known)}
    if not known:
        return {**result, "skipped": "no validation clip has a category the classifier knows"}
    categories = [row["category"] for row in known]
    scored = {kind: judge.features([row[key] for row in known]) for kind, key in _SCORED_AUDIO.items()
              if all(key in row for row in known)}
    hits, result_judged = _judged(judge, scored, categories)
    for kind, kind_hits in hits.items():
        for row, hit in zip(known, kind_hits):
            row[f"classifier_correct_{kind}"] = float(hit)
    result.update(result_judged)
    result["chance_accuracy"] = 1.0 / len(judge.categories)
    result["single_classifier"] = {"seed": seed, **_judged(single, scored, categories)[1]}
    return result


# The audio each validation row holds, by the name its classifier scores go under.
_SCORED_AUDIO = {"real": "_real", "generated": "_generated", "generated_shuffled": "_generated_shuffled"}


def _judged(classifier: CategoryClassifier, scored: dict[str, np.ndarray], categories: list[str]):
    """One classifier's verdicts on the scored audio's features: the per-clip hits by kind, and the
    accuracies, the text test and the Fréchet distance (its embedding) as report entries."""
    hits = {kind: [p == c for p, c in zip(classifier.predict_features(features), categories)]
            for kind, features in scored.items()}
    result = {"classifier_accuracy_real": float(np.mean(hits["real"])),
              "classifier_accuracy_generated": float(np.mean(hits["generated"]))}
    if "generated_shuffled" in hits:
        result["classifier_accuracy_generated_shuffled_captions"] = float(np.mean(hits["generated_shuffled"]))
        # Same clips, same seeds: does the caption, not luck, decide the category? (McNemar's exact test)
        result["text_following"] = paired_sign_test(hits["generated"], hits["generated_shuffled"])
    if len(categories) >= 2:
        result["frechet_distance"] = frechet_distance(classifier.embed_features(scored["generated"]),
                                                      classifier.embed_features(scored["real"]))
    return hits, result


def paired_sign_test(with_condition, without_condition) -> dict:
    """One-sided exact sign test of paired per-clip scores: ``wins`` (clips that score higher with the
    condition), ``losses`` (lower), ties left out, and ``p_value``, the chance of at least that many
    wins among the untied clips if the condition made no difference (binomial, p = 1/2).
    On booleans this is McNemar's exact test. NaN pairs are left out."""
    pairs = [(float(a), float(b)) for a, b in zip(with_condition, without_condition, strict=True)
             if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b))]
    wins = sum(a > b for a, b in pairs)
    losses = sum(a < b for a, b in pairs)
    untied = wins + losses
    p_value = sum(math.comb(untied, k) for k in range(wins, untied + 1)) / 2**untied
    return {"wins": wins, "losses": losses, "ties": len(pairs) - untied, "p_value": p_value}


PER_CLIP_METRICS = (
    "curve_mae_raw_lu", "curve_bias_raw_lu", "curve_mae_conformed_lu", "curve_mae_conformed_within_ceiling_lu",
    "limited_frame_share",
    "av_align_generated", "av_align_real", "onset_f1_generated",
    "lufs_predictor_mae_lu", "codec_mr_stft", "codec_log_mel_l1_db", "codec_loudness_error_lu",
    "classifier_correct_real", "classifier_correct_generated",
    "av_align_generated_no_video", "curve_mae_raw_no_video_lu", "classifier_correct_generated_shuffled",
)
MIN_SECONDS = 0.5  # clips shorter than this are too short to judge (see read_clip)


def evaluate_model(model, index_dir=None, split: str = "val", *, limit: int | None = None, steps: int = 8,
                   seed: int = 0, seconds: float = 4.0, fps: float = 8.0, frame_size: int | None = None,
                   train_limit: int | None = None, device: str = "auto", index=None, ablations: bool = True,
                   guidance=None, progress: Callable[[str], None] | None = None) -> dict:
    """Evaluate ``model`` (a name, folder, ``preset:NAME``, or a built `Engine`) on an index's split.

    For each held-out clip (its first ``seconds``): render an AV pair from it (on-screen source =
    the clip), generate one take from its caption, measured curve and the rendered video, then
    measure curve adherence raw and after conformance, AV-Align and onset F1 of the take against
    the picture/real onsets, the LUFS predictor on the picture, and the codec's reconstruction of
    the real clip. A classifier trained on the training split scores real and generated audio and
    gives the Fréchet distance. Takes are conformed at full adherence (1.0). Clips are chosen
    category by category (`balanced_selection`), skipping those under 0.5 s. With ``ablations``
    each clip is generated twice more with the same seed: without the video (``*_no_video``: AV-Align
    must drop if the model uses the picture) and with another category's caption
    (``classifier_accuracy_generated_shuffled_captions``: must drop if it follows the text).
    ``guidance`` (`GuidanceScales`) replaces the scales a take gets by default.
    ``index`` (anything with ``.library_root``, ``.clips``,
    ``.split(name)``) replaces reading ``index_dir``. Returns a JSON-ready dict: means under
    "metrics", per-category means under "per_category", per-clip values under "clips".
    """
    if index is None:
        if index_dir is None:
            raise ValueError("evaluate_model needs an index folder or an index")
        from foleystudio.training.index import read_index

        index = read_index(index_dir)
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    long_enough = [clip for clip in index.split(split) if getattr(clip, "duration_s", seconds) >= MIN_SECONDS]
    clips = balanced_selection(long_enough, limit)
    if not clips:
        raise ValueError(f"the index has no clips in the {split!r} split")
    from foleystudio.engine.guidance import GuidanceScales

    guidance = guidance or GuidanceScales()
    started = time.monotonic()
    engine = _load_engine(model, device)
    # By default the picture is drawn at the size the model's frame encoder reads, as the AV pairs
    # it was trained on were (`dataset av-pairs --size`); a larger one is downscaled on reading.
    frame_size = frame_size or engine.config.video_encoder.frame_size
    with tempfile.TemporaryDirectory(prefix="foleystudio-eval-") as folder:
        rows = _clip_rows(engine, clips, Path(index.library_root), steps=steps, seed=seed, seconds=seconds,
                          fps=fps, frame_size=frame_size, work=Path(folder), ablations=ablations, guidance=guidance,
                          progress=progress)
    if not rows:
        raise ValueError(f"none of the {len(clips)} {split!r} clips could be read")
    semantic = _semantic_metrics(index, rows, train_limit, seconds, seed)
    metrics = {name: _mean(row.get(name) for row in rows) for name in PER_CLIP_METRICS}
    paired = {}
    if ablations:  # same clips, same seeds, with and without the picture: does the video, not luck, help?
        paired["video_following"] = paired_sign_test([row.get("av_align_generated") for row in rows],
                                                      [row.get("av_align_generated_no_video") for row in rows])
    categories = [row["category"] for row in rows]
    breakdown = {name: per_category([row.get(name, float("nan")) for row in rows], categories)
                 for name in PER_CLIP_METRICS}
    return {
        "model": getattr(engine, "model_id", str(model)), "split": split, "clips_evaluated": len(rows),
        "clips_skipped": len(clips) - len(rows), "steps": steps, "adherence": 1.0, "ablations": ablations, "seed": seed, "seconds": seconds, "fps": fps,
        "frame_size": frame_size, "guidance": dataclasses.asdict(guidance),
        "guidance_keeps_loudness": engine.config.guidance_keeps_loudness,
        "metrics": metrics, "paired_tests": paired, "semantic": semantic, "per_category": breakdown,
        "clips": [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows],
        "elapsed_s": time.monotonic() - started,
        "notes": ("LU errors over frames whose target is above -60 LUFS; AV-Align/onset F1 use ±1 video frame; "
                  "'real' rows are ceilings (the real audio against its own rendered picture / the classifier on "
                  "real audio). Takes are conformed at adherence 1.0. Ablations (same seeds): *_no_video drops the "
                  "video condition, *_shuffled_captions uses another category's caption. An untrained engine "
                  "scores near chance on everything but conformed adherence."),
    }
