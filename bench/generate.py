"""Generation speed of an engine preset; prints one JSON object.

  .venv/bin/python bench/generate.py [--preset small | --model FOLDER] [--seconds 10 60] [--device auto]
                                     [--quick] [--refiner-width N]

For each take length: the real-time factor of the whole `pipeline.generate` (conditions, all sampling
steps at the preset's default steps and guidance, decoding, conformance) for a text + video request
(the on-screen Foley case) and a text-only one; at the default equal guidance scales both need two
guidance branches per step, three for text + video on a preset whose guidance keeps loudness (the
picture-only branch joins; `loudness_anchor`). For takes up to 10 s also the worst case of guidance:
video, text and reference audio with three different scales (four branches), and, on such a preset,
the text + video take without keeping loudness, same weights (``loudness_kept_cost``). Each case
runs once untimed with one step first (warm-up). Also:

* time per sampling step against a plain matmul of the same FLOPs measured in the same run
  (FLOPs of one batched generator forward counted by torch's FlopCounterMode): the ratio says how
  close the implementation gets to the machine's matmul speed;
* codec encode/decode speed (x real time) and peak RSS.

``--refiner-width N`` gives the preset's analytic codec a refiner of that width (foley-small's is 256),
decoding as foley-small does (Griffin-Lim to the shaped bins, each frame's loudness kept). The
weights are untrained (speed does not depend on them). ``--model FOLDER`` times a model folder
instead, as it ships: a model with a reference bank adds the retrieved reference's guidance branch to
every text prompt. Timings on a shared machine are noisy;
ratios measured in the same run are the figures to compare.
"""

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from foleystudio.engine.builder import build_engine, load_engine  # noqa: E402
from foleystudio.engine.config import preset  # noqa: E402
from foleystudio.engine.guidance import GuidanceScales, guidance_branches  # noqa: E402
from foleystudio.engine.model import prompt_trained  # noqa: E402
from foleystudio.engine.pipeline import condition_inputs, generate, run_to_end  # noqa: E402
from foleystudio.engine.request import GenerationRequest, VideoSpan  # noqa: E402
from tests.media import make_audio, make_video  # noqa: E402


def peak_rss_mib() -> float:
    scale = 1 if platform.system() == "Darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def timed(function, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def take_seconds(engine, request) -> float:
    # One untimed step of the same length first: the first pass at a new length allocates its buffers.
    run_to_end(generate(engine, dataclasses.replace(request, steps=1)))
    return timed(lambda: run_to_end(generate(engine, request)))


def step_efficiency(engine, request) -> dict:
    """One batched generator forward vs a square matmul of the same FLOPs, in this run."""
    inputs = condition_inputs(engine, request)
    branches = guidance_branches(inputs.present, request.guidance, inputs.has_negative_text)
    frames = engine.generator.latent_frames_for(request.duration_s)
    with torch.no_grad():
        rows = engine.generator.encode_conditions(inputs, branches, frames).to(engine.device, engine.dtype)
        x = torch.randn(len(branches), engine.config.generator.latent_channels, frames, device=engine.device)
        t = torch.full((len(branches),), 0.5, device=engine.device)

        def forward():
            engine.generator.velocity(x, t, rows)

        counter = FlopCounterMode(display=False)
        with counter:
            forward()
        flops = counter.get_total_flops()
        forward_s = timed(forward, repeats=3)
        n = max(64, round((flops / 2) ** (1 / 3)))
        a, b = torch.randn(n, n), torch.randn(n, n)
        matmul_s = timed(lambda: a @ b, repeats=5)
    return {
        "branches": len(branches), "latent_frames": frames, "forward_gflop": round(flops / 1e9, 3),
        "forward_s": round(forward_s, 4), "same_flop_matmul_s": round(matmul_s, 4),
        "matmul_size": n, "efficiency_vs_matmul": round(matmul_s / forward_s, 3),
        "achieved_gflop_per_s": round(flops / forward_s / 1e9, 2),
    }


def codec_speed(engine, seconds: float) -> dict:
    wave = torch.randn(1, 2, int(seconds * 44100)) * 0.1
    with torch.no_grad():
        encode_s = timed(lambda: engine.codec.encode(wave), repeats=2)
        latent = engine.codec.encode(wave)
        decode_s = timed(lambda: engine.codec.decode(latent), repeats=2)
    return {"seconds": seconds, "encode_x_realtime": round(seconds / encode_s, 1),
            "decode_x_realtime": round(seconds / decode_s, 1)}


def loudness_kept_cost(engine, request, kept_s: float) -> dict:
    """The same take with guidance that does not keep loudness (same weights): what keeping it costs.
    At equal video and text scales it adds the picture-only branch to each step."""
    plain = dataclasses.replace(engine, config=dataclasses.replace(engine.config, guidance_keeps_loudness=False))
    plain_s = take_seconds(plain, request)
    return {"not_kept_total_s": round(plain_s, 2), "kept_over_not_kept": round(kept_s / plain_s, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--model", help="a model folder to time instead of a preset (--refiner-width is ignored)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true", help="3 steps (checks the script, not the speed)")
    parser.add_argument("--refiner-width", type=int, default=0, help="analytic codec refiner width (0: none)")
    args = parser.parse_args()
    config = preset(args.preset)
    if args.refiner_width:
        codec = dataclasses.replace(config.codec, refiner_width=args.refiner_width, griffin_lim_projection="bins",
                                    griffin_lim_keep_loudness=True)
        config = dataclasses.replace(config, codec=codec)
    if args.model:
        engine = load_engine(args.model, args.device)
        config = engine.config
    else:
        engine = build_engine(config, args.device)
    steps = 3 if args.quick else config.sampler.steps
    results = {"preset": None if args.model else args.preset, "model": args.model,
               "reference_bank": engine.reference_bank is not None, "refiner_width": args.refiner_width, "device": str(engine.device),
               "dtype": str(engine.dtype), "steps": steps, "sampler": config.sampler.method, "torch_threads": torch.get_num_threads(),
               "cpu_count": os.cpu_count(), "torch": torch.__version__, "takes": []}
    with tempfile.TemporaryDirectory() as folder:
        for seconds in args.seconds:
            video = make_video(Path(folder) / f"clip{seconds:g}.mp4", seconds=seconds, fps=Fraction(24),
                               size=(160, 96))
            text_only = GenerationRequest(duration_s=seconds, on_screen_prompt="footsteps on gravel", steps=steps)
            with_video = GenerationRequest(duration_s=seconds, on_screen_prompt="footsteps on gravel", steps=steps,
                                           video=VideoSpan(video, 0.0))
            # Distinct scales for every modality: the four-branch worst case of guidance.
            all_scales = dataclasses.replace(with_video, reference_audio=make_audio(
                Path(folder) / "ref.wav", seconds=5.0, rate=44100), guidance=GuidanceScales(3.0, 4.5, 2.0))
            take = {"seconds": seconds}
            cases = [("text_and_video", with_video), ("text_only", text_only)]
            if seconds <= 10.0 and prompt_trained(engine.generator.config.trained_prompts, "audio"):
                cases.append(("video_text_audio_four_branches", all_scales))
            for name, request in cases:
                elapsed = take_seconds(engine, request)
                take[name] = {"total_s": round(elapsed, 2), "real_time_factor": round(elapsed / seconds, 3)}
            if seconds <= 10.0 and config.guidance_keeps_loudness:
                take["loudness_kept_cost"] = loudness_kept_cost(engine, with_video, take["text_and_video"]["total_s"])
            take["step"] = step_efficiency(engine, with_video)
            results["takes"].append(take)
    results["codec"] = codec_speed(engine, 10.0)
    results["peak_rss_mib"] = round(peak_rss_mib(), 1)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
