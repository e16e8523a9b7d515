"""Review MP4: picture copied bit for bit, the mix added as stereo AAC fitted to the video."""

from fractions import Fraction

import av
import numpy as np
import pytest

from foleystudio.audio.io import read_audio
from foleystudio.errors import MediaError, OutputError, UserInputError
from foleystudio.video import mux
from foleystudio.video.mux import write_review_mp4
from foleystudio.video.probe import probe_media
from tests.media import make_audio, make_video, tone


def _video_packets(path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [bytes(packet) for packet in container.demux(stream) if packet.size]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mux")
    return make_video(folder / "picture.mp4", seconds=2, fps=Fraction(24000, 1001), with_audio=True, size=(64, 48))


def test_video_is_copied_and_mix_added_as_stereo_aac(clip, tmp_path):
    mix = tone(3.0, 48000, 2, freq=1000, amplitude=0.4)  # longer than the video: cut
    out = write_review_mp4(clip, mix, 48000, tmp_path / "review.mp4")
    assert out == tmp_path / "review.mp4"
    assert _video_packets(out) == _video_packets(clip)  # remuxed, not re-encoded
    info = probe_media(out)
    assert info.video.codec == "h264" and info.video.frame_count == 48
    assert info.video.frame_rate == Fraction(24000, 1001)
    assert len(info.audio) == 1
    audio = info.audio[0]
    assert (audio.codec, audio.channels, audio.sample_rate) == ("aac", 2, 48000)
    assert audio.duration_s == pytest.approx(info.video.duration_s, abs=0.03)
    samples, rate = read_audio(out)
    assert abs(samples.shape[1] - round(info.video.duration_s * rate)) <= 1024  # one AAC frame
    middle = samples[:, 24000:72000]
    rms = np.sqrt((middle**2).mean(axis=1))
    assert rms == pytest.approx([0.4 / np.sqrt(2), 0.2 / np.sqrt(2)], rel=0.1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["review.mp4"]  # no temporary left


def test_short_mix_is_padded_with_silence(clip, tmp_path):
    mix = tone(0.5, 44100, 2, amplitude=0.5)
    out = write_review_mp4(clip, mix, 44100, tmp_path / "review.mp4")
    samples, rate = read_audio(out)
    assert rate == 44100
    assert samples.shape[1] == pytest.approx(2.002 * 44100, abs=1024 + 1)
    assert np.sqrt((samples[:, 5000:20000] ** 2).mean()) > 0.1
    assert np.abs(samples[:, int(0.7 * rate) :]).max() < 1e-3


def test_matroska_source_without_decode_timestamps(tmp_path):
    source = make_video(tmp_path / "picture.mkv", seconds=2, fps=24, size=(64, 48))
    out = write_review_mp4(source, tone(2.0, 48000, 2), 48000, tmp_path / "review.mp4")
    assert _video_packets(out) == _video_packets(source)
    assert probe_media(out).video.frame_count == 48


def test_existing_output_is_refused_and_unchanged(clip, tmp_path):
    target = tmp_path / "review.mp4"
    target.write_bytes(b"previous export")
    with pytest.raises(OutputError, match="review.mp4: already exists"):
        write_review_mp4(clip, tone(2.0, 48000, 2), 48000, target)
    assert target.read_bytes() == b"previous export"
    write_review_mp4(clip, tone(2.0, 48000, 2), 48000, target, overwrite=True)
    assert len(_video_packets(target)) == 48


def test_failure_while_writing_leaves_nothing(clip, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    monkeypatch.setattr(mux, "_remux", broken)
    with pytest.raises(OutputError, match="cannot write review.mp4"):
        write_review_mp4(clip, tone(2.0, 48000, 2), 48000, tmp_path / "review.mp4")
    assert list(tmp_path.iterdir()) == []


def test_bad_mix_and_inputs(clip, tmp_path):
    with pytest.raises(UserInputError, match=r"shape \(2, samples\)"):
        write_review_mp4(clip, tone(1.0, 48000, 1), 48000, tmp_path / "a.mp4")
    with pytest.raises(UserInputError, match="AAC cannot be written at 22222 Hz"):
        write_review_mp4(clip, tone(1.0, 48000, 2), 22222, tmp_path / "a.mp4")
    with pytest.raises(UserInputError, match="NaN"):
        write_review_mp4(clip, np.full((2, 100), np.nan, np.float32), 48000, tmp_path / "a.mp4")
    sound = make_audio(tmp_path / "sound.wav", seconds=1)
    with pytest.raises(MediaError, match="sound.wav has no video stream"):
        write_review_mp4(sound, tone(1.0, 48000, 2), 48000, tmp_path / "a.mp4")
    assert not (tmp_path / "a.mp4").exists()
