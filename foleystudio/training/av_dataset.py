"""A folder of rendered audio-visual training pairs for the LUFS predictor (and, later, the video branch).

Each pair takes a clip of the index's split as the on-screen sound and, with probability
``off_screen_probability``, another clip of the same split as an off-screen sound (VinTAGe-style),
renders the picture with `av_pairs.render_av_pair`, and stores ``pair-NNNNN.safetensors`` holding
``frames`` (uint8 [T, H, W, 3] at ``fps``) and ``curve`` (float32 [T, 2]: the on-screen source's
left/right loudness at the same rate, the LUFS predictor's target), plus one line of
``pairs.jsonl`` per pair (clip ids, captions, onsets, seed), so a pair can be rendered again.

The default rate is 6 fps with 6 Hz curves: the LUFS predictor's rate (`engine.lufs_predictor`), so
frame k and curve frame k describe the same 1/6 s. Deterministic for a seed: pair i uses seed + i.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from foleystudio.atomic import write_text_atomic
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.io import read_audio
from foleystudio.errors import MediaError, UserInputError
from foleystudio.training.av_pairs import render_av_pair

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100


@dataclass(frozen=True)
class AVDatasetReport:
    out_dir: Path
    pairs: int
    skipped: tuple[str, ...]
    bytes: int

    def summary(self) -> str:
        return (f"{self.pairs} pairs ({self.bytes / 2**20:.1f} MiB), "
                f"{len(self.skipped)} clip(s) skipped as unreadable")


def render_av_dataset(
    index,
    out_dir: str | Path,
    *,
    count: int | None = None,
    split: str = "train",
    seed: int = 0,
    fps: float = 6.0,
    size: int = 64,
    seconds: float = 4.0,
    off_screen_probability: float = 0.5,
    progress: Callable[[int, int], None] | None = None,
) -> AVDatasetReport:
    """Render ``count`` pairs (default: one per clip of ``split``) into ``out_dir``.

    ``index`` is an index folder or an object with ``.library_root`` and ``.split(name)``.
    """
    index = _as_index(index)
    clips = list(index.split(split))
    if not clips:
        raise UserInputError(f"the index has no {split} clips to render pairs from")
    if not 0.0 <= off_screen_probability <= 1.0:
        raise UserInputError(f"off-screen probability must be 0..1, got {off_screen_probability}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    total = len(clips) if count is None else int(count)
    rng = np.random.default_rng(seed)
    lines, skipped, written = [], [], 0
    for number in range(total):
        on_clip = clips[number % len(clips)]
        off_clip = clips[int(rng.integers(len(clips)))] if rng.random() < off_screen_probability else None
        on_audio = _audio(index, on_clip, seconds)
        if on_audio is None:
            skipped.append(on_clip.path)
            continue
        off_audio = _audio(index, off_clip, seconds) if off_clip is not None and off_clip is not on_clip else None
        pair = render_av_pair(on_audio, off_audio, seed=seed + number, fps=fps, size=(size, size),
                              duration_s=seconds, caption_on=on_clip.caption,
                              caption_off=off_clip.caption if off_audio is not None else "")
        path = out_dir / f"pair-{number:05d}.safetensors"
        save_file({"frames": torch.from_numpy(np.ascontiguousarray(pair.frames)),
                   "curve": torch.from_numpy(_curve_at(pair.curve, len(pair.frames), fps))}, str(path))
        lines.append(json.dumps({"file": path.name, "on_clip": on_clip.id, "off_clip": off_clip.id if off_audio is not None else None,
                                 "caption": pair.caption, "onsets_s": [round(float(t), 4) for t in pair.onsets_s],
                                 "seed": seed + number, "fps": fps}))
        written += 1
        if progress is not None:
            progress(number + 1, total)
    write_text_atomic(out_dir / "pairs.jsonl", "\n".join(lines) + ("\n" if lines else ""), overwrite=True)
    size_bytes = sum(path.stat().st_size for path in out_dir.glob("pair-*.safetensors"))
    report = AVDatasetReport(out_dir, written, tuple(skipped), size_bytes)
    logger.info("AV pairs in %s: %s", out_dir, report.summary())
    return report


def _as_index(index):
    if isinstance(index, (str, Path)):
        from foleystudio.training.index import read_index

        return read_index(index)
    return index


def _audio(index, clip, seconds: float) -> np.ndarray | None:
    try:
        audio, _ = read_audio(clip.absolute(index.library_root), sample_rate=SAMPLE_RATE, channels=2,
                              duration_s=seconds)
    except (MediaError, UserInputError) as error:
        logger.warning("skipping %s: %s", clip.path, error)
        return None
    return np.ascontiguousarray(audio, dtype=np.float32)


def _curve_at(curve: LoudnessCurve, frames: int, fps: float) -> np.ndarray:
    """The curve on the frames' times, [frames, 2] float32 (the last value held past its end)."""
    times = np.arange(frames) / fps
    left, right = curve.values_at(times)
    return np.stack([left, right], axis=1).astype(np.float32)
