"""The demo project: a video and three layers made by our own code, opened as the user left it."""

import numpy as np
import pytest

from foleystudio.demo_project import DEMO_FPS, DEMO_REFERENCE_LIKENESS, demo_frame, ensure_demo_project
from foleystudio.demo_scene import DOOR_TIME_S, render_demo_scene
from foleystudio.mix import render_mix
from foleystudio.project.store import load_project, save_project
from foleystudio.video.frames import frame_at
from foleystudio.video.probe import probe_media


def walker_x(image):
    blue = (image[..., 2] > 130) & (image[..., 0] < 70)
    return np.nonzero(blue)[1].mean()


def test_the_demo_project_is_built_and_plays_the_demo_scene(tmp_path):
    path = ensure_demo_project(tmp_path)
    project = load_project(path)
    assert [layer.name for layer in project.layers] == ["Footsteps", "Door slam", "Wind"]
    assert project.frame_rate == DEMO_FPS and not project.missing_media()
    info = probe_media(project.resolve(project.video))
    assert info.video.frame_rate == DEMO_FPS and info.video.duration_s == pytest.approx(10.0, abs=0.05)
    mix = render_mix(project, 44100).mix
    np.testing.assert_allclose(mix, render_demo_scene(), atol=2e-4)  # 24-bit takes, clipping at 0.98 aside
    for layer in project.layers:
        assert layer.selected_take is not None
        np.testing.assert_allclose(layer.curve.left, layer.selected_take.measured_curve.left)
        assert layer.reference_likeness == DEMO_REFERENCE_LIKENESS == 1.0


def test_the_demo_layers_sample_as_the_default_model_recommends(tmp_path, monkeypatch):
    from foleystudio.engine import registry
    from foleystudio.project.layer import DEFAULT_STEPS

    assert {layer.steps for layer in load_project(ensure_demo_project(tmp_path / "a")).layers} == {
        registry.default_model().recommended_steps}
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(tmp_path / "none"))
    monkeypatch.setattr(registry, "user_models_dir", lambda: tmp_path / "none")
    assert {layer.steps for layer in load_project(ensure_demo_project(tmp_path / "b")).layers} == {DEFAULT_STEPS}


def test_the_picture_moves_with_the_sound(tmp_path):
    video = ensure_demo_project(tmp_path).parent / "corridor.mp4"
    positions = [walker_x(frame_at(video, t)) for t in (1.0, 3.0, 5.0, 7.0)]
    assert all(b > a + 20 for a, b in zip(positions, positions[1:]))
    door = lambda t: demo_frame(t)[90, 275].astype(int)  # noqa: E731 - the doorway, right of the frame
    assert door(DOOR_TIME_S - 1.0).sum() < 100 and door(DOOR_TIME_S + 0.5).sum() > 200


def test_an_existing_demo_is_opened_as_the_user_left_it(tmp_path):
    path = ensure_demo_project(tmp_path)
    project = load_project(path)
    project.new_layer("My layer")
    save_project(project, path)
    assert ensure_demo_project(tmp_path) == path
    assert load_project(path).layers[-1].name == "My layer"
    fresh = load_project(ensure_demo_project(tmp_path, overwrite=True))
    assert [layer.name for layer in fresh.layers] == ["Footsteps", "Door slam", "Wind"]
