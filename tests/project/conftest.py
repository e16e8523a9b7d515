"""Builders shared by the project-document tests: a project that uses every field."""

from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.project import ExportSettings, Layer, LayerRole, MediaReference, Project, StemNaming, Take


def write_file(path: Path, size: int, fill: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((fill * size)[:size])
    return path


def uneven_curve() -> LoudnessCurve:
    """A curve with irregular times and values no rounding would keep."""
    times = [0.0, 0.1234567891, 0.5, 1.0 / 3.0, 2.75]
    times.sort()
    left = [-23.123456789, -70.0, -12.5, -31.0 / 3.0, -40.0]
    right = [-24.987654321, -69.0, -13.25, -30.0 / 7.0, -41.5]
    return LoudnessCurve(times, left, right)


def make_take(folder: Path, name: str, project_folder: Path | None, size: int = 100, **fields) -> Take:
    audio = write_file(folder / f"{name}.wav", size)
    parameters = {
        "on_screen_prompt": "boots on gravel",
        "video_guidance": 3.0,
        "steps": 25,
        "seed": 1234,
        "model_id": "tri-ergon-tiny",
        "curve": LoudnessCurve.constant(2.0, -20.0),
        "nested": {"list": [1, 2.5, "three", None, True], "empty": {}},
    }
    defaults = dict(
        name=name,
        audio=MediaReference.for_file(audio, project_folder),
        parameters=parameters,
        measured_curve=uneven_curve(),
        model_id="tri-ergon-tiny",
        created=datetime(2025, 3, 1, 9, 30, 0, 250000, tzinfo=timezone.utc),
    )
    defaults.update(fields)
    return Take(**defaults)


def make_full_project(folder: Path) -> Project:
    """A never-saved project using every field, with media files under ``folder``."""
    video = write_file(folder / "media" / "Szene 1 – Café.mp4", 5000)
    reference = write_file(folder / "library" / "Füße auf Kies.wav", 321)
    project = Project(
        video=MediaReference.for_file(video),
        frame_rate=Fraction(24000, 1001),
        video_duration_s=12.5,
        export=ExportSettings(
            sample_rate=44100,
            bit_depth=32,
            stem_naming=StemNaming.LAYER_NAME,
            creator_id="JD",
            source_id="SHOW-1",
            mixdown=False,
            review_video=True,
        ),
    )
    steps = project.new_layer("Footsteps", on_screen_prompt="boots on gravel, 🥾")
    takes_folder = project.takes_folder()
    take_a = make_take(takes_folder, "take 1", None, size=100)
    take_b = make_take(takes_folder, "take 2", None, size=200, measured_curve=None)
    steps.add_take(take_a)
    steps.add_take(take_b)
    steps.update(
        selected_take_id=take_b.id,
        reference_audio=MediaReference.for_file(reference),
        curve=uneven_curve(),
        curves_linked=False,
        video_guidance=2.5,
        text_guidance=6.0,
        audio_guidance=1.25,
        loudness_adherence=0.33,
        reference_likeness=0.85,
        steps=40,
        seed=2**32 - 1,
        seed_locked=True,
        variations=8,
        mute=True,
        solo=True,
        gain_db=-6.5,
        negative_prompt="music",
    )
    project.new_layer(
        "Room tone",
        LayerRole.AMBIENCE,
        off_screen_prompt="quiet office, air conditioning hum",
        curve=LoudnessCurve.uniform(np.linspace(-40, -30, 9), np.linspace(-41, -31, 9), rate_hz=6.0, start_s=0.5),
    )
    project.add_layer(Layer(name="Door", role="off-screen", curve=LoudnessCurve.constant(1.0, -18.0)))
    return project


@pytest.fixture
def full_project(tmp_path) -> Project:
    return make_full_project(tmp_path / "material")
