"""A layer becomes a generation request; generated takes become named files and project takes."""

import numpy as np
import pytest
import soundfile as sf

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import generate, run_to_end
from foleystudio.errors import UserInputError
from foleystudio.generation import (
    cut_curve,
    next_seed,
    request_for_layer,
    take_name,
    take_path,
    takes_from_generated,
)
from foleystudio.mix import take_start_s
from foleystudio.project.document import Project
from foleystudio.project.layer import SEED_RANGE
from foleystudio.project.store import save_project
from tests.media import make_audio, make_video


def saved_project(tmp_path, seconds=4.0, video=False):
    project = Project()
    if video:
        path = make_video(tmp_path / "clip.mp4", seconds=seconds)
        project.update(video=project.reference_to(path))
    project.update(video_duration_s=seconds)
    save_project(project, tmp_path / "scene.foley")
    return project


def test_the_request_carries_the_layers_prompts_guidance_and_curve(tmp_path):
    project = saved_project(tmp_path, video=True)
    reference = make_audio(tmp_path / "ref.wav", seconds=0.5)
    layer = project.new_layer("Steps", on_screen_prompt="boots  on gravel", off_screen_prompt="wind",
                              negative_prompt="music", reference_audio=project.reference_to(reference))
    left = np.linspace(-40, -10, len(layer.curve))
    layer.update(curve=LoudnessCurve(layer.curve.times, left, left - 3), video_guidance=4.0, text_guidance=1.5,
                 audio_guidance=0.5, loudness_adherence=0.3, reference_likeness=0.9, steps=7, seed=42, variations=3)
    request = request_for_layer(project, layer, model="preset:tiny", device="cpu", start_s=1.0, duration_s=2.0)
    assert (request.on_screen_prompt, request.off_screen_prompt, request.negative_prompt) == (
        "boots on gravel", "wind", "music")
    assert request.reference_audio == reference and request.video.path == tmp_path / "clip.mp4"
    assert request.video.start_s == 1.0 and request.duration_s == 2.0
    assert (request.guidance.video, request.guidance.text, request.guidance.audio) == (4.0, 1.5, 0.5)
    assert (request.adherence, request.steps, request.seed, request.variations) == (0.3, 7, 42, 3)
    assert request.reference_likeness == 0.9
    assert (request.model, request.device) == ("preset:tiny", "cpu")
    # The curve: frames from 1 s to 3 s of the layer's, re-based to start at 0 s.
    assert np.allclose(request.curve.times, np.arange(12) / 6.0)
    assert np.allclose(request.curve.left, left[6:18]) and np.allclose(request.curve.right, left[6:18] - 3)


def test_a_layer_that_does_not_follow_the_picture_gets_no_video(tmp_path):
    project = saved_project(tmp_path, video=True)
    layer = project.new_layer("Rain", "ambience", off_screen_prompt="rain")
    request = request_for_layer(project, layer)
    assert request.video is None and not request.follow_video and request.duration_s == 4.0


def test_a_curve_cut_mid_frame_starts_at_zero_and_a_short_curve_holds_its_last_value():
    curve = LoudnessCurve.uniform([-30.0, -20.0, -10.0], [-31.0, -21.0, -11.0])  # 0 .. 0.5 s
    cut = cut_curve(curve, 0.25, 0.75)
    assert np.allclose(cut.times, [0.0, 1 / 12, 1 / 12 + 1 / 6, 1 / 12 + 2 / 6, 1 / 12 + 3 / 6])
    assert np.allclose(cut.left, [-20, -10, -10, -10, -10]) and cut.end_s == pytest.approx(0.75)


@pytest.mark.parametrize("what", ["video", "reference"])
def test_a_missing_file_is_a_clear_error(tmp_path, what):
    project = saved_project(tmp_path, video=True)
    reference = make_audio(tmp_path / "footsteps library.wav", seconds=0.5)
    layer = project.new_layer("Steps", reference_audio=project.reference_to(reference))
    gone = tmp_path / ("clip.mp4" if what == "video" else "footsteps library.wav")
    gone.unlink()
    with pytest.raises(UserInputError, match=f"{what}.* is missing: .*{gone.name}"):
        request_for_layer(project, layer)


def test_a_stretch_outside_the_project_and_bad_settings_are_refused(tmp_path):
    project = saved_project(tmp_path)
    layer = project.new_layer("Door", steps=500)
    with pytest.raises(UserInputError, match="run past the end"):
        request_for_layer(project, layer, start_s=3.0, duration_s=2.0)
    with pytest.raises(UserInputError, match="start must be between 0 and 4.000"):
        request_for_layer(project, layer, start_s=4.0)
    with pytest.raises(UserInputError, match="layer 'Door': steps must be between 1 and 200"):
        request_for_layer(project, layer)


def test_a_locked_seed_stays_and_a_fresh_one_leaves_room_for_the_variations(tmp_path):
    project = saved_project(tmp_path)
    layer = project.new_layer("Door", seed=7, seed_locked=True, variations=8)
    assert next_seed(layer, np.random.default_rng(0)) == 7
    layer.update(seed_locked=False)

    class Highest:
        def integers(self, low, high):
            return high - 1

    assert next_seed(layer, Highest()) + 7 == SEED_RANGE[1]
    seeds = {next_seed(layer, np.random.default_rng(n)) for n in range(5)}
    assert len(seeds) == 5


def test_take_names_count_on_from_the_highest_and_paths_never_reuse_a_file(tmp_path):
    project = saved_project(tmp_path)
    layer = project.new_layer("Door/slam")
    existing = ["Door/slam 2", "Door/slam 10", "Door/slam x", "Other 40"]
    assert take_name(layer, existing, 0) == "Door/slam 11" and take_name(layer, existing, 2) == "Door/slam 13"
    assert take_name(layer, [], 0) == "Door/slam 1"
    first = take_path(project, layer, "Door/slam 1")
    assert first == tmp_path / "scene Takes" / "Door_slam 1.wav" and first.parent.is_dir()
    first.write_bytes(b"taken")
    assert take_path(project, layer, "Door/slam 1").name == "Door_slam 1 (2).wav"


def test_generated_takes_become_files_and_takes_placed_at_their_start(tmp_path):
    project = saved_project(tmp_path, seconds=3.0)
    layer = project.new_layer("Wind", "ambience", off_screen_prompt="wind", steps=2, variations=2, seed=3)
    request = request_for_layer(project, layer, model="preset:tiny", start_s=1.5, duration_s=1.0)
    generated = run_to_end(generate(build_engine(TINY), request))
    (tmp_path / "scene Takes").mkdir()
    (tmp_path / "scene Takes" / "Wind 1.wav").write_bytes(b"someone else's file")
    takes = takes_from_generated(project, layer, generated, start_s=1.5)
    assert [take.name for take in takes] == ["Wind 1", "Wind 2"]
    paths = [project.resolve(take.audio) for take in takes]
    assert [path.name for path in paths] == ["Wind 1 (2).wav", "Wind 2.wav"]
    assert (tmp_path / "scene Takes" / "Wind 1.wav").read_bytes() == b"someone else's file"
    for take, path, seed in zip(takes, paths, (3, 4)):
        assert sf.info(str(path)).frames == 44100
        assert take.parameters["seed"] == seed and take.parameters["off_screen_prompt"] == "wind"
        assert take.parameters["video_start_s"] == 1.5 and take_start_s(take) == 1.5
    assert layer.takes == ()  # adding them is the caller's (undoable) business
