"""Frame decoding: frame-accurate seeking, fixed-rate sampling, sizes, rotation, thumbnails.

Every synthetic frame shows its own index (tests/media.py), so each check names the exact frame.
"""

import math
import random
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from foleystudio.errors import MediaError, UserInputError
from foleystudio.video.frames import FrameReader, frame_at, iter_frames, read_frames, thumbnails
from foleystudio.video.probe import probe_media
from tests.media import decode_frame_index, frame_times, make_audio, make_video, make_video_from_images

RATES = [Fraction(24000, 1001), Fraction(30)]


@pytest.fixture(scope="module", params=RATES, ids=["23.976", "30"])
def clip(request, tmp_path_factory):
    """A 4 s clip with a keyframe every 15 frames (so seeking matters) and B-frames."""
    rate = request.param
    path = make_video(tmp_path_factory.mktemp("frames") / "clip.mp4", seconds=4, fps=rate, gop=15)
    return path, rate, probe_media(path)


def _indices(frames) -> list[int]:
    return [decode_frame_index(frame) for frame in frames]


def test_frame_at_is_frame_accurate_at_start_middle_and_end_of_each_frame(clip):
    path, rate, info = clip
    for k in range(info.video.frame_count):
        start = k / float(rate)
        for time_s in (start, start + 0.5 / float(rate), (k + 1) / float(rate) - 1e-4):
            assert decode_frame_index(frame_at(path, time_s, info=info)) == k, (k, time_s)


def test_frame_at_in_random_order(clip):
    path, rate, info = clip
    frames = list(range(info.video.frame_count))
    random.Random(5).shuffle(frames)
    for k in frames[:40]:
        assert decode_frame_index(frame_at(path, (k + 0.3) / float(rate), info=info)) == k


@pytest.mark.parametrize("suffix", [".mov", ".mkv", ".webm", ".avi"])
def test_seeking_in_other_containers(tmp_path, suffix):
    path = make_video(tmp_path / f"clip{suffix}", seconds=5, fps=25, gop=20, size=(64, 48), with_audio=True)
    info = probe_media(path)
    for k in (3, 110, 20, 79, 124, 0, 61):  # jumps forward and back across keyframes
        assert decode_frame_index(frame_at(path, (k + 0.5) / 25, info=info)) == k
    assert _indices(read_frames(path, 6, 32, start_s=3.0, info=info)) == [math.floor((3 + j / 6) * 25) for j in range(12)]


def test_frame_reader_jumps_back_and_forth(clip):
    path, rate, info = clip
    frames = list(range(info.video.frame_count))
    random.Random(9).shuffle(frames)
    with FrameReader(path, size=48, info=info) as reader:
        for k in frames + frames[:10]:
            image = reader.frame_at((k + 0.5) / float(rate))
            assert image.shape == (48, 48, 3)
            assert decode_frame_index(image) == k


def test_frame_at_rejects_times_outside_the_video(clip):
    path, _, info = clip
    with pytest.raises(UserInputError, match="outside clip.mp4"):
        frame_at(path, info.video.duration_s + 0.01, info=info)
    with pytest.raises(UserInputError, match="outside"):
        frame_at(path, -0.5, info=info)


@pytest.mark.parametrize("fps", [6, 8])
def test_read_frames_samples_the_frame_on_screen(clip, fps):
    path, rate, info = clip
    frames = read_frames(path, fps, 224, info=info)
    expected_count = math.ceil(info.video.duration_s * fps - 1e-9)
    assert frames.shape == (expected_count, 224, 224, 3)
    assert frames.dtype == np.uint8
    assert _indices(frames) == [math.floor(Fraction(k, fps) * rate) for k in range(expected_count)]


def test_read_frames_between_start_and_end(clip):
    path, rate, info = clip
    frames = read_frames(path, 8, (40, 30), start_s=2.5, end_s=3.5, info=info)
    assert frames.shape == (8, 30, 40, 3)
    assert _indices(frames) == [math.floor((Fraction(5, 2) + Fraction(k, 8)) * rate) for k in range(8)]


def test_native_size_and_iter_frames_match_read_frames(clip):
    path, _, info = clip
    stacked = read_frames(path, 6, None, end_s=1.5, info=info)
    assert stacked.shape == (9, 96, 128, 3)
    pairs = list(iter_frames(path, 6, None, end_s=1.5, info=info))
    assert [t for t, _ in pairs] == pytest.approx([k / 6 for k in range(9)])
    assert np.array_equal(np.stack([frame for _, frame in pairs]), stacked)


def test_thumbnails_are_evenly_spaced(clip):
    path, rate, info = clip
    strip = thumbnails(path, 5, 32, info=info)
    duration = info.video.duration_s
    assert [t for t, _ in strip] == pytest.approx([(i + 0.5) * duration / 5 for i in range(5)])
    assert all(image.shape == (32, 43, 3) for _, image in strip)  # 128x96 is 4:3
    assert [decode_frame_index(image) for _, image in strip] == [math.floor(t * rate) for t, _ in strip]


def test_centre_crop_keeps_the_middle(tmp_path):
    # A 2:1 picture: red left quarter, green middle half, blue right quarter.
    image = np.zeros((64, 128, 3), np.uint8)
    image[:, :32, 0] = 255
    image[:, 32:96, 1] = 255
    image[:, 96:, 2] = 255
    path = make_video_from_images(tmp_path / "wide.mp4", [image] * 4)
    square = read_frames(path, 1, 32)[0]
    assert square.shape == (32, 32, 3)
    mean = square.reshape(-1, 3).mean(axis=0)
    assert mean[1] > 200 and mean[0] < 30 and mean[2] < 30  # only the green middle is left
    stretched = read_frames(path, 1, (40, 10))[0]  # explicit size: the whole picture, squeezed
    assert stretched.shape == (10, 40, 3)
    assert stretched[:, 2, 0].mean() > 200 and stretched[:, 37, 2].mean() > 200


def test_variable_frame_rate_frames_are_found_by_timestamp(tmp_path):
    path = make_video(tmp_path / "vfr.mp4", seconds=2, fps=30, vfr=True, gop=10)
    info = probe_media(path)
    assert info.video.variable_frame_rate
    times = [float(t) for t in frame_times(2, 30, vfr=True)]
    for k, (start, end) in enumerate(zip(times, times[1:])):
        assert decode_frame_index(frame_at(path, start, info=info)) == k
        assert decode_frame_index(frame_at(path, end - 1e-3, info=info)) == k
    sampled = read_frames(path, 10, 48, info=info)
    expected = [max(i for i, t in enumerate(times) if t <= k / 10 + 1e-9) for k in range(len(sampled))]
    assert _indices(sampled) == expected


def test_rotation_is_applied(tmp_path):
    path = make_video(tmp_path / "portrait.mp4", seconds=1, size=(128, 96), rotation=90)
    frame = frame_at(path, 20.2 / 24)  # frame 20 = 0b00010100: two bands lit
    assert frame.shape == (128, 96, 3)  # displayed portrait
    # Rotated 90 degrees counter-clockwise: turning it back clockwise restores the bands.
    assert decode_frame_index(np.rot90(frame, -1)) == 20
    frames = read_frames(path, 4, (48, 64))
    assert frames.shape == (4, 64, 48, 3)
    assert [decode_frame_index(np.rot90(f, -1)) for f in frames] == [0, 6, 12, 18]


def test_iter_frames_holds_one_frame_at_a_time(tmp_path):
    path = make_video(tmp_path / "long.mp4", seconds=30, fps=24, size=(64, 48), gop=48)
    tracemalloc.start()
    try:
        count = 0
        for _, frame in iter_frames(path, 24, None):
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 720
    whole = 720 * 64 * 48 * 3
    assert peak < whole / 4, f"peak {peak} bytes while iterating; all frames would be {whole}"


def test_audio_only_file_has_no_frames(tmp_path):
    path = make_audio(tmp_path / "sound.wav", seconds=1)
    with pytest.raises(MediaError, match="sound.wav has no video stream"):
        read_frames(path, 6, 224)


def test_bad_arguments(clip):
    path, _, info = clip
    with pytest.raises(UserInputError, match="frame rate"):
        read_frames(path, 0, 224, info=info)
    with pytest.raises(UserInputError, match="frame size"):
        read_frames(path, 6, 0, info=info)
    with pytest.raises(UserInputError, match="frame size"):
        read_frames(path, 6, (10,), info=info)
    with pytest.raises(UserInputError, match="start time"):
        read_frames(path, 6, 32, start_s=10.0, info=info)
    with pytest.raises(UserInputError, match="thumbnail count"):
        thumbnails(path, 0, 32, info=info)
