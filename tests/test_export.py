"""Exporting stems: names, formats, bext, the mixdown, loudness report, and never overwriting."""

from fractions import Fraction

import av
import numpy as np
import pytest
import soundfile as sf

from foleystudio.audio.io import read_audio
from foleystudio.audio.loudness import measure
from foleystudio.audio.wav import read_bext, write_wav
from foleystudio.errors import OutputError, UserInputError
from foleystudio.export import (
    MIXDOWN_KEY,
    REVIEW_KEY,
    ExportKind,
    check_plan,
    export_project,
    plan_export,
    sanitize_file_stem,
    write_export,
)
from foleystudio.project.document import Project
from foleystudio.project.media import MediaReference
from foleystudio.project.settings import ExportSettings, StemNaming
from foleystudio.project.store import save_project
from foleystudio.project.take import FrozenMapping, Take
from foleystudio.video.probe import probe_media
from tests.media import make_video

RATE = 44100
DURATION_S = 2.0


def sine(seconds, freq, amplitude, rate=RATE):
    t = np.arange(round(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([tone, tone * 0.5])


def add_take(layer, path, audio, start_s=None):
    write_wav(path, audio, RATE, bit_depth=32)
    params = {} if start_s is None else {"video_start_s": start_s}
    take = Take(name=path.stem, audio=MediaReference.for_file(path), parameters=FrozenMapping(params), model_id="test")
    layer.add_take(take)
    layer.select_take(take.id)
    return take


def build_project(tmp_path):
    project = Project()
    project.update(video_duration_s=DURATION_S)
    steps = project.new_layer("Steps on gravel", "on-screen")
    wind = project.new_layer("Wind", "ambience")
    dog = project.new_layer("Dog bark", "off-screen")
    add_take(steps, tmp_path / "steps.wav", sine(1.0, 440, 0.3))
    add_take(wind, tmp_path / "wind.wav", sine(2.0, 220, 0.1))
    add_take(dog, tmp_path / "dog.wav", sine(0.5, 880, 0.2), start_s=1.0)
    return project


@pytest.fixture
def project(tmp_path):
    return build_project(tmp_path)


def names_of(plan):
    return [item.name for item in plan.items]


# ---- names ---------------------------------------------------------------------------------------


def test_ucs_names_carry_category_fx_name_creator_and_source(project, tmp_path):
    settings = ExportSettings(creator_id="JD", source_id="Show-1", mixdown=True)
    plan = plan_export(project, tmp_path / "out", settings)
    assert names_of(plan) == [
        "FOLYFeet_Steps on gravel_JD_Show-1.wav",
        "AMBMisc_Wind_JD_Show-1.wav",
        "DSGNMisc_Dog bark_JD_Show-1.wav",
        "Show-1_Mixdown.wav",
    ]
    assert all(item.path.parent == tmp_path / "out" for item in plan.items)


def test_ucs_source_id_defaults_to_the_project_name_and_empty_creator_is_left_out(project, tmp_path):
    save_project(project, tmp_path / "My Film.foley")
    plan = plan_export(project, tmp_path / "out", ExportSettings(mixdown=False))
    assert names_of(plan)[0] == "FOLYFeet_Steps on gravel_My-Film.wav"


def test_layer_name_scheme_sanitises_and_makes_names_unique(project, tmp_path):
    steps, wind, dog = project.layers
    steps.update(name="Steps/left: heel")
    wind.update(name="steps-LEFT- heel")  # the same file name as the first, ignoring case
    dog.update(name="CON")
    plan = plan_export(project, tmp_path, ExportSettings(stem_naming=StemNaming.LAYER_NAME, mixdown=False))
    assert names_of(plan) == ["Steps-left- heel.wav", "steps-LEFT- heel 2.wav", "CON-.wav"]


def test_ucs_names_are_numbered_inside_the_fx_name(project, tmp_path):
    project.layers[1].update(name="Steps on gravel", role="on-screen")
    plan = plan_export(project, tmp_path, ExportSettings(source_id="S", mixdown=False))
    assert names_of(plan)[:2] == ["FOLYFeet_Steps on gravel_S.wav", "FOLYFeet_Steps on gravel 2_S.wav"]


def test_names_are_editable_and_sanitised(project, tmp_path):
    steps, wind, _ = project.layers
    names = {steps.id: 'My: "steps"?.wav', wind.id: "Dog bark", MIXDOWN_KEY: "Final mix"}
    plan = plan_export(project, tmp_path, ExportSettings(stem_naming=StemNaming.LAYER_NAME), names)
    assert names_of(plan) == ["My- -steps--.wav", "Dog bark.wav", "Dog bark 2.wav", "Final mix.wav"]


@pytest.mark.parametrize(
    "text, expected",
    [("a/b\\c", "a-b-c"), ("  .hidden. ", "hidden"), ("tab\there", "tab here"), ("...", "Untitled"), ("lpt1.x", "lpt1.x-")],
)
def test_sanitize_file_stem(text, expected):
    assert sanitize_file_stem(text) == expected


def test_a_layer_without_a_take_is_skipped_and_muted_layers_still_get_a_stem(project, tmp_path):
    project.layers[0].update(mute=True)
    project.new_layer("Empty")
    plan = plan_export(project, tmp_path, ExportSettings(mixdown=False))
    assert len(plan.stems) == 3 and plan.skipped == ("Empty",)


# ---- writing ------------------------------------------------------------------------------------


def test_stems_are_resampled_to_48k_24_bit_with_bext(project, tmp_path):
    report = export_project(project, tmp_path / "out", ExportSettings(sample_rate=48000, bit_depth=24))
    assert len(report.files) == 4
    for exported in report.files:
        info = sf.info(exported.path)
        assert (info.samplerate, info.subtype, info.channels) == (48000, "PCM_24", 2)
        assert info.frames == DURATION_S * 48000
        bext = read_bext(exported.path)
        assert bext.originator == "FoleyStudio" and bext.time_reference_samples == 0
        assert exported.label in bext.description
    steps, _ = read_audio(report.files[0].path)
    expected = read_audio(tmp_path / "steps.wav", sample_rate=48000)[0]
    np.testing.assert_allclose(steps[:, : expected.shape[1]], expected, atol=1e-4)
    assert np.abs(steps[:, expected.shape[1] + 10 :]).max() == 0


def test_32_bit_float_and_44k(project, tmp_path):
    report = export_project(project, tmp_path, ExportSettings(sample_rate=44100, bit_depth=32, mixdown=False))
    for exported in report.files:
        info = sf.info(exported.path)
        assert (info.samplerate, info.subtype, info.frames) == (44100, "FLOAT", DURATION_S * 44100)


def test_mixdown_is_the_sum_of_the_audible_stems(project, tmp_path):
    steps, wind, _ = project.layers
    steps.update(gain_db=-6.0)
    wind.update(mute=True)
    report = export_project(project, tmp_path, ExportSettings(bit_depth=32, sample_rate=44100, source_id="S"))
    stems = {f.label: read_audio(f.path)[0] for f in report.files if f.kind is ExportKind.STEM}
    assert set(stems) == {"Steps on gravel", "Wind", "Dog bark"}  # the muted layer has its stem
    mix = read_audio(report.file("S_Mixdown.wav").path)[0]
    np.testing.assert_allclose(mix, stems["Steps on gravel"] + stems["Dog bark"], atol=1e-6)
    assert np.abs(stems["Steps on gravel"]).max() == pytest.approx(0.3 * 10 ** (-6 / 20), rel=1e-3)
    assert np.abs(stems["Dog bark"][:, : RATE - 1]).max() == 0  # placed at its video start (1 s)


def test_report_matches_measuring_the_files(project, tmp_path):
    project.layers[0].update(mute=True)
    silent = project.new_layer("Silence")
    add_take(silent, tmp_path / "silence.wav", np.zeros((2, RATE), np.float32))
    report = export_project(project, tmp_path / "out", ExportSettings(bit_depth=24))
    for exported in report.files:
        audio, rate = read_audio(exported.path)
        measured = measure(audio, rate)
        assert exported.duration_s == pytest.approx(DURATION_S)
        if exported.label == "Silence":
            assert exported.integrated_lufs is None and exported.true_peak_dbtp is None
            assert read_bext(exported.path).integrated_lufs is None
            continue
        assert exported.integrated_lufs == pytest.approx(measured.integrated_lufs, abs=0.02)
        assert exported.true_peak_dbtp == pytest.approx(measured.true_peak_dbtp, abs=0.02)
        assert read_bext(exported.path).integrated_lufs == pytest.approx(measured.integrated_lufs, abs=0.02)
    loudness = {f.label: f.integrated_lufs for f in report.files}
    assert loudness["Steps on gravel"] > loudness["Wind"]  # the numbers differ per file


def test_existing_files_are_refused_and_nothing_is_written(project, tmp_path):
    settings = ExportSettings(stem_naming=StemNaming.LAYER_NAME)
    out = tmp_path / "out"
    out.mkdir()
    (out / "Wind.wav").write_bytes(b"keep me")
    plan = plan_export(project, out, settings)
    with pytest.raises(OutputError, match="Wind.wav"):
        write_export(plan)
    assert sorted(p.name for p in out.iterdir()) == ["Wind.wav"]
    assert (out / "Wind.wav").read_bytes() == b"keep me"
    assert check_plan(plan, overwrite=True) == [out / "Wind.wav"]
    report = write_export(plan, overwrite=True)
    assert sf.info(out / "Wind.wav").samplerate == 48000
    assert [f.replaced for f in report.files] == [False, True, False, False]


def test_a_missing_take_file_is_named_before_anything_is_written(project, tmp_path):
    (tmp_path / "dog.wav").unlink()
    out = tmp_path / "out"
    with pytest.raises(UserInputError, match="Dog bark"):
        export_project(project, out)
    assert not out.exists()


def test_an_unwritable_folder_is_an_output_error(project, tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError, match="is a file"):
        export_project(project, blocker / "out")
    with pytest.raises(OutputError, match="is a file"):
        export_project(project, blocker)


def test_a_failure_part_way_leaves_no_file(project, tmp_path, monkeypatch):
    from foleystudio import export

    def broken_mux(*args, **kwargs):
        raise OutputError("disk full")

    monkeypatch.setattr(export, "write_review_mp4", broken_mux)
    video = make_video(tmp_path / "clip.mp4", seconds=DURATION_S)
    project.update(video=MediaReference.for_file(video))
    with pytest.raises(OutputError, match="disk full"):
        export_project(project, tmp_path / "out", ExportSettings(review_video=True))
    assert list((tmp_path / "out").iterdir()) == []


def test_nothing_to_export_without_takes(tmp_path):
    project = Project()
    project.new_layer("Empty")
    with pytest.raises(UserInputError, match="nothing to export"):
        export_project(project, tmp_path)


# ---- video: review MP4 and time reference ----------------------------------------------------------


def test_review_mp4_is_written_with_the_mix(project, tmp_path):
    video = make_video(tmp_path / "clip.mp4", seconds=DURATION_S)
    project.update(video=MediaReference.for_file(video))
    settings = ExportSettings(review_video=True, source_id="S")
    plan = plan_export(project, tmp_path / "out", settings)
    assert plan.item(REVIEW_KEY).name == "S_Review.mp4"
    report = write_export(plan)
    info = probe_media(report.file("S_Review.mp4").path)
    assert info.video is not None and info.audio[0].sample_rate == 48000
    assert info.audio[0].duration_s == pytest.approx(DURATION_S, abs=0.05)


def test_no_review_video_without_a_video(project, tmp_path):
    plan = plan_export(project, tmp_path, ExportSettings(review_video=True))
    assert all(item.kind is not ExportKind.REVIEW_VIDEO for item in plan.items)


def write_timecoded_video(path, timecode, fps=24):
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = timecode
        for i in range(fps * 2):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")
            frame.pts = i
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path


def test_bext_time_reference_is_the_video_start_timecode(project, tmp_path):
    video = write_timecoded_video(tmp_path / "tc.mp4", "01:00:00:12")
    project.update(video=MediaReference.for_file(video), frame_rate=Fraction(24))
    report = export_project(project, tmp_path / "out", ExportSettings(sample_rate=48000, mixdown=False))
    expected = round((3600 + 0.5) * 48000)
    assert {read_bext(f.path).time_reference_samples for f in report.files} == {expected}
