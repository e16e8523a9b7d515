"""`foleystudio generate ... --out OUT.wav`: takes from prompts, a video, a reference and a curve.

Writes OUT.wav (or OUT_1.wav, OUT_2.wav, ... for variations) as 24-bit 44.1 kHz BWF with the
take's loudness in the bext chunk, and the measured curve as CSV beside each. Every output name is
checked before generating, so nothing is overwritten and no time is spent on takes that cannot
be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foleystudio.atomic import check_output_path, write_text_atomic
from foleystudio.audio.curve import LoudnessCurve
from foleystudio.commands._args import positive_seconds
from foleystudio.commands.predict_curve import add_model_arguments
from foleystudio.errors import UserInputError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate takes (text-to-audio, or video-to-audio with --video)")
    parser.add_argument("--video", help="video the take accompanies (without it: text-to-audio)")
    parser.add_argument("--start", type=float, default=0.0, metavar="S", help="start in the video (s)")
    parser.add_argument("--duration", type=positive_seconds, metavar="S",
                        help="take length (default: the curve's, else the rest of the video)")
    parser.add_argument("--prompt", default="", help="on-screen sound, in words")
    parser.add_argument("--offscreen", default="", help="off-screen sound, in words")
    parser.add_argument("--negative", default="", help="what the take should not sound like")
    parser.add_argument("--ref", metavar="AUDIO", help="reference sound (audio prompt)")
    curve = parser.add_mutually_exclusive_group()
    curve.add_argument("--curve", metavar="CSV", help="loudness curve CSV (time_s,left_lufs,right_lufs)")
    curve.add_argument("--curve-from", metavar="AUDIO", help="use the loudness curve of this audio file")
    curve.add_argument("--predict-curve", action="store_true", help="predict the curve from the video")
    parser.add_argument("--adherence", type=float, default=0.8, help="how strictly the take follows the curve, 0..1")
    parser.add_argument("--reference-likeness", type=float, default=0.0,
                        help="how much of the reference sound (given, or found in the model's bank) the take "
                             "keeps, 0..1: above 0 it starts from the reference cut onto a first take's events")
    parser.add_argument("--guidance-video", type=float, default=2.5, metavar="X")
    parser.add_argument("--guidance-text", type=float, default=2.5, metavar="X")
    parser.add_argument("--guidance-audio", type=float, default=2.5, metavar="X")
    parser.add_argument("--steps", type=int, default=None,
                        help="sampling steps (default: what the model's config recommends)")
    parser.add_argument("--sampler", choices=("euler", "heun"), default="euler")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variations", type=int, default=1)
    add_model_arguments(parser)
    parser.add_argument("--regenerate", metavar="TAKE.wav",
                        help="regenerate --region of this take (made with the same options); the rest stays as it is")
    parser.add_argument("--region", type=float, nargs=2, metavar=("START", "END"),
                        help="with --regenerate: the seconds of the take to make anew")
    parser.add_argument("--out", required=True, metavar="OUT.wav", help="where to write the take")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(run=run)


def output_paths(out: str, variations: int) -> list[tuple[Path, Path]]:
    """(wav, csv) per variation: OUT.wav, or OUT_1.wav ... OUT_N.wav; the curve beside each."""
    out = Path(out)
    if out.suffix.lower() != ".wav":
        raise UserInputError(f"{out}: the output must be a .wav file")
    stems = [out.stem] if variations == 1 else [f"{out.stem}_{index}" for index in range(1, variations + 1)]
    return [(out.with_name(stem + ".wav"), out.with_name(stem + ".csv")) for stem in stems]


def _curve(args: argparse.Namespace, engine) -> LoudnessCurve | None:
    if args.curve:
        return LoudnessCurve.read_csv(args.curve)
    if args.curve_from:
        from foleystudio.audio.io import read_audio
        from foleystudio.audio.loudness import loudness_curve

        audio, rate = read_audio(args.curve_from, channels=2)
        return loudness_curve(audio, rate)
    if args.predict_curve:
        if not args.video:
            raise UserInputError("--predict-curve needs --video")
        from foleystudio.engine.lufs_predictor import predict_curve

        return predict_curve(engine.lufs_predictor, args.video, args.start, args.duration, engine.device)
    return None


def _duration(args: argparse.Namespace, curve: LoudnessCurve | None) -> float:
    if args.duration:
        return args.duration
    if curve is not None:
        return curve.end_s
    if args.video:
        from foleystudio.video.probe import probe_media

        remaining = probe_media(args.video).duration_s - args.start
        if remaining <= 0:
            raise UserInputError(f"--start {args.start} s is past the end of {args.video}")
        return remaining  # longer than the model window: made in overlapping windows
    raise UserInputError("give --duration (or --video or a curve) to say how long the take is")


def _fit(curve: LoudnessCurve | None, duration_s: float) -> LoudnessCurve | None:
    """A curve cut to the take (a longer reference's curve is trimmed, never stretched)."""
    if curve is None or curve.end_s <= duration_s + 1e-6:
        return curve
    keep = curve.times < duration_s - 1e-9
    return LoudnessCurve(curve.times[keep], curve.left[keep], curve.right[keep])


def build_request(args: argparse.Namespace, engine):
    from foleystudio.engine.guidance import GuidanceScales
    from foleystudio.engine.request import GenerationRequest, VideoSpan

    curve = _curve(args, engine)
    duration = _duration(args, curve)
    return GenerationRequest(
        duration_s=duration, on_screen_prompt=args.prompt, off_screen_prompt=args.offscreen,
        negative_prompt=args.negative, reference_audio=args.ref,
        video=VideoSpan(args.video, args.start) if args.video else None, curve=_fit(curve, duration),
        adherence=args.adherence,
        reference_likeness=args.reference_likeness,
        guidance=GuidanceScales(video=args.guidance_video, text=args.guidance_text, audio=args.guidance_audio),
        steps=engine.config.sampler.steps if args.steps is None else args.steps,
        sampler=args.sampler, seed=args.seed, variations=args.variations,
        model=args.model, device=args.device,
    )


def _progress(step) -> None:
    if sys.stderr.isatty():
        print(f"\rstep {step.i}/{step.total}", end="", file=sys.stderr, flush=True)


def _check_region_options(args: argparse.Namespace):
    if (args.regenerate is None) != (args.region is None):
        raise UserInputError("--regenerate TAKE.wav and --region START END go together")
    if args.regenerate is not None and args.variations != 1:
        raise UserInputError("--regenerate makes one new version of the take: leave out --variations")


def _regenerated(args: argparse.Namespace, engine, run_to_end) -> list:
    """The take in --regenerate with --region made anew (the request's duration is the take's)."""
    from foleystudio.audio.io import read_audio
    from foleystudio.engine.retake import regenerate

    audio, _ = read_audio(args.regenerate, sample_rate=44100, channels=2)
    args.duration = audio.shape[1] / 44100
    request = build_request(args, engine)
    start, end = args.region
    return [run_to_end(regenerate(engine, request, audio, start, end, seed=args.seed), _progress)]


def run(args: argparse.Namespace) -> int:
    from foleystudio.engine.builder import load_engine
    from foleystudio.engine.pipeline import generate, run_to_end
    from foleystudio.takes import write_take

    _check_region_options(args)
    paths = output_paths(args.out, args.variations)
    for wav, csv in paths:
        check_output_path(wav, args.overwrite)
        check_output_path(csv, args.overwrite)
    engine = load_engine(args.model, args.device)
    if args.regenerate is not None:
        takes = _regenerated(args, engine, run_to_end)
    else:
        takes = run_to_end(generate(engine, build_request(args, engine)), _progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    for take, (wav, csv) in zip(takes, paths):
        write_take(take, wav, args.overwrite)
        write_text_atomic(csv, take.measured_curve.to_csv_text(), overwrite=args.overwrite)
        report = take.conformance
        heard = "" if take.heard_as is None else f", prompt heard as {take.parameters()['heard_as']}"
        heard += "" if take.bank_reference is None else f", reference sound from the model's bank: {take.bank_reference!r}"
        heard += "" if (take.reference_recordings or 0) < 2 else f", laid out from {take.reference_recordings} recordings of it"
        print(f"{wav}: seed {take.seed}, model {take.model_id}{heard}, true peak {report.true_peak_dbtp:.1f} dBTP, "
              f"curve deviation {report.max_deviation_lu:.1f} LU; curve in {csv.name}")
    return 0
