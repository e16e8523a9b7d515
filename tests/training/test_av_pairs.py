"""The AV renderer: deterministic for a seed, and its picture follows the sound."""

import numpy as np
import pytest

from foleystudio.training.av_pairs import SHAPES, render_av_pair, render_frames, write_av_pair_mp4
from foleystudio.training.onsets import motion_peaks

RATE = 44100


def noise(seconds, seed=0, level=0.1):
    return (level * np.random.default_rng(seed).standard_normal((2, int(seconds * RATE)))).astype(np.float32)


def test_same_seed_same_frames_other_seed_different():
    audio = noise(1.5)
    first = render_av_pair(audio, noise(1.5, 1), seed=7, caption_on="door", caption_off="rain")
    again = render_av_pair(audio, noise(1.5, 1), seed=7, caption_on="door", caption_off="rain")
    other = render_av_pair(audio, noise(1.5, 1), seed=8)
    assert first.frames.dtype == np.uint8 and first.frames.shape == (12, 64, 64, 3)
    assert np.array_equal(first.frames, again.frames) and np.array_equal(first.audio, again.audio)
    assert not np.array_equal(first.frames, other.frames)
    assert first.caption == "on screen: door; off screen: rain"


def test_seeds_vary_shapes_and_backgrounds():
    audio = noise(0.5)
    looks = {(p.shape, p.background) for p in (render_av_pair(audio, seed=s) for s in range(40))}
    assert {shape for shape, _ in looks} == set(SHAPES)
    assert len({background for _, background in looks}) == 3


def pan_sweep(seconds=2.0):
    audio = noise(seconds)
    pan = np.linspace(0.0, 1.0, audio.shape[1])
    audio[0] *= np.cos(pan * np.pi / 2)
    audio[1] *= np.sin(pan * np.pi / 2)
    return audio


def test_source_follows_left_right_balance():
    # A plain background so the shape is easy to find: seeds vary, the mapping must hold for all.
    for seed in range(4):
        pair = render_av_pair(pan_sweep(), seed=seed, size=(48, 96))
        positions = [_shape_x(pair, k) for k in (1, len(pair.frames) // 2, len(pair.frames) - 2)]
        assert positions[0] < 96 * 0.4 and positions[2] > 96 * 0.6, positions
        assert positions[0] < positions[1] < positions[2]


def _shape_x(pair, k):
    colour = pair.frames[k].astype(float)
    # The shape is the region whose colour differs most from the frame's most common (border) colour.
    border = np.median(np.concatenate([colour[0], colour[-1]]), axis=0)
    distance = np.abs(colour - border).sum(axis=-1)
    weights = distance * (distance > distance.max() * 0.5)
    return (weights.sum(axis=0) * np.arange(colour.shape[1])).sum() / weights.sum()


def area(pair, k):
    colour = pair.frames[k].astype(float)
    background = np.median(np.concatenate([colour[0], colour[-1], colour[:, 0], colour[:, -1]]), axis=0)
    return int((np.abs(colour - background).sum(axis=-1) > 60).sum())


def test_louder_is_bigger():
    quiet = render_av_pair(noise(1.0, level=0.003), seed=2)
    loud = render_av_pair(noise(1.0, level=0.2), seed=2)
    assert area(loud, 4) > 2 * area(quiet, 4)


def test_onsets_flash_at_their_frames():
    rng = np.random.default_rng(0)
    audio = np.zeros((2, 3 * RATE), np.float32)
    for t in (0.4, 1.3, 2.2):
        start, length = int(t * RATE), int(0.1 * RATE)
        audio[:, start:start + length] = 0.3 * rng.standard_normal(length) * np.exp(-np.arange(length) / 2000)
    pair = render_av_pair(audio, seed=5)
    assert list(pair.onset_frames()) == [3, 10, 17]
    brightness = pair.frames.astype(float).mean(axis=(1, 2, 3))
    for frame in pair.onset_frames():
        assert brightness[frame] > brightness[frame - 1] + 5
    assert list(np.round(motion_peaks(pair.frames, pair.fps) * pair.fps).astype(int)) == [3, 10, 17]


def test_off_screen_source_changes_the_mix_not_the_picture():
    on, off = noise(1.0, 0), noise(1.0, 1)
    alone = render_av_pair(on, None, seed=3)
    mixed = render_av_pair(on, off, seed=3, caption_off="wind")
    assert np.array_equal(alone.frames, mixed.frames)
    assert not np.allclose(alone.audio, mixed.audio)
    assert alone.curve == mixed.curve


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        render_av_pair(np.zeros((1, 100), np.float32), seed=0)
    with pytest.raises(ValueError):
        render_av_pair(noise(0.5), seed=0, fps=0)


def test_mp4_round_trip(tmp_path):
    from foleystudio.video.probe import probe_media

    pair = render_av_pair(noise(1.0), seed=1, size=(32, 48))
    path = write_av_pair_mp4(pair, tmp_path / "pair.mp4")
    info = probe_media(path)
    assert (info.video.width, info.video.height, info.video.frame_count) == (48, 32, 8)
    assert info.audio and info.audio[0].channels == 2


def test_any_stretch_of_the_picture_is_drawn_again_from_curve_onsets_and_seed():
    audio = pan_sweep(3.0)
    audio[:, RATE : RATE + 400] *= 30.0  # an onset at 1 s
    pair = render_av_pair(audio, noise(3.0, 2), seed=11, fps=8.0)
    assert len(pair.onsets_s) >= 1
    stretch = render_frames(pair.curve, pair.onsets_s, seed=11, fps=8.0, first=5, count=10)
    assert np.array_equal(stretch, pair.frames[5:15])
    before = render_frames(pair.curve, pair.onsets_s, seed=11, fps=8.0, first=-1, count=2)
    assert np.array_equal(before[0], pair.frames[0]) and np.array_equal(before[1], pair.frames[0])
    other_seed = render_frames(pair.curve, pair.onsets_s, seed=12, fps=8.0, first=5, count=10)
    assert not np.array_equal(other_seed, stretch)
