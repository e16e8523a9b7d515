"""A new layer generates with the same settings as a plain request: one set of defaults (steps
excepted: both take the model's recommendation where it gives one)."""

from foleystudio.engine.guidance import GuidanceScales
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import SamplerConfig
from foleystudio.project import layer


def test_layer_defaults_are_the_engines():
    request = GenerationRequest(duration_s=1.0)
    scales = GuidanceScales()
    assert (layer.DEFAULT_VIDEO_GUIDANCE, layer.DEFAULT_TEXT_GUIDANCE, layer.DEFAULT_AUDIO_GUIDANCE) == (
        scales.video, scales.text, scales.audio)
    assert request.guidance == scales
    assert layer.DEFAULT_STEPS == request.steps == SamplerConfig().steps
    assert layer.DEFAULT_LOUDNESS_ADHERENCE == request.adherence
    assert layer.DEFAULT_SEED == request.seed


def test_the_generate_commands_defaults_are_the_engines():
    from foleystudio.cli import build_parser

    args = build_parser().parse_args(["generate", "--out", "take.wav"])
    request, scales = GenerationRequest(duration_s=1.0), GuidanceScales()
    assert (args.guidance_video, args.guidance_text, args.guidance_audio) == (scales.video, scales.text, scales.audio)
    assert (args.adherence, args.sampler, args.seed, args.variations) == (
        request.adherence, request.sampler, request.seed, request.variations)
    # Steps are the model's (its config's sampler.steps), as for a new layer in the app:
    # tests/test_cli_generate.py and tests/ui/test_layers_panel.py.
    assert args.steps is None
