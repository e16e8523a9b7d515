"""Composite training sounds: long arrangements of the training split's short clips.

Why: the open corpus's training split is mostly single game sound effects about a second long
(median 1.06 s), so the generator has heard almost no long stretch of footsteps, of a room with a
door in it, or of steady wind, which is what a layer asks for (the demo's layers are 10 s).
`compose_sequences` arranges clips of one caption from one package into ``seconds``-long sounds,
by how that kind of sound goes on:

* steps (footsteps): one clip after another at a walking pace (a period drawn per sequence from
  STEP_PERIOD_S, each step up to STEP_JITTER early or late and GAIN_JITTER_DB louder or softer,
  left and right feet panned a little apart); only clips up to STEP_MAX_S, so one step is one clip;
* loops (ambience, weather, water, fire, engines, machines; clips of at least LOOP_MIN_S): the
  clips end to end with equal-power crossfades of CROSSFADE_S, from a random point of the first;
* events (every other labelled category): one to MAX_EVENTS instances at random times at least
  EVENT_GAP_S apart, silence between; only clips up to half of ``seconds``.

Unlabelled clips are left out: nothing says how they go on. Only training-split clips are read, so
nothing held out leaks in, and each composite takes clips of one package with one licence and
credit, which its sidecar gives. The result is a library (``out/library``: WAV files with JSON
sidecars that `training.captions` reads) and its index (``out/index``, every clip in the training
split), which `dataset features` turns into a feature cache for ``finetune --data A --data B``.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

__all__ = ["SequenceReport", "arrangement_of", "compose_sequences", "events", "loop", "steps"]

SAMPLE_RATE = 44100
STEP_CATEGORIES = frozenset({"footsteps"})
LOOP_CATEGORIES = frozenset({"ambience", "wind/weather", "water/rain", "fire", "vehicles/engines",
                             "machines/tools/household"})
STEP_PERIOD_S = (0.45, 0.65)  # a walking pace: about 90-130 steps a minute
STEP_JITTER = 0.08  # a step is up to 8 % of the period early or late
GAIN_JITTER_DB = 1.5  # each step or event up to this much louder or softer
STEP_PAN_DB = 1.0  # the left foot a little louder on the left, the right on the right
STEP_MAX_S = 1.0
LOOP_MIN_S = 2.0
CROSSFADE_S = 0.1
EVENT_GAP_S = 1.5
MAX_EVENTS = 3
READ_AT_MOST = 8  # clips read per composite (groups of long ambiences are large files)
PEAK_LIMIT = 0.98  # a composite whose sum peaks above this is scaled down as a whole


@dataclass(frozen=True)
class SequenceReport:
    out_dir: Path
    written: dict[str, int]  # arrangement -> composites written
    seconds: float
    sources: int

    def summary(self) -> str:
        kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(self.written.items()))
        return (f"{sum(self.written.values())} composites ({kinds}), {self.seconds / 3600:.2f} h, "
                f"from {self.sources} packages")


def arrangement_of(category: str) -> str | None:
    """How a sound of ``category`` goes on: "steps", "loop", "events", or None when unlabelled."""
    if not category:
        return None
    if category in STEP_CATEGORIES:
        return "steps"
    return "loop" if category in LOOP_CATEGORIES else "events"


def _placed(out: np.ndarray, sound: np.ndarray, start: int, gains: np.ndarray) -> None:
    """Add ``sound`` (2, n) into ``out`` from sample ``start`` with per-channel ``gains``, cut at the end."""
    if start >= out.shape[1]:
        return
    length = min(sound.shape[1], out.shape[1] - start)
    out[:, start : start + length] += sound[:, :length] * gains[:, None]


def _db(value: float) -> float:
    return float(10.0 ** (value / 20.0))


def steps(clips: Sequence[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Footsteps: ``clips`` one after another at a walking pace for ``seconds`` (2, n)."""
    out = np.zeros((2, int(round(seconds * SAMPLE_RATE))), dtype=np.float32)
    period = rng.uniform(*STEP_PERIOD_S)
    time = rng.uniform(0.0, period)
    foot = int(rng.integers(0, 2))
    while time < seconds:
        late = rng.uniform(-STEP_JITTER, STEP_JITTER) * period
        gain = _db(rng.uniform(-GAIN_JITTER_DB, GAIN_JITTER_DB))
        side = STEP_PAN_DB / 2 if foot == 0 else -STEP_PAN_DB / 2
        gains = np.array([gain * _db(side), gain * _db(-side)], dtype=np.float32)
        sound = clips[int(rng.integers(0, len(clips)))]
        _placed(out, sound, int(round(max(0.0, time + late) * SAMPLE_RATE)), gains)
        time += period
        foot = 1 - foot
    return out


def loop(clips: Sequence[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A steady sound: ``clips`` end to end with equal-power crossfades, for ``seconds`` (2, n)."""
    total = int(round(seconds * SAMPLE_RATE))
    fade = int(round(CROSSFADE_S * SAMPLE_RATE))
    first = clips[int(rng.integers(0, len(clips)))]
    start = int(rng.integers(0, max(1, first.shape[1] - 2 * fade)))
    out = first[:, start:].astype(np.float32, copy=True)
    ramp = np.sin(np.linspace(0.0, np.pi / 2, fade, dtype=np.float32))  # equal power: sin^2 + cos^2 = 1
    while out.shape[1] < total:
        sound = clips[int(rng.integers(0, len(clips)))]
        join = min(fade, out.shape[1], sound.shape[1])
        mixed = out[:, out.shape[1] - join :] * ramp[::-1][-join:] + sound[:, :join] * ramp[-join:]
        out = np.concatenate([out[:, : out.shape[1] - join], mixed, sound[:, join:]], axis=1)
    return out[:, :total]


def events(clips: Sequence[np.ndarray], seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Separate events: one to MAX_EVENTS of ``clips`` at random times in silence, for ``seconds`` (2, n)."""
    out = np.zeros((2, int(round(seconds * SAMPLE_RATE))), dtype=np.float32)
    count = int(rng.integers(1, MAX_EVENTS + 1))
    times: list[float] = []
    for _ in range(count * 20):  # rejection sampling of start times at least EVENT_GAP_S apart
        if len(times) == count:
            break
        candidate = rng.uniform(0.0, seconds - 0.5)
        if all(abs(candidate - other) >= EVENT_GAP_S for other in times):
            times.append(candidate)
    for time in times:
        sound = clips[int(rng.integers(0, len(clips)))]
        gain = _db(rng.uniform(-GAIN_JITTER_DB, GAIN_JITTER_DB))
        _placed(out, sound, int(round(time * SAMPLE_RATE)), np.array([gain, gain], dtype=np.float32))
    return out


ARRANGE: dict[str, Callable[[Sequence[np.ndarray], float, np.random.Generator], np.ndarray]] = {
    "steps": steps, "loop": loop, "events": events}


def _eligible(clip, kind: str, seconds: float) -> bool:
    if kind == "steps":
        return clip.duration_s <= STEP_MAX_S
    if kind == "loop":
        return clip.duration_s >= LOOP_MIN_S
    return clip.duration_s <= seconds / 2


def _groups(clips, seconds: float) -> dict[str, dict[tuple[str, str, str, str], list]]:
    """category -> (caption, source, licence, credit) -> its eligible training clips (a composite
    is made of one group, so the licence and credit its sidecar gives are every clip's)."""
    groups: dict[str, dict[tuple[str, str, str, str], list]] = defaultdict(lambda: defaultdict(list))
    for clip in clips:
        kind = arrangement_of(clip.category)
        if clip.split == "train" and clip.caption and kind and _eligible(clip, kind, seconds):
            groups[clip.category][(clip.caption, clip.source, clip.licence, clip.credit)].append(clip)
    return {category: dict(by_group) for category, by_group in groups.items()}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "sound"


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UserInputError(f"{out} already exists and is not an empty folder; choose another (nothing is overwritten)")


def compose_sequences(index, out_dir, *, per_category: int = 60, seconds: float = 10.0, seed: int = 0,
                      progress: Callable[[int, int], None] | None = None) -> SequenceReport:
    """Write ``per_category`` composites of ``seconds`` for each labelled category of ``index``'s
    training split into ``out_dir/library`` and index them into ``out_dir/index``.

    index: an index folder or an `Index`. Each composite picks one (caption, package, licence) group
    of the category at random (so captions, not big packages, share the count) and arranges its clips.
    """
    from foleystudio.training.index import index_library, read_index

    if per_category < 1 or not seconds >= 2.0:
        raise UserInputError("composites need --per-category of at least 1 and --seconds of at least 2")
    index = read_index(index) if isinstance(index, (str, Path)) else index
    out = Path(out_dir)
    _check_out(out)
    groups = _groups(index.clips, seconds)
    if not groups:
        raise UserInputError("the index has no labelled training clips to compose from")
    rng = np.random.default_rng(seed)
    written: dict[str, int] = defaultdict(int)
    used_sources: set[str] = set()
    total = per_category * len(groups)
    done = 0
    for category in sorted(groups):
        kind = arrangement_of(category)
        keys = sorted(groups[category])
        for number in range(per_category):
            key = keys[int(rng.integers(0, len(keys)))]
            caption, source, licence, credit = key
            audio = ARRANGE[kind](_read_some(groups[category][key], index.library_root, seconds, rng), seconds, rng)
            peak = float(np.max(np.abs(audio))) if audio.size else 0.0
            if peak > PEAK_LIMIT:
                audio *= PEAK_LIMIT / peak
            _write(out / "library" / _slug(category) / f"{_slug(caption)}-{number:04d}.wav", audio,
                   {"caption": caption, "category": category, "source": source,
                    "licence": licence, "credit": credit})
            written[kind] += 1
            used_sources.add(source)
            done += 1
            if progress is not None:
                progress(done, total)
    # Every composite is made of training clips: none is held out (val_fraction 0).
    index_library(out / "library", out / "index", val_fraction=0.0)
    report = SequenceReport(out, dict(written), done * seconds, len(used_sources))
    logger.info("composites %s: %s", out, report.summary())
    return report


def _read_some(clips: Sequence, root: Path, seconds: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Up to READ_AT_MOST of ``clips``, drawn at random, read as (2, n) at 44.1 kHz (at most ``seconds``
    of each: a loop never needs more of one clip)."""
    from foleystudio.audio.io import read_audio

    chosen = rng.choice(len(clips), size=min(READ_AT_MOST, len(clips)), replace=False)
    return [read_audio(clips[int(i)].absolute(root), sample_rate=SAMPLE_RATE, channels=2, duration_s=seconds)[0]
            for i in sorted(chosen)]


def _write(path: Path, audio: np.ndarray, sidecar: dict[str, str]) -> None:
    from foleystudio.atomic import write_text_atomic
    from foleystudio.audio.wav import write_wav

    path.parent.mkdir(parents=True, exist_ok=True)
    write_wav(path, audio, SAMPLE_RATE, bit_depth=24)
    write_text_atomic(path.with_name(path.name + ".json"), json.dumps(sidecar, ensure_ascii=False, indent=1) + "\n")
