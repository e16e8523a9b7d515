"""Audio reading: formats, video containers, ranges, channel mapping, resampling, streaming, errors."""

import math
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from foleystudio.audio import resample as resample_module
from foleystudio.audio.io import audio_info, convert_channels, iter_audio_blocks, read_audio
from foleystudio.audio.resample import StreamResampler, resample
from foleystudio.errors import MediaError, UserInputError
from tests.media import make_audio, make_video, tone


def _level_at(audio: np.ndarray, rate: int, freq: float) -> float:
    """Amplitude of the ``freq`` component of a 1-D signal (least-squares projection)."""
    t = np.arange(audio.shape[-1]) / rate
    basis = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)])
    coefficients = np.linalg.lstsq(basis.T, audio.astype(np.float64), rcond=None)[0]
    return float(np.hypot(*coefficients))


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "subtype", "tolerance"),
    [("a.wav", "PCM_16", 2**-15), ("a.wav", "PCM_24", 2**-23), ("a.wav", "FLOAT", 0.0),
     ("a.flac", "PCM_24", 2**-23), ("a.aiff", "PCM_16", 2**-15)],
)
def test_lossless_files_read_exactly(tmp_path, name, subtype, tolerance):
    path = make_audio(tmp_path / name, seconds=0.5, rate=48000, channels=2, subtype=subtype)
    audio, rate = read_audio(path)
    expected = tone(0.5, 48000, 2)
    assert rate == 48000 and audio.dtype == np.float32
    assert audio.shape == expected.shape
    assert np.abs(audio - expected).max() <= tolerance + 1e-9
    info = audio_info(path)
    assert (info.backend, info.codec, info.frames, info.channels) == ("soundfile", subtype, 24000, 2)


@pytest.mark.parametrize("name", ["a.ogg", "a.mp3", "a.m4a", "a.webm"])
def test_lossy_files_keep_the_tone(tmp_path, name):
    path = make_audio(tmp_path / name, seconds=1.0, rate=48000, channels=2, amplitude=0.5)
    audio, rate = read_audio(path)
    assert rate == 48000 and audio.shape[0] == 2
    assert audio.shape[1] == pytest.approx(48000, abs=2200)  # codec frames and priming
    middle = audio[:, 12000:36000]
    assert _level_at(middle[0], rate, 440) == pytest.approx(0.5, rel=0.1)
    assert _level_at(middle[1], rate, 440) == pytest.approx(0.25, rel=0.1)


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv", ".webm"])
def test_audio_track_of_a_video(tmp_path, suffix):
    path = make_video(tmp_path / f"clip{suffix}", seconds=1, size=(64, 48), with_audio=True)
    info = audio_info(path)
    assert info.backend == "pyav" and info.channels == 2 and info.sample_rate == 48000
    audio, rate = read_audio(path, channels=1)
    assert audio.shape[0] == 1 and rate == 48000
    # Mono is the mean of the 0.5 and 0.25 tones.
    assert _level_at(audio[0, 12000:36000], rate, 440) == pytest.approx(0.375, rel=0.1)


@pytest.mark.parametrize("rate", [8000, 192000])
def test_extreme_sample_rates(tmp_path, rate):
    path = make_audio(tmp_path / f"tone {rate}.wav", seconds=0.5, rate=rate, channels=1, subtype="PCM_24")
    audio, read_rate = read_audio(path)
    assert read_rate == rate and audio.shape == (1, rate // 2)
    converted, new_rate = read_audio(path, sample_rate=48000)
    assert new_rate == 48000 and converted.shape == (1, 24000)
    assert _level_at(converted[0, 4800:19200], 48000, 440) == pytest.approx(0.5, rel=1e-3)


# --- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a.wav", "a.flac", "a.mp3", "a.m4a"])
def test_start_and_duration_select_the_same_samples(tmp_path, name):
    path = make_audio(tmp_path / name, seconds=2.0, rate=48000, channels=2)
    whole, rate = read_audio(path)
    part, _ = read_audio(path, start_s=0.75, duration_s=0.5)
    assert part.shape == (2, 24000)
    assert np.abs(part - whole[:, 36000:60000]).max() < 1e-4


def test_range_past_the_end_is_rejected(tmp_path):
    path = make_audio(tmp_path / "short.wav", seconds=1.0)
    with pytest.raises(UserInputError, match="past the end of short.wav"):
        read_audio(path, start_s=1.5)
    with pytest.raises(UserInputError, match="duration"):
        read_audio(path, duration_s=0)
    tail, _ = read_audio(path, start_s=0.5, duration_s=10)  # clipped to what is there
    assert tail.shape == (2, 24000)


# --- channels -----------------------------------------------------------------------------------


def test_five_one_is_mixed_down_to_stereo_per_bs775(tmp_path):
    frames = 4800
    levels = [0.1, 0.2, 0.3, 0.9, 0.05, 0.07]  # L R C LFE Ls Rs as constant signals
    data = np.stack([np.full(frames, level) for level in levels])
    path = make_audio(tmp_path / "surround.wav", data=data, rate=48000, subtype="FLOAT")
    info = audio_info(path)
    assert info.channels == 6 and info.positions == ("FL", "FR", "FC", "LFE", "BL", "BR")
    stereo, _ = read_audio(path, channels=2)
    g = 1 / math.sqrt(2)
    assert stereo[0] == pytest.approx(np.full(frames, 0.1 + g * 0.3 + g * 0.05), abs=1e-6)
    assert stereo[1] == pytest.approx(np.full(frames, 0.2 + g * 0.3 + g * 0.07), abs=1e-6)
    mono, _ = read_audio(path, channels=1)
    assert mono[0] == pytest.approx(stereo.mean(axis=0), abs=1e-6)


def test_five_one_aac_in_a_video_mixes_down(tmp_path):
    path = make_video(tmp_path / "surround.mp4", seconds=1, size=(64, 48), with_audio=True, audio_channels=6)
    native, _ = read_audio(path)
    assert native.shape[0] == 6
    stereo, _ = read_audio(path, channels=2)
    expected_left = native[0] + (native[2] + native[4]) / math.sqrt(2)
    assert stereo.shape == (2, native.shape[1])
    assert np.abs(stereo[0] - expected_left).max() < 1e-5


def test_mono_to_stereo_duplicates_and_stereo_to_mono_averages(tmp_path):
    mono_path = make_audio(tmp_path / "mono.wav", seconds=0.1, channels=1, subtype="FLOAT")
    stereo, _ = read_audio(mono_path, channels=2)
    assert np.array_equal(stereo[0], stereo[1])
    assert np.abs(stereo[0] - tone(0.1, 48000, 1)[0]).max() < 1e-7
    data = np.stack([np.full(100, 0.5), np.full(100, -0.1)])
    assert convert_channels(data, 1)[0] == pytest.approx(np.full(100, 0.2))
    assert convert_channels(data, None) is data
    with pytest.raises(UserInputError, match="channels must be 1"):
        read_audio(mono_path, channels=3)


# --- resampling ---------------------------------------------------------------------------------


def test_streamed_resampling_equals_torchaudio_on_the_whole_signal():
    rng = np.random.default_rng(1)
    signal = rng.standard_normal((2, 70001)).astype(np.float32)
    expected = torchaudio.functional.resample(
        torch.from_numpy(signal), 44100, 48000, lowpass_filter_width=resample_module.LOWPASS_FILTER_WIDTH,
        rolloff=resample_module.ROLLOFF, resampling_method="sinc_interp_kaiser", beta=resample_module.KAISER_BETA,
    ).numpy()
    resampler = StreamResampler(44100, 48000, 2)
    pieces, position = [], 0
    for size in rng.integers(1, 9000, size=1000):
        if position >= signal.shape[1]:
            break
        pieces.append(resampler.process(signal[:, position : position + size]))
        position += size
    pieces.append(resampler.flush())
    streamed = np.concatenate(pieces, axis=1)
    assert streamed.shape == expected.shape == (2, 76192)  # ceil(70001 * 48000 / 44100)
    assert np.abs(streamed - expected).max() < 1e-6


def test_resampling_quality():
    rate = 48000
    t = np.arange(rate) / rate
    # Passband: 1 kHz and 19 kHz keep their level when going to 44.1 kHz.
    for freq in (1000.0, 19000.0):
        converted = resample(np.sin(2 * np.pi * freq * t)[None].astype(np.float32), rate, 44100)
        assert _level_at(converted[0, 2000:-2000], 44100, freq) == pytest.approx(1.0, abs=0.01)
    # Stopband: a 23 kHz tone cannot exist at 44.1 kHz; what aliases back is below -100 dB.
    converted = resample(np.sin(2 * np.pi * 23000 * t)[None].astype(np.float32), rate, 44100)
    residue = np.sqrt(np.mean(converted[0, 2000:-2000] ** 2)) * np.sqrt(2)
    assert 20 * np.log10(residue) < -100


# --- streaming ----------------------------------------------------------------------------------


def test_blocks_have_the_requested_length_and_join_to_the_whole(tmp_path):
    path = make_audio(tmp_path / "mix.flac", seconds=2.3, rate=44100, channels=2, subtype="PCM_24")
    blocks = iter_audio_blocks(path, block_s=0.5, sample_rate=48000)
    assert (blocks.sample_rate, blocks.channels, blocks.block_frames) == (48000, 2, 24000)
    pieces = list(blocks)
    assert [p.shape[1] for p in pieces] == [24000] * 4 + [14400]
    whole, rate = read_audio(path, sample_rate=48000)
    assert rate == 48000 and np.array_equal(np.concatenate(pieces, axis=1), whole)
    frames = [p.shape[1] for p in iter_audio_blocks(path, block_frames=10000, channels=1)]
    assert frames == [10000] * 10 + [1430]
    with pytest.raises(UserInputError, match="not both"):
        iter_audio_blocks(path, block_s=1, block_frames=100)


@pytest.mark.slow
def test_two_hour_file_streams_in_constant_memory(tmp_path):
    rate, seconds = 8000, 2 * 3600
    path = tmp_path / "two hours.wav"
    chunk = (0.25 * np.sin(2 * np.pi * 100 * np.arange(rate * 60) / rate)).astype(np.float32)
    with sf.SoundFile(str(path), "w", rate, 1, subtype="PCM_16") as file:
        for _ in range(seconds // 60):
            file.write(chunk)
    tracemalloc.start()
    try:
        total, peak_level = 0, 0.0
        for block in iter_audio_blocks(path, block_s=1.0, sample_rate=16000, channels=2):
            total += block.shape[1]
            peak_level = max(peak_level, float(np.abs(block).max()))
        _, peak_memory = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    path.unlink()  # 115 MB: do not keep it among pytest's retained temporary folders
    assert total == 16000 * seconds
    assert peak_level == pytest.approx(0.25, abs=2e-3)
    assert peak_memory < 8 * 2**20, f"{peak_memory} bytes traced; the file holds {rate * seconds * 4} as float"


# --- bad input ----------------------------------------------------------------------------------


def test_nan_in_float_wav_names_the_second(tmp_path):
    data = tone(3.0, 48000, 2)
    data[1, 72000 + 10] = np.nan
    data[0, 100000] = np.inf
    path = make_audio(tmp_path / "bad.wav", data=data, rate=48000, subtype="FLOAT")
    with pytest.raises(MediaError, match=r"bad\.wav: contains NaN or infinite samples \(first at 1\.50 s\)"):
        read_audio(path)
    with pytest.raises(MediaError, match="first at 1.50 s"):
        list(iter_audio_blocks(path, block_s=0.1))


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="ghost.wav: file not found"):
        read_audio(tmp_path / "ghost.wav")


def test_directory(tmp_path):
    with pytest.raises(MediaError, match="is a folder"):
        read_audio(tmp_path)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.wav").touch()
    with pytest.raises(MediaError, match=r"empty\.wav: file is empty \(0 bytes\)"):
        audio_info(tmp_path / "empty.wav")


def test_truncated_mp4(tmp_path):
    path = make_video(tmp_path / "cut.mp4", seconds=2, size=(64, 48), with_audio=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MediaError, match="cut.mp4: looks like a MP4/MOV file but cannot be read"):
        read_audio(path)


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "readme.mp4"
    path.write_text("hello\n" * 100)
    with pytest.raises(MediaError, match=r"readme\.mp4: not a media file"):
        read_audio(path)


def test_video_without_audio(tmp_path):
    path = make_video(tmp_path / "silent film.mp4", seconds=1, size=(64, 48))
    with pytest.raises(MediaError, match=r"^silent film\.mp4 has no audio stream$"):
        read_audio(path)


def test_unsupported_format(tmp_path):
    path = tmp_path / "data.xyz"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(MediaError, match=r"data\.xyz: not a media file"):
        read_audio(path)


def test_unicode_and_spaces_in_path(tmp_path):
    folder = tmp_path / "Bibliothèque sons" / "пример 例"
    folder.mkdir(parents=True)
    for name in ("pas sur gravier ♪.wav", "pluie très fine.m4a"):
        audio, rate = read_audio(make_audio(folder / name, seconds=0.5), channels=2)
        assert rate == 48000 and audio.shape[0] == 2
        assert _level_at(audio[0, 4800:19200], rate, 440) == pytest.approx(0.5, rel=0.1)
