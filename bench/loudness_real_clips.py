"""Integrated loudness of real recordings: ours against pyloudnorm (DeMan filters); prints JSON.

  .venv/bin/python bench/loudness_real_clips.py FOLDER [FOLDER ...]

Every wav/flac/ogg/aiff file below the folders is read at its own rate and channel count and
measured twice: by `foleystudio.audio.loudness.measure` and by pyloudnorm's `integrated_loudness`
with `filter_class="DeMan"` (which matches BS.1770's filters; its default filter reads about
0.04 LU off at 44.1 kHz). Files shorter than one 400 ms gating block, and silent ones, have no
integrated loudness and are counted apart. Any folder of sounds will do; nothing is downloaded.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pyloudnorm

from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import measure
from foleystudio.errors import UserInputError

SUFFIXES = {".wav", ".flac", ".ogg", ".aif", ".aiff"}
TOLERANCE_LU = 0.01


def audio_files(folders: list[str]) -> list[Path]:
    return sorted(p for folder in folders for p in Path(folder).rglob("*") if p.suffix.lower() in SUFFIXES)


def both_readings(audio: np.ndarray, rate: int) -> tuple[float, float]:
    ours = measure(audio, rate).integrated_lufs
    theirs = pyloudnorm.Meter(rate, filter_class="DeMan").integrated_loudness(audio.T.astype(np.float64))
    return ours, theirs


def aligned(audio: np.ndarray, rate: int) -> np.ndarray | None:
    """The audio cut to 400 ms plus whole 100 ms steps, or None where 100 ms is no whole sample count."""
    if rate % 10:
        return None
    step = rate // 10
    return audio[:, : 4 * step + (audio.shape[1] - 4 * step) // step * step]


def compare(path: Path) -> dict | None:
    """Both integrated loudness readings of one file, or None when it has none (short, silent)."""
    audio, rate = read_audio(path)
    if audio.shape[1] < int(0.4 * rate):
        return None
    ours, theirs = both_readings(audio, rate)
    if math.isinf(ours) or math.isinf(theirs):
        return None
    result = {"file": str(path), "rate": rate, "channels": audio.shape[0], "ours": ours, "pyloudnorm": theirs}
    trimmed = aligned(audio, rate)
    if trimmed is not None:
        result["aligned_difference"] = abs(float(np.subtract(*both_readings(trimmed, rate))))
    return result


def summary(differences: np.ndarray) -> dict:
    if not len(differences):
        return {"compared": 0}
    return {
        "compared": len(differences),
        "max_abs_difference_lu": float(differences.max()),
        "mean_abs_difference_lu": float(differences.mean()),
        f"within_{TOLERANCE_LU}_lu": int((differences <= TOLERANCE_LU).sum()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args()
    files = audio_files(args.folders)
    if not files:
        print(f"no audio files below {', '.join(args.folders)}", file=sys.stderr)
        return 2
    results, skipped, unreadable = [], 0, []
    for path in files:
        try:
            result = compare(path)
        except UserInputError as error:
            unreadable.append(str(error))
            continue
        if result is None:
            skipped += 1
        else:
            results.append(result)
    differences = np.array([abs(r["ours"] - r["pyloudnorm"]) for r in results])
    aligned_differences = np.array([r["aligned_difference"] for r in results if "aligned_difference" in r])
    print(json.dumps({
        "files": len(files),
        "skipped_short_or_silent": skipped,
        "unreadable": unreadable,
        "sample_rates": sorted({r["rate"] for r in results}),
        "channel_counts": sorted({r["channels"] for r in results}),
        "as_is": summary(differences),
        "aligned": summary(aligned_differences),
        "worst_as_is": results[int(differences.argmax())] if results else None,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
