"""Benchmark of the loudness engine against pyloudnorm-based baselines; prints one JSON object.

  .venv/bin/python bench/loudness.py [--quick]

1. The per-channel curve (1/6 s window and hop) of 60 s of stereo 44.1 kHz audio. Baseline: what
   one would write with pyloudnorm: its "DeMan" K-weighting filters applied to each channel
   (scipy lfilter per stage), then each frame's mean square in a Python loop.
2. A full measurement of 10 minutes of stereo 44.1 kHz audio: curve, momentary, short-term,
   integrated, loudness range, maxima, true peak and sample peak. Baseline: pyloudnorm's
   integrated_loudness plus loudness_range (no curve, no momentary/short-term series, no peaks).

Both run on one core: BLAS/OpenMP threads are limited to 1 before numpy is imported, and the
process is pinned to a single CPU. Times are medians of several runs (wall clock).
"""

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pyloudnorm  # noqa: E402
from pyloudnorm.iirfilter import IIRfilter  # noqa: E402

from foleystudio.audio.loudness import loudness_curve, measure  # noqa: E402

RATE = 44100


def pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not available on this platform (thread count limited to 1 only)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}; OMP/OpenBLAS/MKL threads = 1"


def programme(seconds: float, seed: int) -> np.ndarray:
    """Stereo noise whose level follows a random envelope (a new level every 100 ms, -45 to -10
    dBFS, smoothed), with some seconds of digital silence: programme-like dynamics."""
    rng = np.random.default_rng(seed)
    count = int(seconds * RATE)
    steps = rng.uniform(-45, -10, int(seconds * 10) + 1)
    steps[rng.uniform(size=len(steps)) < 0.05] = -200.0
    envelope = 10 ** (np.repeat(steps, RATE // 10)[:count] / 20)
    envelope = np.convolve(envelope, np.ones(441) / 441, mode="same")
    return (rng.standard_normal((2, count)) * envelope).astype(np.float32)


def median_time(function, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def baseline_curve(samples: np.ndarray) -> np.ndarray:
    filters = [
        IIRfilter(3.99984385397, 0.7071752369554193, 1681.9744509555319, RATE, "high_shelf_DeMan"),
        IIRfilter(0.0, 0.5003270373253953, 38.13547087613982, RATE, "high_pass_DeMan"),
    ]
    frame = RATE // 6
    values = []
    for channel in np.asarray(samples, dtype=np.float64):
        for stage in filters:
            channel = stage.apply_filter(channel)
        frames = []
        for start in range(0, len(channel) - frame // 2, frame):
            mean_square = np.mean(channel[start : start + frame] ** 2)
            frames.append(max(-70.0, -0.691 + 10 * np.log10(mean_square)) if mean_square > 0 else -70.0)
        values.append(frames)
    return np.array(values)


def baseline_full(samples: np.ndarray) -> tuple[float, float]:
    meter = pyloudnorm.Meter(RATE, filter_class="DeMan")
    data = np.asarray(samples, dtype=np.float64).T
    return meter.integrated_loudness(data), meter.loudness_range(data)


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and a 1-minute full measurement")
    args = parser.parse_args()
    pinning = pin_to_one_cpu()
    curve_runs, full_runs, full_seconds = (3, 1, 60.0) if args.quick else (9, 3, 600.0)

    minute = programme(60.0, seed=1)
    loudness_curve(minute, RATE)  # warm-up: imports, first allocations
    ours_curve_s, ours_curve = median_time(lambda: loudness_curve(minute, RATE), curve_runs)
    base_curve_s, base_values = median_time(lambda: baseline_curve(minute), max(3, curve_runs // 3))
    curve_difference = float(
        np.max(np.abs(np.stack([ours_curve.left, ours_curve.right]) - base_values[:, : len(ours_curve)]))
    )

    long = programme(full_seconds, seed=2)
    ours_full_s, report = median_time(lambda: measure(long, RATE), full_runs)
    base_full_s, (base_integrated, base_range) = median_time(lambda: baseline_full(long), full_runs)

    print(
        json.dumps(
            {
                "single_core": pinning,
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "processor": platform.processor() or platform.machine(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "scipy": version("scipy"),
                "torch": version("torch"),
                "pyloudnorm": version("pyloudnorm"),
                "signal": "seeded stereo noise, random 100 ms levels -45..-10 dBFS, 5 % silent steps",
                "curve_60s_stereo_44k1": {
                    "runs": curve_runs,
                    "ours_s": round(ours_curve_s, 4),
                    "baseline_s": round(base_curve_s, 4),
                    "speedup": round(base_curve_s / ours_curve_s, 2),
                    "baseline": "pyloudnorm DeMan IIRfilter per channel + per-frame mean square in a Python loop",
                    "max_abs_difference_lu": float(f"{curve_difference:.3g}"),
                },
                "full_measurement_stereo_44k1": {
                    "seconds_of_audio": full_seconds,
                    "runs": full_runs,
                    "ours_s": round(ours_full_s, 3),
                    "baseline_s": round(base_full_s, 3),
                    "speedup": round(base_full_s / ours_full_s, 2),
                    "ours_covers": (
                        "curve, momentary + short-term series, integrated, LRA, max M/S, true peak, sample peak"
                    ),
                    "baseline_covers": "pyloudnorm integrated_loudness + loudness_range only",
                    "ours_integrated_lufs": round(report.integrated_lufs, 4),
                    "baseline_integrated_lufs": round(base_integrated, 4),
                    "ours_lra_lu": round(report.loudness_range_lu, 3),
                    "baseline_lra_lu": round(base_range, 3),
                    "ours_true_peak_dbtp": round(report.true_peak_dbtp, 3),
                    "realtime_factor": round(full_seconds / ours_full_s, 1),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
