"""A generated take becomes a file and a project take that records everything that made it."""

import numpy as np
import pytest
import soundfile as sf

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.engine.pipeline import generate, run_to_end
from foleystudio.engine.request import GenerationRequest
from foleystudio.errors import OutputError
from foleystudio.project.document import Project
from foleystudio.project.store import load_project, save_project
from foleystudio.takes import project_take


@pytest.fixture(scope="module")
def generated():
    request = GenerationRequest(duration_s=1.0, on_screen_prompt="door slam", negative_prompt="music", steps=2,
                                seed=11, guidance=GuidanceScales(2.0, 3.0, 1.5),
                                curve=LoudnessCurve.constant(1.0, -20.0))
    return run_to_end(generate(build_engine(TINY), request))[0]


def test_the_project_take_records_every_parameter_and_survives_a_save(generated, tmp_path):
    take = project_take(generated, tmp_path / "slam.wav", "Door slam 1")
    audio, rate = sf.read(str(tmp_path / "slam.wav"), dtype="float32", always_2d=True)
    assert rate == 44100 and np.abs(audio.T - generated.audio).max() < 2e-7 * 2**8  # 24-bit
    params = take.parameters
    assert (params["on_screen_prompt"], params["negative_prompt"], params["seed"], params["steps"]) == (
        "door slam", "music", 11, 2)
    assert (params["video_guidance"], params["text_guidance"], params["audio_guidance"]) == (2.0, 3.0, 1.5)
    assert params["curve"] == LoudnessCurve.constant(1.0, -20.0) and params["model"] == "preset:tiny"
    assert take.model_id == "preset:tiny" and take.measured_curve == generated.measured_curve

    project = Project()
    layer = project.new_layer("Door")
    layer.add_take(take)
    path = save_project(project, tmp_path / "scene.foley")
    loaded = load_project(path)
    (again,) = loaded.layers[0].takes
    assert again.parameters == take.parameters and again.measured_curve == take.measured_curve


def test_an_existing_file_is_never_overwritten(generated, tmp_path):
    (tmp_path / "slam.wav").write_bytes(b"keep")
    with pytest.raises(OutputError, match="already exists"):
        project_take(generated, tmp_path / "slam.wav", "Door slam 1")
    assert (tmp_path / "slam.wav").read_bytes() == b"keep"
