"""Does the demo project sound like what its layers ask for? Prints one JSON object.

  .venv/bin/python bench/demo_takes.py --index CORPUS_INDEX [--model MODEL] [--seeds N] [--first-seed S]
                                       [--train-limit N] [--reference-likeness L]

Issue 6 asks that the demo project's layers produce recognisable sounds with the shipped model. No
one can listen on the build machines, so this asks the evaluation's judge (`foleystudio evaluate`'s
ensemble of mel-statistics classifiers, trained here on the index's training split) what category
each demo take is, for each layer:

* ``generated``: the take the main job makes (the layer's prompts, curve, video and settings), for
  seeds S..S+N-1 (S = 0 unless ``--first-seed``; another S measures the bench's own noise);
* ``generated_other_prompts``: the same requests with the prompts of the next layer (footsteps get
  the door's words, the door the wind's, the wind the footsteps'): whatever the judge still hears as
  the layer's category comes from the curve and the picture, not the words;
* ``synthesised``: the demo's own take (`demo_scene`'s synthesis, no model), for scale;
* ``real_held_out``: the judge on the index's held-out clips of that category (its first 4 s, as
  `evaluate` reads them): how well the judge knows the category at all (hit rate and mean rank);
* ``bank_recordings``: the judge on the training recordings of the layer's bank sound (left out of
  its training, below; those under 0.5 s are too short to judge): what it makes of the very sound
  a take with reference likeness carries, so a take can be read against its own material.

The judge never hears the sounds the demo's takes may copy: training clips whose caption is one
of the demo layers' bank references (``judge.left_out_captions``) are left out of its training,
since a take with reference likeness carries that sound and a judge that had learnt those very
clips would recognise the copy, not the category. ``--reference-likeness L`` makes every take
(both kinds) with likeness L instead of each layer's own. Beside the verdicts, per layer and kind:
``reference_distance_db``, how far each take's band shape is from its bank reference's
(`tone_match.band_shape_db`, each centred, mean absolute dB over the bands; 0 is the reference's
tone), ``onset_f1``, the take's onsets against the demo's synthesised sound's (its events, on
the picture's frames) within ``ONSET_TOLERANCE_S``, and ``event_variety_db``, how much one event
of a take differs from the one before it (the band shapes of the ``VARIETY_S`` after consecutive
onsets, each centred, mean absolute dB over the bands; near 0 is one sound copied again and again,
the "machine gun" of copied Foley; None for a take with fewer than two onsets), and
``repeat_correlation``, how much a take comes round at the period of a plain loop of its bank
reference (the correlation of its centred latent with itself that many frames later, the
reference's length less the loop's crossfade, best of the lags within a frame of it; near 1 is a
loop heard as a loop). The synthesised sound's variety is given for scale.

The judge hears ``JUDGE_SECONDS`` of a take, as it was trained on the first 4 s of library clips:
the stretch that starts ``LEAD_S`` before the take's loudest moment (a library file starts at its
sound), moved back to fit inside the take. Per layer and kind: the fraction of takes judged as the
layer's category (``hit_rate``), the mean rank of that category among the judge's (1 = its first
choice) and its mean probability, and the judge's most common verdict. Chance is 1/categories.
"""

import argparse
import dataclasses
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from foleystudio.training.evaluate import fit_judge, judge_training_set, read_clip

RATE = 44100
JUDGE_SECONDS = 4.0
LEAD_S = 0.1
ONSET_TOLERANCE_S = 0.07
VARIETY_S = 0.15
# The corpus category a sound designer would file each demo layer's sound under.
LAYER_CATEGORIES = {"Footsteps": "footsteps", "Door slam": "doors/mechanisms", "Wind": "wind/weather"}


def judged_excerpt(audio: np.ndarray, seconds: float = JUDGE_SECONDS, lead_s: float = LEAD_S) -> np.ndarray:
    """``seconds`` of a (2, n) take starting ``lead_s`` before its loudest 10 ms, kept inside the take
    (the whole take when it is shorter)."""
    length = int(round(seconds * RATE))
    if audio.shape[1] <= length:
        return audio
    block = RATE // 100
    blocks = audio.shape[1] // block
    energy = np.square(audio[:, : blocks * block]).reshape(audio.shape[0], blocks, block).sum(axis=(0, 2))
    start = int(np.argmax(energy)) * block - int(round(lead_s * RATE))
    start = min(max(start, 0), audio.shape[1] - length)
    return audio[:, start : start + length]


def demo_requests(project, model: str, device: str, seed: int, other_prompts: bool, likeness: float | None = None):
    """(layer name, request) for each demo layer, as the main job asks, with ``seed``; with
    ``other_prompts`` each layer carries the next layer's prompts; ``likeness`` (when not None)
    replaces each layer's reference likeness."""
    from foleystudio.generation import request_for_layer

    layers = list(project.layers)
    for number, layer in enumerate(layers):
        request = request_for_layer(project, layer, model=model, device=device, seed=seed)
        if other_prompts:
            donor = layers[(number + 1) % len(layers)]
            request = dataclasses.replace(request, on_screen_prompt=donor.on_screen_prompt,
                                          off_screen_prompt=donor.off_screen_prompt)
        if likeness is not None:
            request = dataclasses.replace(request, reference_likeness=likeness)
        yield layer.name, dataclasses.replace(request, variations=1)


def verdicts(judge, audios: list[np.ndarray], category: str) -> dict:
    """The judge on ``audios`` against ``category``: the verdicts and the most common one, and the
    hit rate, mean rank and mean probability of ``category`` (hit rate None, with a note, when the
    judge does not know the category)."""
    if not audios:
        return {"takes": 0}
    probabilities = judge.probabilities(judge.features([judged_excerpt(a) for a in audios]))
    said = [judge.categories[i] for i in probabilities.argmax(axis=1)]
    result = {"takes": len(audios), "most_common_verdict": Counter(said).most_common(1)[0][0],
              "verdicts": dict(Counter(said).most_common())}
    if category not in judge.categories:
        return {**result, "hit_rate": None, "note": f"the judge was not trained on {category!r}"}
    column = judge.categories.index(category)
    ranks = (probabilities > probabilities[:, [column]]).sum(axis=1) + 1
    return {**result, "hit_rate": float(np.mean([s == category for s in said])),
            "mean_rank": float(ranks.mean()), "mean_probability": float(probabilities[:, column].mean())}


def run(index, model: str, seeds: int, train_limit: int | None, device: str, first_seed: int = 0,
        likeness: float | None = None) -> dict:
    """The report for ``index`` (an index folder, or an `Index`), ``model`` and seeds
    first_seed..first_seed+seeds-1; ``likeness``: every take's reference likeness (None: the layers')."""
    from foleystudio.demo_project import ensure_demo_project
    from foleystudio.engine.builder import load_engine
    from foleystudio.engine.pipeline import generate, run_to_end
    from foleystudio.project.store import load_project
    from foleystudio.training.index import read_index

    if isinstance(index, (str, Path)):
        index = read_index(index)
    engine = load_engine(model, device)
    with tempfile.TemporaryDirectory() as folder:
        project = load_project(ensure_demo_project(folder))
        synthesised = {layer.name: _take_audio(project, layer) for layer in project.layers}
        references = _bank_references(engine, demo_requests(project, model, str(engine.device), first_seed, False))
        started = time.perf_counter()
        judge = fit_judge(*judge_training_set(_without_captions(index, set(references.values())), train_limit,
                                              JUDGE_SECONDS))
        judge_s = time.perf_counter() - started
        takes: dict[str, dict[str, list]] = {kind: {name: [] for name in synthesised}
                                             for kind in ("generated", "generated_other_prompts")}
        started = time.perf_counter()
        for seed in range(first_seed, first_seed + seeds):
            for kind, other in (("generated", False), ("generated_other_prompts", True)):
                for name, request in demo_requests(project, model, str(engine.device), seed, other, likeness):
                    takes[kind][name].append(run_to_end(generate(engine, request))[0].audio)
        generate_s = time.perf_counter() - started
        likenesses = {layer.name: layer.reference_likeness if likeness is None else likeness
                      for layer in project.layers}
    layers = {}
    for name, audio in synthesised.items():
        category = LAYER_CATEGORIES.get(name, "")
        real = [a for clip in index.split("val") if clip.category == category
                if (a := read_clip(clip, Path(index.library_root), JUDGE_SECONDS)) is not None]
        recordings = [a for clip in index.split("train") if references.get(name) == clip.caption
                      if (a := read_clip(clip, Path(index.library_root), JUDGE_SECONDS)) is not None]
        layers[name] = {"category": category, "reference_likeness": likenesses[name],
                        "bank_reference": references.get(name),
                        **{kind: {**verdicts(judge, takes[kind][name], category),
                                  **_closeness(engine, references.get(name), takes[kind][name], audio)}
                           for kind in takes},
                        "synthesised": verdicts(judge, [audio], category),
                        "real_held_out": _real_verdicts(judge, real, category),
                        "bank_recordings": _real_verdicts(judge, recordings, category)}
    return {"model": engine.model_id, "device": str(engine.device), "seeds": seeds, "first_seed": first_seed,
            "judge": {"categories": len(judge.categories), "train_clips": judge.clips,
                      "chance": 1.0 / len(judge.categories), "fit_s": round(judge_s, 1),
                      "left_out_captions": sorted(set(references.values()))},
            "judged_seconds": JUDGE_SECONDS, "layers": layers, "generate_s": round(generate_s, 1)}


def _bank_references(engine, requests) -> dict[str, str]:
    """Layer name -> the caption of the bank sound its prompt retrieves (layers with none left out)."""
    from foleystudio.engine.pipeline import read_prompt

    found = {name: read_prompt(engine, request).bank_caption for name, request in requests}
    return {name: caption for name, caption in found.items() if caption is not None}


def _without_captions(index, captions: set[str]):
    """``index`` without its clips captioned one of ``captions`` (the judge must not know them)."""
    from foleystudio.training.index import Index

    if not captions:
        return index
    return Index(index.library_root, [clip for clip in index.clips if clip.caption not in captions],
                 list(index.unreadable))


def _closeness(engine, reference_caption: str | None, audios: list[np.ndarray], synthesised: np.ndarray) -> dict:
    """Mean distance of the takes' band shapes from their bank reference's (dB; None without one),
    mean onset F1 of the takes against the synthesised sound's onsets, event variety and repeat
    correlation (module docstring). Each take is encoded once."""
    from foleystudio.engine.tone_match import band_shape_db
    from foleystudio.training.onsets import detect_onsets, onset_f1

    if not audios:
        return {}
    events = detect_onsets(synthesised, RATE)
    f1 = [onset_f1(detect_onsets(audio, RATE), events, ONSET_TOLERANCE_S).f1 for audio in audios]
    latents = [_latent_of(engine, audio) for audio in audios]
    varieties = [v for audio, latent in zip(audios, latents, strict=True)
                 if (v := event_variety_db(engine, audio, latent)) is not None]
    result = {"onset_f1": float(np.mean(f1)), "event_variety_db": float(np.mean(varieties)) if varieties else None,
              "synthesised_event_variety_db": event_variety_db(engine, synthesised)}
    bank = engine.reference_bank
    if reference_caption is None or bank is None:
        return {**result, "reference_distance_db": None}
    config = engine.codec.config
    reference_latent = bank.latent(bank.captions.index(reference_caption))
    reference = band_shape_db(reference_latent[None], config)[0]
    distances, repeats = [], []
    for latent in latents:
        shape = band_shape_db(latent, config)[0]
        distances.append(float(((shape - shape.mean()) - (reference - reference.mean())).abs().mean()))
        repeats.append(repeat_correlation(engine, latent[0], reference_latent.shape[1]))
    return {**result, "reference_distance_db": float(np.mean(distances)),
            "repeat_correlation": float(np.mean(repeats))}


def repeat_correlation(engine, latent, reference_frames: int) -> float:
    """How much a latent [C, T] comes round at a plain loop's period of a reference
    ``reference_frames`` long (module docstring); 0 when the take is too short to tell."""
    from foleystudio.engine.reference_layout import loop_period

    period = loop_period(reference_frames, engine.generator.latent_rate)
    centred = latent - latent.mean(dim=1, keepdim=True)
    best = 0.0
    for lag in range(max(1, period - 1), period + 2):
        if lag >= centred.shape[1] - 1:
            continue
        a, b = centred[:, :-lag].flatten(), centred[:, lag:].flatten()
        best = max(best, float((a * b).sum() / ((a * a).sum() * (b * b).sum()).sqrt().clamp_min(1e-12)))
    return best


def _latent_of(engine, audio: np.ndarray):
    import torch

    with torch.no_grad():
        return engine.codec.encode(torch.tensor(audio)[None].to(engine.device)).cpu()


def event_variety_db(engine, audio: np.ndarray, latent=None) -> float | None:
    """Mean band-shape difference (dB) between consecutive events of a (2, n) take (module
    docstring; ``latent``: its codec latent when the caller has it); None with fewer than two onsets."""
    from foleystudio.engine.tone_match import band_shape_db
    from foleystudio.training.onsets import detect_onsets

    rate = engine.generator.latent_rate
    latent = _latent_of(engine, audio) if latent is None else latent
    length = max(1, round(VARIETY_S * rate))
    starts = [round(t * rate) for t in detect_onsets(audio, RATE) if round(t * rate) + length <= latent.shape[-1]]
    if len(starts) < 2:
        return None
    shapes = [band_shape_db(latent[:, :, start:start + length], engine.codec.config)[0] for start in starts]
    centred = [shape - shape.mean() for shape in shapes]
    return float(np.mean([float((b - a).abs().mean()) for a, b in zip(centred, centred[1:])]))


def _take_audio(project, layer) -> np.ndarray:
    from foleystudio.audio.io import read_audio

    audio, _ = read_audio(project.resolve(layer.selected_take.audio), sample_rate=RATE, channels=2)
    return audio


def _real_verdicts(judge, real: list[np.ndarray], category: str) -> dict:
    """Real clips are judged on their first seconds, as `evaluate` reads them, not re-cut."""
    if not real or category not in judge.categories:
        return {"clips": len(real)}
    probabilities = judge.probabilities(judge.features(real))
    column = judge.categories.index(category)
    ranks = (probabilities > probabilities[:, [column]]).sum(axis=1) + 1
    said = [judge.categories[i] for i in probabilities.argmax(axis=1)]
    return {"clips": len(real), "hit_rate": float(np.mean([s == category for s in said])),
            "mean_rank": float(ranks.mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="corpus index folder (its training split trains the judge)")
    parser.add_argument("--model", default="default", help="model folder or name (default: the shipped model)")
    parser.add_argument("--seeds", type=int, default=8, help="takes per layer and kind (default 8)")
    parser.add_argument("--first-seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--train-limit", type=int, default=None, help="judge training clips (default: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reference-likeness", type=float, default=None,
                        help="every take's reference likeness, 0..1 (default: each demo layer's own)")
    args = parser.parse_args()
    print(json.dumps(run(args.index, args.model, args.seeds, args.train_limit, args.device, args.first_seed,
                         args.reference_likeness), indent=2))


if __name__ == "__main__":
    main()
