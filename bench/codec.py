"""Reconstruction benchmark of the audio codecs; prints one JSON object.

  .venv/bin/python bench/codec.py [--audio DIR | --index DIR] [--learned-weights FILE.safetensors]
                                  [--model FOLDER ...] [--models-only] [--max-files N] [--threads N]

For the analytic codec (``SMALL_ANALYTIC_CODEC``, log-mel + Griffin-Lim) and the learned codec
(``SMALL_LEARNED_CODEC``; untrained — weights drawn from seed 0 — unless ``--learned-weights`` gives
a state dict), every clip is encoded and decoded (``encode_long`` / ``decode_long``) and scored with
``foleystudio.engine.codec.metrics``: multi-resolution STFT distance, log-mel L1 (dB) and the
loudness-curve error (LU, frames above -60 LUFS), and the whistles a decoder adds
(``spurious_tone_db``: how much more its long-term spectrum's strongest narrow lines stand out than
the clip's own; 0 when not more). Scores are means over clips; the loudness error skips clips that
never rise above -60 LUFS, the tone score clips shorter than 8192 samples.

``--model FOLDER`` adds that model folder's codec and, if it is an analytic codec with a trained
phase decoder (``foleystudio.engine.codec.phase_decoder``), the same codec with Griffin-Lim's phase
instead (its default 16 iterations from the fixed table, the refiner kept: foley-small's decoder);
if it has a trained refiner (``foleystudio.engine.codec.refiner``), the codec without either
(band-envelope Griffin-Lim, the untrained decoder foley-small shipped first). If the folder's codec
keeps loudness (``griffin_lim_keep_loudness``), the even spread with that finish is scored too, so
that the finish and the trained shape can be told apart.

``--model`` may be given more than once to compare models in one run (names then come from the
folders: a run's ``RUN/model`` by its run's name); ``--models-only`` scores only the models' own
codecs, no baselines and no variants.

``--index DIR`` takes the held-out clips of a corpus index instead (split ``val``, clips of at least
0.5 s, their first 4 s: the clips and excerpts ``foleystudio evaluate`` scores the codec on).

Audio: every wav/flac/ogg/aif(f)/mp3 file below ``--audio DIR``, read as 44.1 kHz stereo by
``foleystudio.audio.io.read_audio`` (mono is duplicated to both channels; other rates resampled).
Files that cannot be read, or are shorter than 100 ms, are listed under "left_out" with the reason.
Without ``--audio``, a synthetic set (seed 0, 4 s each, see ``synthetic_set``): a centred 1 kHz
tone at -20 dBFS, panned pink noise, footstep-like filtered noise bursts alternating left/right, a
100 Hz - 10 kHz log sweep, a harmonic tone with vibrato, and noise fading in after 1 s of silence.

Speed: encode and decode of 10 s of stereo (the clips looped) on the CPU with torch's default
thread count (or ``--threads``), after one warm-up, the fastest of three runs, as multiples of real time (higher is
faster). The machine is shared: timings are noisy.
"""

import argparse
import contextlib
import dataclasses
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from foleystudio.audio.io import read_audio
from foleystudio.engine.codec import (
    SMALL_ANALYTIC_CODEC,
    SMALL_LEARNED_CODEC,
    AnalyticCodec,
    AudioCodec,
    LearnedCodec,
)
from foleystudio.engine.codec.metrics import reconstruction_scores, spurious_tone_db
from foleystudio.errors import UserInputError

RATE = 44100
SUFFIXES = {".wav", ".flac", ".ogg", ".aif", ".aiff", ".mp3"}
SPEED_SECONDS = 10.0
TIMED_RUNS = 3


# ---- audio -----------------------------------------------------------------------------------
def synthetic_set(seed: int = 0, seconds: float = 4.0) -> dict[str, np.ndarray]:
    """Six documented stereo test signals (see the module docstring), float32 (2, n)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE

    def db(value):
        return 10.0 ** (value / 20.0)

    tone = db(-20) * math.sqrt(2) * np.sin(2 * np.pi * 1000 * t)
    pink = _pink(rng, n) * db(-25)
    bursts = np.zeros((2, n))
    for k, start in enumerate(range(0, n, RATE // 2)):
        length = min(n - start, RATE // 5)
        burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.03 * RATE))
        burst = np.convolve(burst, np.ones(8) / 8, mode="same") * db(-10)
        bursts[k % 2, start : start + length] += burst
        bursts[1 - k % 2, start : start + length] += 0.3 * burst
    sweep = db(-18) * np.sin(2 * np.pi * 100 * seconds / math.log(100) * (100 ** (t / seconds) - 1))
    vibrato = 220 * t + 3 / (2 * np.pi * 5) * np.sin(2 * np.pi * 5 * t)
    harmonic = sum(np.sin(2 * np.pi * h * vibrato) / h for h in range(1, 12)) * db(-24)
    fade = rng.standard_normal((2, n)) * db(-20) * np.clip((t - 1.0) / 2.0, 0, 1)
    signals = {
        "tone_1k_centred": np.stack([tone, tone]),
        "pink_noise_panned": np.stack([pink, 0.5 * pink]),
        "footstep_bursts": bursts,
        "log_sweep": np.stack([sweep, sweep]),
        "harmonic_vibrato": np.stack([harmonic, 0.8 * harmonic]),
        "noise_fade_in": fade,
    }
    return {name: signal.astype(np.float32) for name, signal in signals.items()}


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    pink = np.fft.irfft(spectrum, n)
    return pink / pink.std()


def folder_set(folder: Path, max_files: int | None) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The clips of ``folder`` (44.1 kHz stereo), and the files left out with the reason."""
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    clips, left_out = {}, {}
    for path in paths[:max_files]:
        try:
            audio, _ = read_audio(path, sample_rate=RATE, channels=2)
        except UserInputError as error:
            left_out[str(path)] = str(error)
            continue
        if audio.shape[1] < RATE // 10:
            left_out[str(path)] = "shorter than 100 ms"  # not one loudness frame's worth
        else:
            clips[str(path)] = audio
    return clips, left_out


def index_set(index_dir: Path, max_files: int | None,
              seconds: float = 4.0) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The held-out clips of a corpus index as ``foleystudio evaluate`` reads them."""
    from foleystudio.training.evaluate import read_clip
    from foleystudio.training.index import read_index

    index = read_index(index_dir)
    clips, left_out = {}, {}
    for clip in [c for c in index.split("val") if c.duration_s >= 0.5][:max_files]:
        audio = read_clip(clip, index.library_root, seconds)
        if audio is None:
            left_out[clip.path] = "unreadable or shorter than 0.5 s"
        else:
            clips[clip.path] = audio
    return clips, left_out


# ---- codecs ----------------------------------------------------------------------------------
def _folder_label(folder: Path) -> str:
    """A run's exported model (``RUN/model``) by its run's name, other folders by their own."""
    return folder.parent.name if folder.name == "model" else folder.name


def model_codecs(folder: Path, label: str | None = None, variants: bool = True) -> dict[str, AudioCodec]:
    """A model folder's codec and, with ``variants``: if it has a trained phase decoder, the same
    codec with Griffin-Lim's phase instead (the refiner kept); if it has a trained refiner, the codec
    without either (band envelopes) and, if it keeps loudness, the even spread with that finish.
    Named ``<label>_...``, the label by default the model's config name."""
    from foleystudio.engine.builder import load_engine

    engine = load_engine(folder, "cpu")
    name = label or engine.config.name
    codecs = {f"{name}_model": engine.codec.eval()}
    if not variants or not isinstance(engine.codec, AnalyticCodec):
        return codecs
    config = engine.codec.config
    griffin = config.with_griffin_lim_phase()
    if griffin is not config:
        codecs[f"{name}_griffin_lim_phase"] = _with_weights(AnalyticCodec(griffin), engine.codec)
    if config.refiner_width:
        spread = griffin.without_refiner()
        untrained = dataclasses.replace(spread, griffin_lim_projection="bands", griffin_lim_keep_loudness=False)
        codecs[f"{name}_without_refiner"] = AnalyticCodec(untrained)
        if config.griffin_lim_keep_loudness:  # the loudness finish alone, on the even spread
            codecs[f"{name}_spread_keeping_loudness"] = AnalyticCodec(spread)
    return codecs


def _with_weights(codec: AnalyticCodec, trained: AnalyticCodec) -> AnalyticCodec:
    """``codec`` with ``trained``'s weights for every parameter it has (strictly: none missing)."""
    own = codec.state_dict()
    codec.load_state_dict({key: value for key, value in trained.state_dict().items() if key in own}, strict=True)
    return codec.eval()


def learned_codec(weights: Path | None) -> LearnedCodec:
    # Untrained weights are drawn from seed 0 without touching the caller's global RNG state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        codec = LearnedCodec(SMALL_LEARNED_CODEC)
    if weights is not None:
        from safetensors.torch import load_file

        codec.load_state_dict(load_file(str(weights)), strict=True)
    return codec.eval()


def score(codec: AudioCodec, clips: dict[str, np.ndarray]) -> dict:
    totals = {"mr_stft": [], "log_mel_l1_db": [], "loudness_error_lu": [], "spurious_tone_db": []}
    with torch.no_grad():
        for audio in clips.values():
            wave = torch.from_numpy(audio)[None]
            decoded = codec.decode_long(codec.encode_long(wave))[0]
            scores = dataclasses.asdict(reconstruction_scores(wave[0], decoded, RATE))
            scores["spurious_tone_db"] = spurious_tone_db(audio, decoded[:, : audio.shape[1]].numpy(), RATE)
            for name in totals:
                if not math.isnan(scores[name]):
                    totals[name].append(scores[name])
    return {name: float(np.mean(values)) if values else None for name, values in totals.items()}


def speed(codec: AudioCodec, clips: dict[str, np.ndarray]) -> dict:
    looped = np.concatenate(list(clips.values()), axis=1)
    repeats = math.ceil(SPEED_SECONDS * RATE / looped.shape[1])
    wave = torch.from_numpy(np.tile(looped, repeats)[:, : int(SPEED_SECONDS * RATE)].copy())[None]
    with torch.no_grad():
        codec.decode(codec.encode(wave[..., : RATE // 2]))  # warm-up
        latent = codec.encode(wave)
        encode_s = _best_time(lambda: codec.encode(wave))
        decode_s = _best_time(lambda: codec.decode(latent))
    return {
        "encode_x_realtime": round(SPEED_SECONDS / encode_s, 1),
        "decode_x_realtime": round(SPEED_SECONDS / decode_s, 1),
    }


def _best_time(function, runs: int = TIMED_RUNS) -> float:
    """The fastest of a few runs: on a shared machine the others measure the neighbours."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def describe(codec: AudioCodec) -> dict:
    return {
        "latent_channels": codec.latent_channels,
        "latent_rate_hz": round(codec.latent_rate, 2),
        "parameters": sum(p.numel() for p in codec.parameters()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, help="folder of sound files (default: the synthetic set)")
    parser.add_argument("--index", type=Path, help="corpus index: its held-out clips (instead of --audio)")
    parser.add_argument("--learned-weights", type=Path, help="safetensors state dict of SMALL_LEARNED_CODEC")
    parser.add_argument("--model", type=Path, action="append", default=[],
                        help="also this model folder's codec (and it without its refiner); repeat to compare "
                             "models, then named by their folders")
    parser.add_argument("--models-only", action="store_true",
                        help="score only the --model folders' own codecs (no baselines, no variants)")
    parser.add_argument("--max-files", type=int, help="use at most this many files of --audio")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.index is not None:
        clips, left_out = index_set(args.index, args.max_files)
    else:
        clips, left_out = (synthetic_set(), {}) if args.audio is None else folder_set(args.audio, args.max_files)
    if not clips:
        raise SystemExit(f"no usable audio in {args.index or args.audio}")
    if args.models_only and not args.model:
        raise SystemExit("--models-only needs at least one --model")
    codecs = {} if args.models_only else {
        "analytic_small": AnalyticCodec(SMALL_ANALYTIC_CODEC),
        "learned_small" + ("" if args.learned_weights else "_untrained"): learned_codec(args.learned_weights),
    }
    for folder in args.model:
        codecs.update(model_codecs(folder, _folder_label(folder) if len(args.model) > 1 else None,
                                   variants=not args.models_only))
    result = {
        "audio": (f"held-out clips of {args.index}" if args.index else
                  "synthetic set (seed 0)" if args.audio is None else str(args.audio)),
        "clips": len(clips),
        "left_out": left_out,
        "seconds": round(sum(a.shape[1] for a in clips.values()) / RATE, 2),
        "torch_threads": torch.get_num_threads(),
        "machine": platform.processor() or platform.machine(),
        "codecs": {},
    }
    for name, codec in codecs.items():
        result["codecs"][name] = {**describe(codec), **score(codec, clips), **speed(codec, clips)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        main()
