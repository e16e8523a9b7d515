"""probe_media / require_video: stream facts, exact frame rates, and every kind of bad input."""

from fractions import Fraction

import pytest

from foleystudio.errors import MediaError
from foleystudio.video.probe import (
    MIN_VIDEO_SECONDS,
    probe_media,
    require_video,
    snap_frame_rate,
    variable_frame_rate_warning,
)
from tests.media import make_audio, make_video


@pytest.mark.parametrize(
    ("fps", "frames"),
    [(Fraction(24000, 1001), 48), (Fraction(30000, 1001), 60), (Fraction(25), 50), (Fraction(30), 60)],
)
def test_mp4_frame_rate_is_exact_and_count_comes_from_header(tmp_path, fps, frames):
    path = make_video(tmp_path / "clip.mp4", seconds=frames / fps, fps=fps, size=(64, 48))
    info = probe_media(path)
    video = info.video
    assert video.frame_rate == fps
    assert isinstance(video.frame_rate, Fraction)
    assert video.frame_count == frames
    assert video.frame_count_source == "header"
    assert video.duration_s == pytest.approx(float(frames / fps), abs=1e-6)
    assert (video.codec, video.width, video.height, video.pix_fmt) == ("h264", 64, 48, "yuv420p")
    assert not video.variable_frame_rate
    assert video.rotation_deg == 0
    assert info.format_name.startswith("mov,mp4")
    assert info.audio == ()
    assert info.warnings == ()


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_matroska_frame_count_is_counted_from_packets(tmp_path, suffix):
    path = make_video(tmp_path / f"clip{suffix}", seconds=2, fps=Fraction(24000, 1001), size=(64, 48))
    video = probe_media(path).video
    assert video.frame_count == 48
    assert video.frame_count_source == "counted"
    assert video.frame_rate == Fraction(24000, 1001)
    assert not video.variable_frame_rate  # 41/42 ms timestamps are rounding, not VFR


def test_audio_streams_are_described(tmp_path):
    path = make_video(tmp_path / "surround.mov", seconds=1, with_audio=True, audio_channels=6, size=(64, 48))
    info = probe_media(path)
    assert len(info.audio) == 1
    audio = info.audio[0]
    assert (audio.codec, audio.sample_rate, audio.channels, audio.layout) == ("aac", 48000, 6, "5.1")
    assert audio.index == 1
    assert audio.duration_s == pytest.approx(1.0, abs=0.05)
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    assert "5.1" in info.describe() and "h264" in info.describe()


def test_rotation_from_display_matrix(tmp_path):
    path = make_video(tmp_path / "phone.mp4", seconds=1, size=(64, 48), rotation=90)
    video = probe_media(path).video
    assert video.rotation_deg == 90
    assert video.display_size == (48, 64)
    assert "rotated 90" in probe_media(path).describe()


def test_variable_frame_rate_is_flagged_with_a_warning(tmp_path):
    path = make_video(tmp_path / "phone vfr.mp4", seconds=2, fps=30, vfr=True, size=(64, 48))
    info = probe_media(path)
    assert info.video.variable_frame_rate
    warning = variable_frame_rate_warning(info)
    assert warning is not None and "phone vfr.mp4 has a variable frame rate" in warning
    assert info.warnings == (warning,)
    # The average of the irregular pattern (mean duration 13/12 of a 30 fps frame): about 27.7 fps.
    assert float(info.video.frame_rate) == pytest.approx(30 * 12 / 13, rel=0.02)


def test_one_frame_video_probes_but_is_too_short(tmp_path):
    path = make_video(tmp_path / "flash.mp4", frames=1, fps=25, size=(64, 48))
    info = probe_media(path)
    assert info.video.frame_count == 1
    assert info.video.duration_s == pytest.approx(0.04)
    with pytest.raises(MediaError, match=r"^flash\.mp4 is 0\.04 s long; FoleyStudio needs at least 1 s of video$"):
        require_video(info)


def test_require_video_accepts_one_second(tmp_path):
    path = make_video(tmp_path / "one.mp4", seconds=MIN_VIDEO_SECONDS, fps=24, size=(64, 48))
    video = require_video(probe_media(path))
    assert video.frame_count == 24


def test_audio_only_file_has_no_video(tmp_path):
    path = make_audio(tmp_path / "dialog.wav", seconds=1.5, rate=48000, channels=2)
    info = probe_media(path)
    assert info.video is None
    assert info.audio[0].sample_rate == 48000 and info.audio[0].channels == 2
    assert info.duration_s == pytest.approx(1.5)
    with pytest.raises(MediaError, match=r"^dialog\.wav has no video stream$"):
        require_video(info)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="nothing.mp4: file not found"):
        probe_media(tmp_path / "nothing.mp4")


def test_directory(tmp_path):
    folder = tmp_path / "clips.mp4"
    folder.mkdir()
    with pytest.raises(MediaError, match="clips.mp4: is a folder, not a media file"):
        probe_media(folder)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    with pytest.raises(MediaError, match=r"empty\.mp4: file is empty \(0 bytes\)"):
        probe_media(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(MediaError, match=r"notes\.mp4: not a media file \(no audio or video stream could be read\)"):
        probe_media(path)


def test_truncated_mp4(tmp_path):
    path = make_video(tmp_path / "cut.mp4", seconds=2, size=(64, 48), with_audio=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: now gone
    with pytest.raises(MediaError, match=r"cut\.mp4: looks like a MP4/MOV file but cannot be read; it is damaged or truncated"):
        probe_media(path)


def test_unicode_and_spaces_in_path(tmp_path):
    folder = tmp_path / "Prises de vue été" / "Szene 1 – 木"
    folder.mkdir(parents=True)
    path = make_video(folder / "plan séquence ☕.mp4", seconds=1, size=(64, 48), with_audio=True)
    info = probe_media(path)
    assert info.path == path
    assert info.video.frame_count == 24 and info.audio[0].channels == 2


def test_snap_frame_rate_to_standard_rates():
    assert snap_frame_rate(Fraction(2997, 100)) == Fraction(30000, 1001)
    assert snap_frame_rate(Fraction(23976, 1000)) == Fraction(24000, 1001)
    assert snap_frame_rate(Fraction(5994, 100)) == Fraction(60000, 1001)
    assert snap_frame_rate(Fraction(24)) == 24
    assert snap_frame_rate(Fraction(25, 2)) == Fraction(25, 2)  # 12.5 is no standard: kept
