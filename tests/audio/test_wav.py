"""WAV/BWF writing: formats, dither, clipping, the bext chunk, RF64, and safe output."""

import errno
import os
import struct
import tempfile

import av
import numpy as np
import pytest
import soundfile as sf

from foleystudio.audio import wav
from foleystudio.audio.wav import BextInfo, BitDepth, read_bext, write_wav
from foleystudio.errors import MediaError, OutputError, UserInputError
from tests.media import make_audio, tone


def _chunks(path) -> dict[bytes, bytes]:
    """Chunk id -> payload of a small RIFF/RF64 file, parsed independently of the module."""
    data = path.read_bytes()
    chunks, offset = {}, 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        if chunk_id == b"data" and size == 0xFFFFFFFF:
            size = struct.unpack_from("<Q", chunks[b"ds64"], 8)[0]
        chunks[chunk_id] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size + size % 2
    return chunks


# --- formats ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("depth", "subtype", "tolerance"),
    [("16", "PCM_16", 1.5 / 2**15), ("24", "PCM_24", 0.5 / 2**23), ("32f", "FLOAT", 0.0)],
)
@pytest.mark.parametrize("rate", [44100, 48000, 96000])
def test_round_trip_through_soundfile(tmp_path, depth, subtype, tolerance, rate):
    audio = tone(0.25, rate, 2, amplitude=0.9)
    report = write_wav(tmp_path / "stem.wav", audio, rate, depth, dither_seed=1)
    info = sf.info(str(tmp_path / "stem.wav"))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (rate, 2, audio.shape[1], subtype)
    read, _ = sf.read(str(tmp_path / "stem.wav"), dtype="float64", always_2d=True)
    assert np.abs(read.T - audio).max() <= tolerance + 1e-12
    assert (report.frames, report.channels, report.sample_rate, report.bit_depth) == (audio.shape[1], 2, rate, BitDepth(depth))
    assert not report.clipped and not report.rf64


def test_other_sample_rates_are_rejected(tmp_path):
    with pytest.raises(UserInputError, match=r"written at 44100, 48000, 96000 Hz, not 22050"):
        write_wav(tmp_path / "a.wav", tone(0.1, 22050, 2), 22050)
    assert not (tmp_path / "a.wav").exists()


def test_odd_byte_count_is_padded_and_multichannel_uses_extensible(tmp_path):
    audio = tone(0.001, 48000, 1)[:, :47]  # 47 x 3 bytes: odd
    write_wav(tmp_path / "mono.wav", audio, 48000, "24")
    size = (tmp_path / "mono.wav").stat().st_size
    assert size % 2 == 0
    assert struct.unpack_from("<I", (tmp_path / "mono.wav").read_bytes(), 4)[0] == size - 8
    assert sf.info(str(tmp_path / "mono.wav")).frames == 47
    surround = tone(0.01, 48000, 6)
    write_wav(tmp_path / "surround.wav", surround, 48000, "24")
    fmt = _chunks(tmp_path / "surround.wav")[b"fmt "]
    assert struct.unpack_from("<H", fmt)[0] == 0xFFFE and struct.unpack_from("<I", fmt, 20)[0] == 0x3F
    read, _ = sf.read(str(tmp_path / "surround.wav"), always_2d=True)
    assert np.abs(read.T - surround).max() < 1e-6


# --- dither and clipping ------------------------------------------------------------------------


def _pcm16(path) -> np.ndarray:
    return np.frombuffer(_chunks(path)[b"data"], "<i2")


def test_tpdf_dither_statistics(tmp_path):
    write_wav(tmp_path / "silence.wav", np.zeros((1, 200_000)), 48000, "16", dither_seed=7)
    values = _pcm16(tmp_path / "silence.wav")
    assert set(np.unique(values)) == {-1, 0, 1}  # +-1 LSB triangular, rounded
    # P(|d| > 0.5 LSB) for a triangle over +-1 LSB is 1/4: 1/8 each side.
    assert np.mean(values == 1) == pytest.approx(0.125, abs=0.005)
    assert np.mean(values == -1) == pytest.approx(0.125, abs=0.005)
    assert values.mean() == pytest.approx(0.0, abs=0.005)
    # Dither + rounding error of a signal between the steps: variance 1/6 + 1/12 = 1/4 LSB^2.
    offset = np.full((1, 200_000), 0.3 / 2**15)
    write_wav(tmp_path / "offset.wav", offset, 48000, "16", dither_seed=7)
    error = _pcm16(tmp_path / "offset.wav") - 0.3
    assert error.mean() == pytest.approx(0.0, abs=0.01)  # no bias: the dither linearises
    assert error.var() == pytest.approx(0.25, rel=0.05)


def test_dither_is_reproducible_with_a_seed(tmp_path):
    audio = tone(0.1, 48000, 2, amplitude=0.01)
    write_wav(tmp_path / "a.wav", audio, 48000, "16", dither_seed=3)
    write_wav(tmp_path / "b.wav", audio, 48000, "16", dither_seed=3)
    write_wav(tmp_path / "c.wav", audio, 48000, "16", dither_seed=4)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()


def test_sine_at_minus_100_dbfs_survives_16_bit(tmp_path):
    rate, amplitude = 48000, 10 ** (-100 / 20)  # a third of an LSB
    t = np.arange(rate) / rate
    sine = amplitude * np.sin(2 * np.pi * 1000 * t)
    assert not np.round(sine * 2**15).any()  # plain rounding would write pure silence
    write_wav(tmp_path / "quiet.wav", sine[None], rate, "16", dither_seed=11)
    written = _pcm16(tmp_path / "quiet.wav") / 2**15
    basis = np.stack([np.sin(2 * np.pi * 1000 * t), np.cos(2 * np.pi * 1000 * t)])
    sine_part, cosine_part = np.linalg.lstsq(basis.T, written, rcond=None)[0]
    assert sine_part == pytest.approx(amplitude, rel=0.05)  # the tone is still there, at its level
    assert abs(cosine_part) < 0.05 * amplitude
    spectrum = np.abs(np.fft.rfft(written))
    assert spectrum[1000] > 30 * np.median(spectrum)  # a clear line above a flat noise floor


def test_clipping_is_reported(tmp_path):
    audio = np.array([[0.5, 1.5, -2.0, 1.0, -1.0, 0.999]])
    report = write_wav(tmp_path / "hot.wav", audio, 48000, "16", dither_seed=0)
    assert report.clipped and report.clipped_samples == 3  # 1.5, -2.0 and 1.0 ([-1, 1) fits)
    assert _pcm16(tmp_path / "hot.wav")[1:5].tolist() == [32767, -32768, 32767, -32768]
    report = write_wav(tmp_path / "hot.f32.wav", audio, 48000, "32f")
    assert not report.clipped
    read, _ = sf.read(str(tmp_path / "hot.f32.wav"), always_2d=True)
    assert read[:, 0].tolist() == pytest.approx(audio[0].tolist())


def test_bad_audio_is_rejected(tmp_path):
    with pytest.raises(UserInputError, match="NaN or infinite samples"):
        write_wav(tmp_path / "a.wav", np.array([[0.0, np.nan]]), 48000)
    with pytest.raises(UserInputError, match=r"shape \(channels, samples\)"):
        write_wav(tmp_path / "a.wav", np.zeros(10), 48000)
    with pytest.raises(UserInputError, match="floating point"):
        write_wav(tmp_path / "a.wav", np.zeros((2, 10), np.int16), 48000)
    with pytest.raises(UserInputError, match="bit depth"):
        write_wav(tmp_path / "a.wav", np.zeros((2, 10)), 48000, "8")
    assert list(tmp_path.iterdir()) == []


# --- bext ---------------------------------------------------------------------------------------


def test_bext_round_trip(tmp_path):
    bext = BextInfo(
        description="Footsteps on gravel, take 3",
        originator="FoleyStudio",
        originator_reference="FS-0001",
        origination_date="2024-05-31",
        origination_time="13:45:07",
        time_reference_samples=48000 * 3600 * 10 + 17,  # 10:00:00 at 48 kHz: beyond 32 bits
        integrated_lufs=-23.456,
        loudness_range_lu=7.5,
        max_true_peak_dbtp=-1.02,
        max_momentary_lufs=-15.0,
        max_short_term_lufs=-18.25,
    )
    write_wav(tmp_path / "stem.wav", tone(0.1, 48000, 2), 48000, "24", bext=bext)
    read = read_bext(tmp_path / "stem.wav")
    assert read.time_reference_samples == 48000 * 3600 * 10 + 17
    assert read.integrated_lufs == -23.46  # stored as int16 hundredths
    assert (read.loudness_range_lu, read.max_true_peak_dbtp) == (7.5, -1.02)
    assert (read.max_momentary_lufs, read.max_short_term_lufs) == (-15.0, -18.25)
    assert (read.description, read.originator, read.originator_reference) == (bext.description, "FoleyStudio", "FS-0001")
    assert (read.origination_date, read.origination_time) == ("2024-05-31", "13:45:07")
    assert read.coding_history == "A=PCM,F=48000,W=24,M=stereo,T=FoleyStudio 0.1.0\r\n"
    # Both soundfile and FFmpeg still read the samples.
    assert sf.info(str(tmp_path / "stem.wav")).frames == 4800
    with av.open(str(tmp_path / "stem.wav")) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s24le"


def test_bext_chunk_layout(tmp_path):
    bext = BextInfo(description="x", time_reference_samples=(5 << 32) + 9, coding_history="A=PCM\r\n")
    write_wav(tmp_path / "stem.wav", tone(0.01, 48000, 1), 48000, "16", bext=bext, dither_seed=0)
    payload = _chunks(tmp_path / "stem.wav")[b"bext"]
    assert len(payload) == 602 + len("A=PCM\r\n") + 1  # a NUL keeps the chunk size even
    assert payload[:2] == b"x\x00"
    assert struct.unpack_from("<IIH", payload, 338) == (9, 5, 2)  # low, high, version 2
    assert struct.unpack_from("<5h", payload, 412) == (0x7FFF,) * 5  # loudness not measured
    assert payload[602:] == b"A=PCM\r\n\x00"
    assert read_bext(tmp_path / "stem.wav").integrated_lufs is None


def test_bext_text_is_folded_to_ascii_and_checked():
    assert BextInfo(description="Pas sur le pavé, forêt ☃").description == "Pas sur le pave, foret ?"
    with pytest.raises(UserInputError, match="description is 300 characters; the limit is 256"):
        BextInfo(description="x" * 300)
    with pytest.raises(UserInputError, match="origination date"):
        BextInfo(origination_date="31/05/2024")
    with pytest.raises(UserInputError, match="time reference"):
        BextInfo(time_reference_samples=-1)
    with pytest.raises(UserInputError, match="integrated_lufs"):
        BextInfo(integrated_lufs=float("nan"))
    now = BextInfo()
    assert len(now.origination_date) == 10 and len(now.origination_time) == 8


def test_read_bext_of_plain_and_foreign_files(tmp_path):
    plain = make_audio(tmp_path / "plain.wav", seconds=0.1)
    assert read_bext(plain) is None
    flac = make_audio(tmp_path / "sound.flac", seconds=0.1)
    with pytest.raises(MediaError, match="sound.flac: not a WAV file"):
        read_bext(flac)
    with pytest.raises(MediaError, match="file not found"):
        read_bext(tmp_path / "missing.wav")


def test_rf64_beyond_the_riff_limit(tmp_path, monkeypatch):
    # 4 GiB is too big for a test: lower the limit so this small file takes the RF64 path.
    monkeypatch.setattr(wav, "RIFF_SIZE_LIMIT", 1000)
    audio = tone(0.05, 48000, 2)
    report = write_wav(tmp_path / "long.wav", audio, 48000, "24", bext=BextInfo(description="long"))
    assert report.rf64
    data = (tmp_path / "long.wav").read_bytes()
    assert data[:4] == b"RF64" and data[4:8] == b"\xff\xff\xff\xff" and data[12:16] == b"ds64"
    riff_size, data_size, frames = struct.unpack_from("<QQQ", _chunks(tmp_path / "long.wav")[b"ds64"])
    assert (riff_size, data_size, frames) == (len(data) - 8, audio.size * 3, audio.shape[1])
    info = sf.info(str(tmp_path / "long.wav"))
    assert (info.format, info.frames) == ("RF64", audio.shape[1])
    read, _ = sf.read(str(tmp_path / "long.wav"), always_2d=True)
    assert np.abs(read.T - audio).max() < 1e-6
    assert read_bext(tmp_path / "long.wav").description == "long"


# --- safe output --------------------------------------------------------------------------------


def test_existing_file_is_not_overwritten(tmp_path):
    target = tmp_path / "stem.wav"
    write_wav(target, tone(0.1, 48000, 2), 48000)
    before = target.read_bytes()
    with pytest.raises(OutputError, match="stem.wav: already exists"):
        write_wav(target, tone(0.2, 48000, 2, amplitude=0.1), 48000)
    assert target.read_bytes() == before
    write_wav(target, tone(0.2, 48000, 2, amplitude=0.1), 48000, overwrite=True)
    assert sf.info(str(target)).frames == 9600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stem.wav"]


@pytest.mark.parametrize("overwrite", [True, False])
def test_failed_rename_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, overwrite):
    target = tmp_path / "stem.wav"
    if overwrite:
        target.write_bytes(b"old take")

    def denied(source, destination):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", denied)  # overwriting renames,
    monkeypatch.setattr(os, "link", denied)  # a new name is linked (never clobbers)
    with pytest.raises(OutputError, match=r"stem\.wav: could not be written \(permission denied\)"):
        write_wav(target, tone(0.1, 48000, 2), 48000, overwrite=overwrite)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == (["stem.wav"] if overwrite else [])
    if overwrite:
        assert target.read_bytes() == b"old take"


def test_failure_while_writing_samples_leaves_nothing(tmp_path, monkeypatch):
    def disk_full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wav, "_encoded_block", disk_full)
    with pytest.raises(OutputError, match=r"stem\.wav: could not be written \(the disk is full\)"):
        write_wav(tmp_path / "stem.wav", tone(0.1, 48000, 2), 48000)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_folder_by_monkeypatch(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(OutputError, match="folder is not writable"):
        write_wav(tmp_path / "stem.wav", tone(0.1, 48000, 2), 48000)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="folder is not writable"):
            write_wav(folder / "stem.wav", tone(0.1, 48000, 2), 48000)
    finally:
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_missing_folder(tmp_path):
    with pytest.raises(OutputError, match="output folder does not exist"):
        write_wav(tmp_path / "nowhere" / "stem.wav", tone(0.1, 48000, 2), 48000)


def test_unicode_and_spaces_in_output_path(tmp_path):
    folder = tmp_path / "Export stems é"
    folder.mkdir()
    target = folder / "FOLEY_Pas sur gravier – prise 2 ♪.wav"
    write_wav(target, tone(0.1, 48000, 2), 48000, bext=BextInfo(description="gravier"))
    assert sf.info(str(target)).frames == 4800
    assert read_bext(target).description == "gravier"


def test_bext_is_read_by_an_independent_parser(tmp_path):
    """FFmpeg's WAV demuxer (through PyAV) reads our bext chunk: description, date, 64-bit time reference."""
    # 23:59:00 at 96 kHz is past 2**32 samples, so the high word of the time reference matters.
    reference = 86340 * 96000
    bext = BextInfo(description="Door slam, heavy", origination_date="2026-01-02",
                    origination_time="03:04:05", time_reference_samples=reference)
    path = write_wav(tmp_path / "stem.wav", np.zeros((2, 960), np.float32), 96000, bext=bext).path
    with av.open(str(path)) as container:
        tags = container.metadata
    assert tags["comment"] == "Door slam, heavy"
    assert tags["encoded_by"] == "FoleyStudio"
    assert (tags["date"], tags["creation_time"]) == ("2026-01-02", "03:04:05")
    assert int(tags["time_reference"]) == reference
    assert tags["coding_history"].startswith("A=PCM,F=96000,W=24,M=stereo")
