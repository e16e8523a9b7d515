"""`foleystudio generate` and `predict-curve` on the tiny untrained preset: files, names, errors."""

import pytest
import soundfile as sf

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.audio.wav import read_bext
from foleystudio.cli import main
from tests.media import make_audio, make_video
from tests.test_cli import assert_one_line_error

TINY = ["--model", "preset:tiny", "--steps", "3"]


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_to_audio_writes_bwf_takes_and_their_curves(tmp_path, capsys):
    out = tmp_path / "door slam.wav"
    code, printed, _ = run_cli(capsys, "generate", *TINY, "--prompt", "door slam", "--duration", "1.5",
                               "--variations", "2", "--seed", "5", "--out", str(out))
    assert code == 0
    for index, seed in ((1, 5), (2, 6)):
        wav = tmp_path / f"door slam_{index}.wav"
        info = sf.info(str(wav))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (44100, 2, "PCM_24", 66150)
        bext = read_bext(wav)
        assert bext.description == "on screen: door slam" and bext.originator_reference == f"seed {seed}"
        assert bext.max_true_peak_dbtp <= -1.0 + 0.02
        assert len(LoudnessCurve.read_csv(tmp_path / f"door slam_{index}.csv")) == 9
        assert f"seed {seed}" in printed


def test_video_take_with_predicted_curve_and_predict_curve_command(tmp_path, capsys):
    video = make_video(tmp_path / "clip.mp4", seconds=2.0)
    code, _, err = run_cli(capsys, "generate", *TINY, "--video", str(video), "--predict-curve",
                           "--out", str(tmp_path / "take.wav"))
    assert code == 0, err
    assert sf.info(str(tmp_path / "take.wav")).frames == pytest.approx(88200, abs=441 * 17)
    code, _, err = run_cli(capsys, "predict-curve", str(video), "--model", "preset:tiny", "--out", str(tmp_path / "c.csv"))
    assert code == 0, err
    curve = LoudnessCurve.read_csv(tmp_path / "c.csv")
    assert len(curve) >= 12 and curve.left.max() <= 0.0 and curve.left.min() >= -70.0


def test_existing_output_is_refused_before_generating(tmp_path, capsys):
    (tmp_path / "take.csv").write_text("keep me")
    code, _, err = run_cli(capsys, "generate", *TINY, "--duration", "1", "--out", str(tmp_path / "take.wav"))
    assert_one_line_error(code, err, "take.csv", "already exists")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]


def _nan_curve(tmp_path):
    path = tmp_path / "nan.csv"
    path.write_text("time_s,left_lufs,right_lufs\n0,-20,-20\n0.1667,nan,-20\n")
    return ["--curve", str(path)]


def _short_curve(tmp_path):
    path = tmp_path / "short.csv"
    LoudnessCurve.constant(1.0, -20.0).write_csv(path)
    return ["--curve", str(path), "--duration", "3"]


def _text_reference(tmp_path):
    path = tmp_path / "ref.wav"
    path.write_text("not audio")
    return ["--ref", str(path), "--duration", "1"]


BAD = {
    "duration 0": (lambda tmp: ["--duration", "0"], "positive number of seconds"),
    "steps 0": (lambda tmp: ["--duration", "1", "--steps", "0"], "steps must be between 1"),
    "NaN curve": (_nan_curve, "nan.csv: loudness curve left values contain NaN"),
    "curve too short": (_short_curve, "covers 1.00 s but the take is 3.00 s"),
    "unknown device": (lambda tmp: ["--duration", "1", "--device", "tpu"], "unknown device 'tpu'"),
    "unknown model": (lambda tmp: ["--duration", "1", "--model", "nope"], "unknown model 'nope'"),
    "reference not audio": (_text_reference, "ref.wav"),
    "predict without video": (lambda tmp: ["--predict-curve"], "--predict-curve needs --video"),
    "no length": (lambda tmp: [], "give --duration"),
    "likeness over 1": (lambda tmp: ["--duration", "1", "--reference-likeness", "1.5"],
                        "reference likeness must be between 0 and 1"),
    "likeness on a long take": (lambda tmp: ["--duration", "3", "--prompt", "door", "--reference-likeness", "0.5",
                                             "--ref", str(make_audio(tmp / "r.wav", seconds=1.0, rate=44100))],
                                "works on takes up to"),
    "not a wav name": (lambda tmp: ["--duration", "1", "--out", str(tmp / "take.mp3")], "must be a .wav"),
    "region without a take": (lambda tmp: ["--duration", "1", "--region", "0.2", "0.4"], "go together"),
    "regenerate with variations": (
        lambda tmp: ["--regenerate", str(tmp / "t.wav"), "--region", "0", "1", "--variations", "2"],
        "one new version"),
    "regenerate a missing take": (lambda tmp: ["--regenerate", str(tmp / "gone.wav"), "--region", "0", "1"],
                                  "gone.wav"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_requests_are_one_line_exit_2_and_write_nothing(tmp_path, capsys, case):
    make, fragment = BAD[case]
    extra = make(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["generate", "--model", "preset:tiny", "--steps", "2", "--out", str(tmp_path / "take.wav"), *extra]
    # A later --model (the "unknown model" case) overrides the first, as argparse takes the last.
    try:
        code, _, err = run_cli(capsys, *argv)
    except SystemExit as exit_info:  # argparse's own checks (e.g. --duration 0)
        code, err = exit_info.code, capsys.readouterr().err
    errors = "\n".join(line for line in err.splitlines() if "WARNING: using the untrained" not in line)
    assert_one_line_error(code, errors.replace("foleystudio generate: error", "foleystudio: error"), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_without_a_model_installed_the_error_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FOLEYSTUDIO_MODELS_DIR", str(tmp_path / "no models"))
    code, _, err = run_cli(capsys, "generate", "--duration", "1", "--out", str(tmp_path / "take.wav"))
    assert_one_line_error(code, err, "no generation model is installed")


def test_a_long_video_take_and_a_regenerated_region(tmp_path, capsys):
    """Without --duration the take runs to the end of the video, past the tiny model's 2 s window;
    then --regenerate makes 1.0-1.5 s anew and keeps every other sample."""
    video = make_video(tmp_path / "clip.mp4", seconds=4.5)
    take = tmp_path / "take.wav"
    code, _, err = run_cli(capsys, "generate", *TINY, "--video", str(video), "--prompt", "steps", "--out", str(take))
    assert code == 0, err
    original, rate = sf.read(str(take), dtype="float32")
    assert rate == 44100 and len(original) == pytest.approx(4.5 * 44100, abs=441)
    again = tmp_path / "take again.wav"
    code, printed, err = run_cli(capsys, "generate", *TINY, "--video", str(video), "--prompt", "steps",
                                 "--regenerate", str(take), "--region", "1.0", "1.5", "--seed", "4", "--out", str(again))
    assert code == 0, err
    new, _ = sf.read(str(again), dtype="float32")
    assert new.shape == original.shape
    start, stop = 44100, round(1.5 * 44100)
    assert (new[:start] == original[:start]).all() and (new[stop:] == original[stop:]).all()
    assert not (new[start:stop] == original[start:stop]).all()
    assert "seed 4" in printed


def test_without_steps_a_take_is_sampled_as_its_model_recommends():
    import argparse
    import dataclasses

    from foleystudio.commands import generate as command
    from foleystudio.engine.builder import build_engine
    from foleystudio.engine.config import preset

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers(dest="command"))
    config = preset("tiny")
    engine = build_engine(dataclasses.replace(config, sampler=dataclasses.replace(config.sampler, steps=7)))
    base = ["generate", "--prompt", "door slam", "--duration", "1", "--out", "take.wav"]
    args = parser.parse_args(base)
    assert command.build_request(args, engine).steps == 7
    args = parser.parse_args([*base, "--steps", "30"])
    assert command.build_request(args, engine).steps == 30


def test_a_likened_take_from_a_bank_with_variants_says_how_many_recordings_it_was_laid_out_from(tmp_path, capsys):
    from foleystudio.engine.builder import save_engine
    from tests.engine.test_reference_bank import _bank_engine, _variants

    engine = _bank_engine()
    engine.reference_bank.with_variants(_variants(engine.codec.latent_channels))
    model = save_engine(engine, tmp_path / "model", "card")
    code, printed, _ = run_cli(capsys, "generate", "--model", str(model), "--steps", "2", "--duration", "1",
                               "--prompt", "footsteps on gravel", "--reference-likeness", "1",
                               "--out", str(tmp_path / "steps.wav"))
    assert code == 0
    assert "reference sound from the model's bank: 'footsteps on gravel', laid out from 3 recordings of it" in printed
