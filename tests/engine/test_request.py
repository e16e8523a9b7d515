"""A generation request validates its input once, precisely."""

import dataclasses

import numpy as np
import pytest

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.guidance import GuidanceScales
from foleystudio.engine.request import GenerationRequest, VideoSpan, compose_caption
from foleystudio.errors import UserInputError


def test_defaults_and_modalities():
    request = GenerationRequest(duration_s=2.0, on_screen_prompt="  footsteps   on gravel ")
    assert request.on_screen_prompt == "footsteps on gravel"
    assert request.modalities == {"text"}
    with_all = dataclasses.replace(request, video=VideoSpan("clip.mp4", 1.0), reference_audio="ref.wav")
    assert with_all.modalities == {"text", "video", "audio"}
    assert dataclasses.replace(with_all, follow_video=False).modalities == {"text", "audio"}


def test_caption_says_what_is_on_and_off_screen():
    assert compose_caption("door slam", "dog barking") == "on screen: door slam; off screen: dog barking"
    assert compose_caption("", "rain") == "off screen: rain"
    assert compose_caption(" ", "") == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duration_s": 0}, "duration must be > 0"),
        ({"duration_s": -1.0}, "duration must be > 0"),
        ({"duration_s": float("nan")}, "duration must be a number"),
        ({"steps": 0}, "steps must be between 1"),
        ({"steps": 2.5}, "steps must be a whole number"),
        ({"variations": 9}, "variations must be between 1 and 8"),
        ({"sampler": "ddim"}, "sampler must be one of euler, heun"),
        ({"adherence": 1.5}, "adherence must be between 0 and 1"),
        ({"seed": -3}, "seed must be between 0"),
    ],
)
def test_bad_values_are_named(changes, message):
    with pytest.raises(UserInputError, match=message):
        GenerationRequest(**{"duration_s": 2.0, **changes})


def test_bad_guidance_and_video_start():
    with pytest.raises(UserInputError, match="text guidance must be 0 or more"):
        GenerationRequest(duration_s=1.0, guidance=GuidanceScales(text=-1))
    with pytest.raises(UserInputError, match="video guidance must be a finite number"):
        GuidanceScales(video=float("inf"))
    with pytest.raises(UserInputError, match="video start must be >= 0"):
        VideoSpan("a.mp4", -2.0)


def test_curve_must_cover_the_take_and_start_at_zero():
    two_seconds = LoudnessCurve.constant(2.0, -20.0)
    GenerationRequest(duration_s=2.0, curve=two_seconds)
    GenerationRequest(duration_s=2.1, curve=two_seconds)  # within one frame: the last value holds
    with pytest.raises(UserInputError, match="covers 2.00 s but the take is 3.00 s"):
        GenerationRequest(duration_s=3.0, curve=two_seconds)
    shifted = LoudnessCurve.uniform(np.full(12, -20.0), np.full(12, -20.0), start_s=1.0)
    with pytest.raises(UserInputError, match="must start at 0 s"):
        GenerationRequest(duration_s=1.0, curve=shifted)


def test_curve_with_nan_is_refused_where_it_is_made():
    with pytest.raises(UserInputError, match="NaN"):
        LoudnessCurve.uniform([-20.0, float("nan")], [-20.0, -20.0])
