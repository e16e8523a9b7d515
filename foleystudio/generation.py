"""From a project layer to a `GenerationRequest`, and from generated takes back to project takes.

The Qt-free half of generating in the application (the Qt half is `foleystudio.ui.worker`):

* `request_for_layer` reads a layer (prompts, reference sound, whether it follows the picture, its
  loudness curve, guidance and sampling settings) into the engine's frozen request for the stretch
  [start_s, start_s + duration_s) of the project. Files are resolved here, on the GUI thread, so a
  missing video or reference sound is a clear `UserInputError` before anything is queued; whether
  a file that exists is readable media is found out by the pipeline (a `MediaError` from the job).
* The layer's curve is cut to that stretch and re-based to start at 0 s (the request's curves are
  in take time). Frames are cut exactly, not resampled, so a drawn curve reaches the model as drawn;
  a curve that ends before the take holds its last value (the project's length may have grown
  since the curve was drawn), as the pipeline itself does for the last frame.
* `takes_from_generated` writes each variation as a BWF file in the project's takes folder (never
  over an existing file) and returns the project's `Take` values, named "<layer> <n>". Each take's
  parameters carry ``video_start_s`` = where the take starts on the timeline, also for takes that
  do not follow the picture, because the mix places takes by it (`foleystudio.mix.take_start_s`).

Seeds: a layer with ``seed_locked`` always generates with its seed; otherwise the caller draws a
fresh one with `next_seed`, leaving room for the variations (variation i uses seed + i, and every
take's seed must still be a valid layer seed so it can be typed back in to reproduce the take).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.engine.request import GenerationRequest, VideoSpan
from foleystudio.errors import UserInputError
from foleystudio.project.document import Project
from foleystudio.project.layer import SEED_RANGE, Layer
from foleystudio.project.take import FrozenMapping, Take
from foleystudio.takes import project_take

logger = logging.getLogger(__name__)

TAKE_SUFFIX = ".wav"
# Characters that are not safe in a file name on Windows, macOS or Linux, plus control characters.
_UNSAFE_FILE_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_TIME_TOLERANCE_S = 1e-6


# ---- layer -> request ---------------------------------------------------------------------------
def request_for_layer(project: Project, layer: Layer, *, model: str = "default", device: str = "auto",
                      start_s: float = 0.0, duration_s: float | None = None,
                      seed: int | None = None) -> GenerationRequest:
    """The request that generates ``layer`` over [start_s, start_s + duration_s) of the project.

    ``duration_s`` defaults to the rest of the project from ``start_s``; ``seed`` to the layer's.
    Raises `UserInputError` naming the problem (a missing file, a stretch outside the project, a
    setting the engine does not accept).
    """
    start_s, duration_s = _span(project, start_s, duration_s)
    video = None
    if project.video is not None and layer.follow_video:
        video = VideoSpan(_resolved(project, project.video, "video"), start_s)
    reference = None
    if layer.reference_audio is not None:
        reference = _resolved(project, layer.reference_audio, f"reference sound of layer {layer.name!r}")
    try:
        return GenerationRequest(
            duration_s=duration_s,
            on_screen_prompt=layer.on_screen_prompt,
            off_screen_prompt=layer.off_screen_prompt,
            negative_prompt=layer.negative_prompt,
            reference_audio=reference,
            video=video,
            follow_video=layer.follow_video,
            curve=cut_curve(layer.curve, start_s, duration_s),
            adherence=layer.loudness_adherence,
            reference_likeness=layer.reference_likeness,
            guidance=GuidanceScales(layer.video_guidance, layer.text_guidance, layer.audio_guidance),
            steps=layer.steps,
            seed=layer.seed if seed is None else seed,
            variations=layer.variations,
            model=model,
            device=device,
        )
    except UserInputError as error:
        raise UserInputError(f"layer {layer.name!r}: {error}") from None


def _span(project: Project, start_s, duration_s) -> tuple[float, float]:
    length = project.video_duration_s
    if isinstance(start_s, bool) or not isinstance(start_s, (int, float)) or not 0 <= start_s < length:
        raise UserInputError(f"generation start must be between 0 and {length:.3f} s, got {start_s!r}")
    if duration_s is None:
        duration_s = length - start_s
    if isinstance(duration_s, bool) or not isinstance(duration_s, (int, float)) or not duration_s > 0:
        raise UserInputError(f"generation length must be a positive number of seconds, got {duration_s!r}")
    if start_s + duration_s > length + _TIME_TOLERANCE_S:
        raise UserInputError(
            f"the take ({start_s:.3f} s + {duration_s:.3f} s) would run past the end of the project ({length:.3f} s)"
        )
    return float(start_s), float(duration_s)


def _resolved(project: Project, reference, what: str) -> Path:
    path = project.resolve(reference)
    if path is None:
        raise UserInputError(f"the {what} is missing: {reference.absolute} (relink it or choose another file)")
    return path


def cut_curve(curve: LoudnessCurve, start_s: float, duration_s: float) -> LoudnessCurve:
    """The frames of ``curve`` that overlap [start_s, start_s + duration_s), re-based to start at 0 s.

    The frame that contains ``start_s`` starts at 0; a curve that ends early holds its last value
    (frames of its own spacing are added), one that starts late holds its first value back to 0.
    """
    end_s = start_s + duration_s
    frame_ends = np.append(curve.times[1:], curve.end_s)
    keep = (frame_ends > start_s + _TIME_TOLERANCE_S) & (curve.times < end_s - _TIME_TOLERANCE_S)
    if not keep.any():  # the whole stretch lies past the curve's end: hold its last frame
        keep[-1] = True
    times = np.maximum(curve.times[keep], start_s) - start_s
    times[0] = 0.0
    left, right = curve.left[keep], curve.right[keep]
    frame_s = curve.frame_s
    covered = times[-1] + frame_s
    if covered + _TIME_TOLERANCE_S < duration_s:
        extra = times[-1] + frame_s * np.arange(1, int(np.ceil((duration_s - covered) / frame_s - 1e-9)) + 1)
        logger.info("the layer's curve ends %.3f s before the take: holding its last value", duration_s - covered)
        times = np.concatenate([times, extra])
        left = np.concatenate([left, np.full(len(extra), left[-1])])
        right = np.concatenate([right, np.full(len(extra), right[-1])])
    return LoudnessCurve(times, left, right)


def next_seed(layer: Layer, rng: np.random.Generator) -> int:
    """The seed for the layer's next generation: its own when locked, else a fresh one from ``rng``.

    A fresh seed leaves room for the variations, so every variation's seed (seed + i) is a valid
    layer seed.
    """
    if layer.seed_locked:
        return layer.seed
    high = SEED_RANGE[1] - (layer.variations - 1)
    return int(rng.integers(SEED_RANGE[0], high + 1))


# ---- generated takes -> project takes ---------------------------------------------------------
def take_name(layer: Layer, existing_names: Iterable[str], variation: int) -> str:
    """The name of a new take: "<layer> <n>", numbered after the layer's highest "<layer> <n>".

    ``variation`` (0-based, within one generation) counts on from there, so the takes of one
    generation get consecutive numbers without the caller adding names as it goes.
    """
    if isinstance(variation, bool) or not isinstance(variation, int) or variation < 0:
        raise ValueError(f"variation must be a whole number >= 0, got {variation!r}")
    pattern = re.compile(re.escape(layer.name) + r" (\d+)")
    numbers = [int(match.group(1)) for name in existing_names if (match := pattern.fullmatch(name))]
    return f"{layer.name} {max(numbers, default=0) + 1 + variation}"


def take_path(project: Project, layer: Layer, name: str) -> Path:
    """A .wav path for a take named ``name`` in the project's takes folder that does not exist yet.

    The folder is created. The file name is the take's name made safe for every file system
    (``layer`` is accepted so naming schemes may use it; the take name already contains it);
    when a file of that name exists, " (2)", " (3)", ... is added: a take never reuses a file.
    """
    folder = project.takes_folder()
    folder.mkdir(parents=True, exist_ok=True)
    stem = _UNSAFE_FILE_CHARS.sub("_", name).strip().rstrip(".") or f"{layer.id} take"
    path, number = folder / f"{stem}{TAKE_SUFFIX}", 2
    while path.exists():
        path, number = folder / f"{stem} ({number}){TAKE_SUFFIX}", number + 1
    return path


def takes_from_generated(project: Project, layer: Layer, generated_takes: Sequence,
                         start_s: float | None = None) -> list[Take]:
    """Write ``generated_takes`` (`engine.pipeline.GeneratedTake`, in variation order) into the takes
    folder and return their project `Take` values (not yet added to the layer).

    ``start_s`` is where the takes start on the timeline; by default the start of their video span
    (0 without one). It is recorded as the parameter ``video_start_s``.
    """
    existing = [take.name for take in layer.takes]
    takes = []
    for variation, generated in enumerate(sorted(generated_takes, key=lambda take: take.variation)):
        name = take_name(layer, existing, variation)
        take = project_take(generated, take_path(project, layer, name), name, project.folder)
        start = _start_of(generated) if start_s is None else float(start_s)
        takes.append(replace(take, parameters=FrozenMapping({**take.parameters, "video_start_s": start})))
        logger.info("take %r written to %s", name, take.audio.absolute)
    return takes


def _start_of(generated) -> float:
    video = generated.request.video
    return 0.0 if video is None else float(video.start_s)
