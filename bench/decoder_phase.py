"""How much of the analytic decoder's error is its phase; prints one JSON object.

  .venv/bin/python bench/decoder_phase.py --model models/foley-small [--index corpus/index] [--max-files N]

The analytic decoder imposes a magnitude (the latent's band levels, shaped by the refiner if the
model has one) with Griffin-Lim started from a fixed random phase table. This benchmark decodes the
same magnitude of each clip from other starting phases, and asks what a better phase or a better
magnitude could gain:

* ``shipped`` -- ``decode_long``, as generation decodes.
* ``griffin_lim``, ``phase_decoder_then_griffin_lim`` (a model with a trained phase decoder,
  ``engine.codec.phase_decoder``, which ``shipped`` then uses without iterations) -- Griffin-Lim
  from the table, as the decoder ran before it had one, and Griffin-Lim started from the predicted
  phase. Every Griffin-Lim here runs the default config's 16 iterations for such a model.
* ``pghi`` -- the same Griffin-Lim started from phase-gradient heap integration of the magnitude
  (Průša, Balazs and Søndergaard 2017, ``pghi_phase``): the phase a Gaussian-windowed STFT with
  that magnitude would have, integrated from the largest coefficients outwards. Needs no training.
* ``true_phase`` -- the same Griffin-Lim started from the clip's own phase (an oracle).
* ``true_phase_no_iterations`` -- the magnitude with the clip's own phase, no iterations (an oracle:
  what a perfect phase predictor could reach with this magnitude).
* ``real_magnitude`` -- the clip's own magnitude with the shipped Griffin-Lim (an oracle: what a
  perfect magnitude could reach with this phase retrieval).

Scores as in ``bench/codec.py`` (``engine.codec.metrics``): MR-STFT distance, log-mel L1 (dB),
loudness-curve error (LU); means over clips. Clips: the held-out clips of ``--index`` (first 4 s,
as ``foleystudio evaluate`` reads them), or bench/codec.py's synthetic set. The heap integration is
plain Python: ``pghi_seconds_per_clip`` says what it would cost.
"""

import argparse
import contextlib
import heapq
import importlib.util
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from foleystudio.engine.codec import AnalyticCodec
from foleystudio.engine.codec.griffinlim import unit_phase
from foleystudio.engine.codec.metrics import reconstruction_scores

RATE = 44100
HANN_GAMMA = 0.25645  # lambda / L**2 of the Gaussian closest to a Hann window of length L (Průša et al.)
LOG_RANGE = 11.5  # natural-log units below the maximum at which the log magnitude is floored (~100 dB)
PGHI_TOLERANCE_DB = -100.0  # coefficients this far under the maximum keep a random phase
METRICS = ("mr_stft", "log_mel_l1_db", "loudness_error_lu")


def pghi_phase(magnitude: np.ndarray, hop: int, n_fft: int, seed: int = 0) -> np.ndarray:
    """Phase [bins, frames] for an STFT magnitude [bins, frames] of torch.stft's convention (centred
    Hann frames of ``n_fft`` points every ``hop`` samples, phase relative to each frame's start).

    For a Gaussian window exp(-pi t^2 / lam), the phase's derivatives follow from the log magnitude
    s: along time, d(phase)/d(frame) = (hop n_fft / lam) ds/d(bin) + 2 pi hop bin / n_fft; along
    frequency, d(phase)/d(bin) = -(lam / (hop n_fft)) ds/d(frame) - pi (the -pi: the window is
    centred n_fft / 2 after the frame's start). Starting at the largest coefficient, each
    neighbour's phase is its neighbour's plus the trapezoidal step, largest coefficients first."""
    bins, frames = magnitude.shape
    lam = HANN_GAMMA * n_fft**2
    log = np.log(np.maximum(magnitude, 1e-30))
    log = np.maximum(log, log.max() - LOG_RANGE)
    along_time = (hop * n_fft / lam) * np.gradient(log, axis=0) + 2 * np.pi * hop * np.arange(bins)[:, None] / n_fft
    along_bins = -(lam / (hop * n_fft)) * (np.gradient(log, axis=1) if frames > 1 else 0 * log) - np.pi
    phase = np.random.default_rng(seed).uniform(0.0, 2 * np.pi, magnitude.shape)
    done = magnitude <= magnitude.max() * 10 ** (PGHI_TOLERANCE_DB / 20)
    steps = ((0, 1, along_time), (0, -1, along_time), (1, 0, along_bins), (-1, 0, along_bins))
    for start in np.argsort(-magnitude, axis=None):
        if done.flat[start]:
            continue
        row, column = divmod(int(start), frames)
        phase[row, column], done[row, column] = 0.0, True
        heap = [(-magnitude[row, column], row, column)]
        while heap:
            _, row, column = heapq.heappop(heap)
            for d_row, d_column, derivative in steps:
                r, c = row + d_row, column + d_column
                if 0 <= r < bins and 0 <= c < frames and not done[r, c]:
                    sign = 1.0 if d_row + d_column > 0 else -1.0
                    phase[r, c] = phase[row, column] + sign * 0.5 * (derivative[row, column] + derivative[r, c])
                    done[r, c] = True
                    heapq.heappush(heap, (-magnitude[r, c], r, c))
    return phase


def _unit(phase: np.ndarray) -> torch.Tensor:
    return torch.polar(torch.ones(()), torch.from_numpy(phase).float())


def decodes(codec: AnalyticCodec, audio: np.ndarray) -> tuple[dict[str, torch.Tensor], float]:
    """Every variant's decode of one clip (2, n), and the seconds the heap integration took."""
    wave = torch.from_numpy(audio)[None]
    latent = codec.encode_long(wave)
    magnitude = codec.decoded_magnitude(latent)
    frames = magnitude.shape[-1]
    padded = torch.nn.functional.pad(wave, (0, frames * codec.framing.hop - wave.shape[-1]))
    spectrum = codec.framing.analyse(padded)
    true_phase = unit_phase(spectrum)
    started = time.perf_counter()
    pghi = torch.stack([_unit(pghi_phase(magnitude[0, channel].numpy(), codec.framing.hop, codec.framing.n_fft))
                        for channel in range(magnitude.shape[1])])[None]
    pghi_seconds = time.perf_counter() - started
    table = codec.starting_phase(0, frames)
    # A codec with a phase decoder runs none after it: its Griffin-Lim is the one it ran before.
    iterations = codec.config.with_griffin_lim_phase().griffin_lim_iterations
    variants = {
        "shipped": codec.decode_long(latent),
        "pghi": codec.retrieve_phase(magnitude, pghi, iterations),
        "true_phase": codec.retrieve_phase(magnitude, true_phase, iterations),
        "true_phase_no_iterations": codec.retrieve_phase(magnitude, true_phase, iterations=0),
        "real_magnitude": codec.retrieve_phase(spectrum.abs(), table, iterations),
    }
    if codec.phase_decoder is not None:
        variants["griffin_lim"] = codec.retrieve_phase(magnitude, table, iterations)
        variants["phase_decoder_then_griffin_lim"] = codec.retrieve_phase(
            magnitude, codec.predicted_phase(magnitude), iterations)
    return variants, pghi_seconds


def score(codec: AnalyticCodec, clips: dict[str, np.ndarray]) -> dict:
    totals: dict[str, dict[str, list[float]]] = {}
    pghi_seconds = []
    with torch.no_grad():
        for audio in clips.values():
            variants, seconds = decodes(codec, audio)
            pghi_seconds.append(seconds)
            for name, decoded in variants.items():
                scores = reconstruction_scores(torch.from_numpy(audio), decoded[0], RATE)
                for metric in METRICS:
                    value = getattr(scores, metric)
                    if not math.isnan(value):
                        totals.setdefault(name, {}).setdefault(metric, []).append(value)
    result = {name: {metric: round(float(np.mean(values)), 4) for metric, values in metrics.items()}
              for name, metrics in totals.items()}
    return {"decoders": result, "pghi_seconds_per_clip": round(float(np.mean(pghi_seconds)), 3)}


def _codec_bench():
    spec = importlib.util.spec_from_file_location("bench_codec", Path(__file__).with_name("codec.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    from foleystudio.engine.builder import load_engine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="model folder with an analytic codec")
    parser.add_argument("--index", type=Path, help="corpus index: its held-out clips (default: synthetic set)")
    parser.add_argument("--max-files", type=int, help="use at most this many held-out clips")
    args = parser.parse_args()
    codec = load_engine(args.model, "cpu").codec.eval()
    if not isinstance(codec, AnalyticCodec):
        raise SystemExit(f"{args.model}: its codec is not the analytic one; there is no phase to measure")
    bench = _codec_bench()
    clips = bench.index_set(args.index, args.max_files)[0] if args.index else bench.synthetic_set()
    if not clips:
        raise SystemExit(f"no usable held-out clips in {args.index}")
    result = {"model": str(args.model), "clips": len(clips),
              "audio": f"held-out clips of {args.index}" if args.index else "synthetic set (seed 0)",
              **score(codec, clips)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
