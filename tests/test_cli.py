"""The command line: results on good input; one line and exit code 2 on bad input; nothing overwritten."""

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from foleystudio import __version__
from foleystudio.cli import main
from tests.media import make_audio, make_video


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("foleystudio: error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version_as_module():
    result = subprocess.run([sys.executable, "-m", "foleystudio", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"FoleyStudio {__version__}"


def test_info_reports_exact_rate_and_drop_frame_timecode(tmp_path, capsys):
    video = make_video(tmp_path / "clip 29.97.mp4", seconds=2.0, fps=Fraction(30000, 1001), with_audio=True)
    code, out, _ = run_cli(capsys, "info", str(video))
    assert code == 0
    assert "30000/1001" in out and "60 frames" in out
    assert "timecode:  00:00:02;00 (drop-frame)" in out
    code, out, _ = run_cli(capsys, "info", "--json", str(video))
    data = json.loads(out)
    assert data["video"]["frame_rate"] == "30000/1001" and data["audio"][0]["channels"] == 2


def test_loudness_of_a_sine_matches_the_definition(tmp_path, capsys):
    # A 1 kHz sine at amplitude a reads 20 log10(a / sqrt 2) - 0.691 + K-weighting gain (~0.69 dB at 1 kHz)
    # per channel, i.e. about 20 log10(a) - 3.01 + ... ; stereo programme is 3 dB above each channel.
    rate = 48000
    t = np.arange(rate * 5) / rate
    wave = 0.1 * np.sin(2 * np.pi * 997 * t)
    path = make_audio(tmp_path / "sine.wav", data=np.stack([wave, wave]).astype(np.float32), rate=rate, subtype="FLOAT")
    code, out, _ = run_cli(capsys, "loudness", "--json", str(path))
    assert code == 0
    data = json.loads(out)
    per_channel = 20 * np.log10(0.1 / np.sqrt(2))  # K-weighting gain at 1 kHz cancels the -0.691 offset
    assert data["integrated_lufs"] == pytest.approx(per_channel + 3.01, abs=0.05)
    assert np.median(data["curve"]["left"]) == pytest.approx(per_channel, abs=0.05)
    assert len(data["curve"]["times"]) == 30


def test_loudness_writes_csv_and_never_overwrites(tmp_path, capsys):
    path = make_audio(tmp_path / "tone.flac", seconds=2.0, rate=44100)
    csv_path = tmp_path / "curve.csv"
    code, out, _ = run_cli(capsys, "loudness", str(path), "--csv", str(csv_path), "--window", "0.4", "--hop", "0.1")
    assert code == 0 and "integrated:" in out and "curve written" in out
    header, *rows = csv_path.read_text().splitlines()
    assert header == "time_s,left_lufs,right_lufs" and len(rows) == 20
    csv_path.write_text("my edits")
    code, _, err = run_cli(capsys, "loudness", str(path), "--csv", str(csv_path))
    assert_one_line_error(code, err, "already exists")
    assert csv_path.read_text() == "my edits"
    assert run_cli(capsys, "loudness", str(path), "--csv", str(csv_path), "--overwrite")[0] == 0
    assert csv_path.read_text().startswith("time_s,")


def test_silent_file_reports_silence_clearly(tmp_path, capsys):
    path = make_audio(tmp_path / "silence.wav", data=np.zeros((2, 48000), np.float32), rate=48000)
    code, out, _ = run_cli(capsys, "loudness", str(path))
    assert code == 0
    assert "-inf LUFS (silent)" in out and "file is silent" in out
    code, out, _ = run_cli(capsys, "loudness", "--json", str(path))
    assert json.loads(out)["integrated_lufs"] is None


@pytest.mark.parametrize(("rate", "channels", "layout"), [(8000, 1, "mono"), (192000, 2, "stereo"), (48000, 6, "5.1"), (48000, 4, "FL FR BL BR")])
def test_loudness_of_unusual_rates_and_layouts(tmp_path, capsys, rate, channels, layout):
    path = make_audio(tmp_path / f"ünï côde {rate}.wav", seconds=1.0, rate=rate, channels=channels)
    code, out, _ = run_cli(capsys, "loudness", str(path))
    assert code == 0
    assert f"{rate} Hz, {channels} ch ({layout})" in out


def test_loudness_of_a_video_reads_its_audio_track(tmp_path, capsys):
    video = make_video(tmp_path / "scene.mp4", seconds=2.0, with_audio=True)
    code, out, _ = run_cli(capsys, "loudness", "--json", str(video))
    assert code == 0 and json.loads(out)["duration_s"] == pytest.approx(2.0, abs=0.05)


def _truncated_mp4(tmp_path):
    whole = make_video(tmp_path / "whole.mp4", seconds=2.0, with_audio=True).read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _nan_wav(tmp_path):
    data = np.zeros((2, 48000), np.float32)
    data[1, 30000] = np.nan
    return make_audio(tmp_path / "nan.wav", data=data, rate=48000, subtype="FLOAT")


def _file(path, content: bytes):
    path.write_bytes(content)
    return path


BAD_INPUTS = {
    "missing file": (lambda tmp: tmp / "nope.wav", ["nope.wav"]),
    "directory": (lambda tmp: tmp, []),
    "zero-byte file": (lambda tmp: _file(tmp / "empty.wav", b""), ["empty.wav"]),
    "text named .mp4": (lambda tmp: _file(tmp / "notes.mp4", b"hello"), ["notes.mp4"]),
    "truncated mp4": (_truncated_mp4, ["truncated.mp4"]),
    "video without audio": (lambda tmp: make_video(tmp / "silent film.mp4", seconds=1.0), ["no audio"]),
    "NaN samples": (_nan_wav, ["nan.wav"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_to_loudness_is_one_line_and_exit_2(tmp_path, capsys, case):
    make, fragments = BAD_INPUTS[case]
    path = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    code, out, err = run_cli(capsys, "loudness", str(path), "--csv", str(tmp_path / "out.csv"))
    assert_one_line_error(code, err, *fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.mark.parametrize("case", ["missing file", "directory", "zero-byte file", "text named .mp4", "truncated mp4"])
def test_bad_input_to_info_is_one_line_and_exit_2(tmp_path, capsys, case):
    make, fragments = BAD_INPUTS[case]
    code, _, err = run_cli(capsys, "info", str(make(tmp_path)))
    assert_one_line_error(code, err, *fragments)


def test_info_flags_one_frame_and_variable_frame_rate_videos(tmp_path, capsys):
    one = make_video(tmp_path / "one.mp4", frames=1)
    code, out, _ = run_cli(capsys, "info", str(one))
    assert code == 0 and "1 frames" in out
    vfr = make_video(tmp_path / "vfr.mp4", seconds=2.0, vfr=True)
    code, out, _ = run_cli(capsys, "info", str(vfr))
    assert code == 0 and "variable frame rate" in out


def test_bad_arguments_are_one_line(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["loudness", str(tmp_path / "x.wav"), "--window", "-1"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "positive number of seconds" in err[0]


def test_unwritable_output_folder_is_exit_2(tmp_path, capsys, monkeypatch):
    path = make_audio(tmp_path / "tone.wav", seconds=1.0)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    code, _, err = run_cli(capsys, "loudness", str(path), "--csv", str(tmp_path / "curve.csv"))
    assert_one_line_error(code, err, "not writable")


def test_internal_error_is_exit_1_with_the_log_path(tmp_path, capsys, monkeypatch):
    def broken(path):
        raise RuntimeError("a bug")

    monkeypatch.setattr("foleystudio.commands.info.probe_media", broken)
    code, _, err = run_cli(capsys, "info", str(tmp_path / "x.mp4"))
    assert code == 1
    assert "internal error: RuntimeError: a bug" in err and "foleystudio.log" in err
    assert "Traceback" not in err
    log_file = err.strip().rsplit("details in ", 1)[1]
    assert "Traceback" in Path(log_file).read_text(encoding="utf-8")


def test_demo_writes_a_bwf_with_its_loudness(tmp_path, capsys):
    from foleystudio.audio.wav import read_bext

    code, out, _ = run_cli(capsys, "demo", "--out", str(tmp_path))
    assert code == 0 and "headless demo" in out
    wav = tmp_path / "demo_scene.wav"
    info = sf.info(str(wav))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
    bext = read_bext(wav)
    report = json.loads((tmp_path / "demo_scene_loudness.json").read_text())
    assert bext.integrated_lufs == pytest.approx(report["integrated_lufs"], abs=0.02)
    # A user-named folder is theirs: a second run does not replace the files without --overwrite.
    code, _, err = run_cli(capsys, "demo", "--out", str(tmp_path))
    assert_one_line_error(code, err, "already exists")
    assert run_cli(capsys, "demo", "--out", str(tmp_path), "--overwrite")[0] == 0


def test_output_piped_into_a_closed_reader_is_not_an_error(tmp_path):
    # Five minutes of JSON series is far more than a pipe buffer, so the writer meets the closed pipe.
    path = make_audio(tmp_path / "long.wav", seconds=300.0, rate=8000, channels=1)
    command = f"{sys.executable} -m foleystudio loudness --json '{path}' | head -n 1"
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
    assert result.stdout == "{\n"
    assert result.stderr == ""


def test_a_project_alone_on_the_command_line_is_opened():
    # How a double-clicked .foley arrives (file managers, macOS open-document, Windows associations).
    from foleystudio.cli import build_parser, project_shortcut

    args = build_parser().parse_args(project_shortcut(["/Users/me/Scene 12.FOLEY"]))
    assert (args.command, args.project) == ("open", "/Users/me/Scene 12.FOLEY")
    for unchanged in (["--version"], [], ["export", "a.foley", "out"], ["open", "a.foley"], ["info", "x.wav"]):
        assert project_shortcut(unchanged) == unchanged
