"""The demo scene: a short stereo Foley clip synthesised by our own code (no third-party media).

Wind ambience throughout, footsteps that walk from left to right, and a door slam near the end:
a clip whose per-channel loudness curve visibly shows onsets, panning and a level jump, so the
demo exercises what the loudness engine is for.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

DEMO_SAMPLE_RATE = 44100
DEMO_DURATION_S = 10.0
_SEED = 2024


def _wind(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Low-passed, slowly swelling noise, decorrelated between the channels."""
    noise = rng.standard_normal((2, n))
    sos = signal.butter(2, 700.0, "lowpass", fs=rate, output="sos")
    wind = signal.sosfilt(sos, noise, axis=1)
    t = np.arange(n) / rate
    swell = 0.55 + 0.45 * np.sin(2 * np.pi * 0.15 * t - 1.2) ** 2
    return 0.05 * wind * swell


def _footstep(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A heel-toe scuff: band-passed noise with a fast decay over a low thump."""
    n = int(0.18 * rate)
    t = np.arange(n) / rate
    sos = signal.butter(2, (250.0, 3500.0), "bandpass", fs=rate, output="sos")
    scuff = signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.025)
    thump = np.sin(2 * np.pi * 85.0 * t) * np.exp(-t / 0.04)
    return 0.5 * scuff + 0.35 * thump


def _door_slam(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A wooden slam: low body resonance, a click, and a short room tail."""
    n = int(0.9 * rate)
    t = np.arange(n) / rate
    body = np.sin(2 * np.pi * 62.0 * t) * np.exp(-t / 0.09)
    click = rng.standard_normal(n) * np.exp(-t / 0.004)
    sos = signal.butter(2, 1800.0, "lowpass", fs=rate, output="sos")
    tail = signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-t / 0.18) * 0.25
    return 0.5 * body + 0.35 * click + tail


def _place(out: np.ndarray, sound: np.ndarray, start: int, pan: float) -> None:
    """Add a mono sound at ``start`` with an equal-power pan (-1 left .. +1 right)."""
    angle = (pan + 1.0) * np.pi / 4.0
    end = min(out.shape[1], start + len(sound))
    out[0, start:end] += np.cos(angle) * sound[: end - start]
    out[1, start:end] += np.sin(angle) * sound[: end - start]


STEP_TIMES_S = tuple(float(t) for t in np.arange(1.0, 7.2, 0.55))
DOOR_TIME_S = 8.0


def render_demo_parts(sample_rate: int = DEMO_SAMPLE_RATE) -> dict[str, np.ndarray]:
    """The scene's three sounds apart, float32 stereo (2, samples) each: "wind", "footsteps", "door".

    Their sum, clipped, is `render_demo_scene` (the same random draws in the same order).
    """
    rng = np.random.default_rng(_SEED)
    n = int(DEMO_DURATION_S * sample_rate)
    wind = _wind(rng, n, sample_rate)
    steps = np.zeros((2, n))
    for index, time_s in enumerate(STEP_TIMES_S):
        pan = -0.9 + 1.8 * index / (len(STEP_TIMES_S) - 1)
        _place(steps, _footstep(rng, sample_rate), int(time_s * sample_rate), pan)
    door = np.zeros((2, n))
    _place(door, _door_slam(rng, sample_rate), int(DOOR_TIME_S * sample_rate), 0.1)
    return {name: part.astype(np.float32) for name, part in (("wind", wind), ("footsteps", steps), ("door", door))}


def render_demo_scene(sample_rate: int = DEMO_SAMPLE_RATE) -> np.ndarray:
    """The demo clip as float32 stereo, shape (2, samples); the same every time."""
    parts = render_demo_parts(sample_rate)
    total = sum(part.astype(np.float64) for part in parts.values())
    return np.clip(total, -0.98, 0.98).astype(np.float32)
