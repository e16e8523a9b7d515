"""`foleystudio` alone is the main job: the app, or without a display the demo's stems headless."""

import soundfile as sf

from foleystudio.cli import main


def test_without_a_display_the_main_job_renders_the_demo_stems(tmp_path, capsys, monkeypatch):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    code = main(["open", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "no display was found" in out
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["AMBMisc_Wind_FoleyStudio-Demo.wav", "FOLYFeet_Footsteps_FoleyStudio-Demo.wav",
                       "FOLYProp_Door slam_FoleyStudio-Demo.wav", "FoleyStudio-Demo_Mixdown.wav", "generated"]
    # The bundled model generated one take per layer.
    assert sorted(path.name for path in (tmp_path / "generated").iterdir()) == [
        "Door slam.wav", "Footsteps.wav", "Wind.wav"]
    assert "generating one take per layer with foley-small" in out
    assert all(sf.info(str(tmp_path / name)).samplerate == 48000 for name in written if name.endswith(".wav"))
    assert "LUFS" in out and "true peak" in out


def test_headless_the_model_generates_a_take_per_layer_without_changing_the_project(tmp_path, capsys):
    from foleystudio.commands.app import render_generated_takes
    from foleystudio.demo_project import ensure_demo_project
    from foleystudio.project.store import load_project

    project_path = ensure_demo_project(tmp_path / "demo")
    before = project_path.read_bytes()
    written = render_generated_takes(project_path, tmp_path / "generated", overwrite=False, model="preset:tiny")
    assert [path.name for path in written] == ["Footsteps.wav", "Door slam.wav", "Wind.wav"]
    duration = load_project(project_path).video_duration_s
    for path in written:
        info = sf.info(str(path))
        assert info.samplerate == 44100 and info.channels == 2 and abs(info.frames / 44100 - duration) < 0.01
    assert project_path.read_bytes() == before
    assert "generating one take per layer" in capsys.readouterr().out


def test_headless_without_a_model_says_so_and_generates_nothing(tmp_path, capsys, monkeypatch):
    from foleystudio.commands.app import render_generated_takes
    from foleystudio.demo_project import ensure_demo_project
    from foleystudio.engine import registry

    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(tmp_path / "no models"))
    monkeypatch.setattr(registry, "user_models_dir", lambda: tmp_path / "no user models")
    project_path = ensure_demo_project(tmp_path / "demo")
    assert render_generated_takes(project_path, tmp_path / "generated", overwrite=False) == []
    assert "no takes generated: no generation model is installed" in capsys.readouterr().out
    assert not (tmp_path / "generated").exists()


def test_headless_render_never_overwrites_a_folder_the_user_named(tmp_path, capsys):
    assert main(["open", "--headless", "--no-generate", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["open", "--headless", "--no-generate", "--out", str(tmp_path)]) == 2
    assert "does not overwrite files unless asked" in capsys.readouterr().err


def test_a_missing_project_is_a_clear_error(tmp_path, capsys):
    assert main(["open", str(tmp_path / "nope.foley"), "--headless"]) == 2
    assert "nope.foley: no such project file" in capsys.readouterr().err


def test_export_command_writes_stems_at_the_asked_rate(tmp_path, capsys):
    from foleystudio.demo_project import ensure_demo_project

    project = ensure_demo_project(tmp_path / "demo")
    code = main(["export", str(project), str(tmp_path / "out"), "--rate", "44100", "--bit-depth", "32",
                 "--naming", "layer-name", "--no-mixdown"])
    assert code == 0, capsys.readouterr().err
    names = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert names == ["Door slam.wav", "Footsteps.wav", "Wind.wav"]
    info = sf.info(str(tmp_path / "out" / "Wind.wav"))
    assert (info.samplerate, info.subtype) == (44100, "FLOAT")
