"""Constant memory: two hours of stereo 44.1 kHz audio, streamed through the meter block by block."""

import resource
import time

import numpy as np
import pytest

from foleystudio.audio.loudness import LoudnessMeter

RATE = 44100
HOURS = 2.0
BLOCK_S = 1.0
# Two hours of stereo float32 is 2.5 GB; the meter keeps a few series of small floats (a few MB).
AUDIO_BYTES = int(HOURS * 3600 * RATE * 2 * 4)
RSS_GROWTH_LIMIT_BYTES = 100 * 2**20


def programme_blocks(seed=2024):
    """Seeded noise whose level changes every second, with stretches of digital silence."""
    rng = np.random.default_rng(seed)
    blocks = int(HOURS * 3600 / BLOCK_S)
    size = int(BLOCK_S * RATE)
    for index in range(blocks):
        if index % 600 < 30:  # 30 s of silence every 10 minutes
            yield np.zeros((2, size), np.float32)
            continue
        level = np.float32(10 ** (rng.uniform(-40, -10) / 20))
        yield rng.standard_normal((2, size), dtype=np.float32) * level


def max_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


@pytest.mark.slow
def test_two_hours_stream_in_constant_memory():
    meter = LoudnessMeter(RATE, 2)
    blocks = programme_blocks()
    for _ in range(60):  # warm up: first minute, so caches and pools are in place
        meter.process(next(blocks))
    baseline = max_rss_bytes()
    started = time.perf_counter()
    for block in blocks:
        meter.process(block)
    report = meter.result()
    growth = max_rss_bytes() - baseline
    assert report.duration_s == pytest.approx(HOURS * 3600)
    assert len(report.curve) == int(HOURS * 3600 * 6)
    assert len(report.short_term) == int(HOURS * 3600 * 10) - 29
    assert -40 < report.integrated_lufs < 0
    assert growth < RSS_GROWTH_LIMIT_BYTES, f"peak RSS grew by {growth / 2**20:.0f} MiB"
    assert RSS_GROWTH_LIMIT_BYTES < AUDIO_BYTES / 20
    assert time.perf_counter() - started < 120
