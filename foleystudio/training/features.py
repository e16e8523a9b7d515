"""Feature cache: what training needs, precomputed once into small safetensors shards.

Training never decodes audio files per step. `build_feature_cache` reads an index (see
`foleystudio.training.index`), takes the first ``clip_seconds`` of every clip (stereo, 44.1 kHz)
and stores per clip:

* ``latent``: the codec's latent [C, T] in float16 (only when a codec is given). The DiT trains on
  these; float16 keeps ~3 significant digits, far below the flow-matching noise.
* ``curve``: the per-channel 6 Hz loudness curve (the one definition of `audio.loudness`), quantised
  to uint8 in 0.5 LU steps over [-70, 0] LUFS (``q = round(2 * (lufs + 70))``). A loudness curve is
  drawn and judged to ~1 LU; 0.25 LU maximum error costs nothing and makes curves 4x smaller than
  float16 x 2.
* ``onsets_s`` (in the manifest): the excerpt's onset times (`training.onsets.detect_onsets`),
  rounded to 0.1 ms. With the curve they are all `av_pairs.render_frames` needs to draw the clip's
  rendered picture again, so AV training pairs cost no frame storage (a 10 s picture at 8 fps and
  64 px would be 960 KiB per clip; the onsets are a few bytes).
* ``text_ids``: the caption's token ids (int32) under the cache's tokenizer (``tokenizer.json``,
  trained on the train split's captions unless one is passed in). The caption text is kept in the
  manifest as well, so a model with another tokenizer re-tokenises (cheap) instead of rebuilding.
* ``wave`` (optional, a separate shard set ``waves-*.safetensors``): up to ``wave_seconds`` of the
  excerpt for codec training, FLAC-compressed (16-bit) and stored as uint8 bytes. Raw 16-bit stereo
  is 605 MiB per hour, FLAC measured 346 MiB per hour on noisy synthetic material (less on quiet Foley): waveforms are bounded
  (``wave_seconds`` per clip, ``max_wave_clips`` clips) and do not count towards the compact set.

Sizes (measured by `CacheReport`; see the tests): with a 64-channel latent at 21.5 frames/s (the
tiny and small presets) the compact part measured 9.7 MiB per hour of audio (24 clips x 10 s),
so 64 MiB holds ~6.6 hours; with the default ``clip_seconds`` of 10 s that is ~2,400 clips.

Layout of ``out_dir``: ``manifest.json`` (schema, settings, one entry per item: clip id, split,
caption, category, source, duration, shard and key), ``shard-00000.safetensors`` ...,
``waves-00000.safetensors`` ..., ``tokenizer.json``. Shards are written atomically (temporary
name, then rename); the manifest last, so a cache with a manifest is complete.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

logger = logging.getLogger(__name__)

SCHEMA = 2  # 2 added onsets; schema 1 caches still read (their items have no onsets)
READABLE_SCHEMAS = (1, 2)
MANIFEST = "manifest.json"
TOKENIZER = "tokenizer.json"
SAMPLE_RATE = 44100
CURVE_RATE_HZ = 6.0
FLOOR_LUFS = -70.0
CURVE_STEP_LU = 0.5
DEFAULT_CLIP_SECONDS = 10.0
DEFAULT_SHARD_ITEMS = 256
MIB = 1 << 20


@dataclass(frozen=True, eq=False)
class FeatureItem:
    """One cached clip (contract of the training helpers)."""

    clip_id: str
    caption: str
    category: str
    latent: torch.Tensor | None  # [C, T] float32 (stored float16)
    mel: torch.Tensor | None  # not stored by this cache (latents replace it); kept for the contract
    curve: torch.Tensor  # [2, T6] LUFS at 6 Hz
    duration_s: float  # seconds of audio the features cover
    text_ids: tuple[int, ...] = ()
    wave: torch.Tensor | None = None  # [2, n] float32 at 44.1 kHz when waveforms were cached
    split: str = "train"
    source: str = ""
    onsets_s: tuple[float, ...] | None = None  # onset times in the excerpt (None: an old cache without them)


@dataclass(frozen=True)
class CacheReport:
    out_dir: Path
    items: int
    audio_seconds: float
    compact_bytes: int  # latents + curves + token shards + manifest + tokenizer
    wave_bytes: int
    wave_seconds: float
    skipped: tuple[tuple[str, str], ...] = field(default=())

    @property
    def mib_per_hour(self) -> float:
        """Compact cache size per hour of audio."""
        return self.compact_bytes / MIB / max(self.audio_seconds / 3600.0, 1e-9)

    @property
    def hours_in_64_mib(self) -> float:
        return 64.0 / self.mib_per_hour if self.mib_per_hour > 0 else math.inf

    @property
    def wave_mib_per_hour(self) -> float:
        return self.wave_bytes / MIB / max(self.wave_seconds / 3600.0, 1e-9) if self.wave_seconds else 0.0

    def summary(self) -> str:
        return (f"{self.items} clips, {self.audio_seconds / 3600:.3f} h: compact {self.compact_bytes / MIB:.2f} MiB "
                f"({self.mib_per_hour:.2f} MiB/h, {self.hours_in_64_mib:.1f} h fit in 64 MiB); waveforms "
                f"{self.wave_bytes / MIB:.2f} MiB for {self.wave_seconds:.0f} s ({self.wave_mib_per_hour:.0f} MiB/h)")


# ---- quantisation -----------------------------------------------------------------------------


def quantise_curve(lufs: np.ndarray | torch.Tensor) -> torch.Tensor:
    """LUFS -> uint8 codes in 0.5 LU steps over [-70, 0] (max error 0.25 LU)."""
    values = torch.as_tensor(np.asarray(lufs, dtype=np.float32))
    values = torch.nan_to_num(values, nan=FLOOR_LUFS, neginf=FLOOR_LUFS).clamp(FLOOR_LUFS, 0.0)
    return torch.round((values - FLOOR_LUFS) / CURVE_STEP_LU).to(torch.uint8)


def dequantise_curve(codes: torch.Tensor) -> torch.Tensor:
    return codes.to(torch.float32) * CURVE_STEP_LU + FLOOR_LUFS


def encode_flac(wave: np.ndarray) -> torch.Tensor:
    """float [2, n] -> FLAC (16-bit) bytes as a uint8 tensor."""
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(wave.T, -1.0, 1.0), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return torch.frombuffer(bytearray(buffer.getvalue()), dtype=torch.uint8).clone()


def decode_flac(data: torch.Tensor) -> torch.Tensor:
    import soundfile

    samples, _ = soundfile.read(io.BytesIO(data.numpy().tobytes()), dtype="float32", always_2d=True)
    return torch.from_numpy(np.ascontiguousarray(samples.T))


# ---- reading the index ------------------------------------------------------------------------


def _clips_of(index) -> tuple[list, Path, str]:
    """(clips, library root, description) of an index folder or an Index-like object."""
    if hasattr(index, "clips"):
        return list(index.clips), Path(index.library_root), str(getattr(index, "folder", "index object"))
    from foleystudio.training.index import read_index  # written by another helper; lazy on purpose

    loaded = read_index(index)
    return list(loaded.clips), Path(loaded.library_root), str(index)


def _clip_path(clip, root: Path) -> Path:
    return clip.absolute(root) if hasattr(clip, "absolute") else root / clip.path


# ---- building -----------------------------------------------------------------------------


class _ShardWriter:
    """Collects tensors and writes a safetensors shard every ``shard_items`` items."""

    def __init__(self, folder: Path, prefix: str, shard_items: int) -> None:
        self.folder, self.prefix, self.shard_items = folder, prefix, shard_items
        self.tensors: dict[str, torch.Tensor] = {}
        self.count = 0
        self.index = 0
        self.bytes = 0

    @property
    def current(self) -> str:
        return f"{self.prefix}-{self.index:05d}.safetensors"

    def add(self, key: str, tensors: dict[str, torch.Tensor]) -> str:
        name = self.current
        for suffix, tensor in tensors.items():
            self.tensors[f"{key}.{suffix}"] = tensor.contiguous()
        self.count += 1
        if self.count >= self.shard_items:
            self.flush()
        return name

    def flush(self) -> None:
        if not self.tensors:
            return
        from safetensors.torch import save_file

        path = self.folder / self.current
        temporary = path.with_name(f".{path.name}.part")
        save_file(self.tensors, str(temporary), metadata={"format": "foleystudio-features", "schema": str(SCHEMA)})
        os.replace(temporary, path)
        self.bytes += path.stat().st_size
        self.tensors, self.count = {}, 0
        self.index += 1


def build_feature_cache(
    index_dir,
    out_dir: str | os.PathLike,
    *,
    codec=None,
    clip_seconds: float = DEFAULT_CLIP_SECONDS,
    shard_items: int = DEFAULT_SHARD_ITEMS,
    wave_seconds: float = 0.0,
    max_wave_clips: int | None = None,
    tokenizer=None,
    progress: Callable[[int, int], None] | None = None,
) -> CacheReport:
    """Precompute the features of every readable clip of an index into ``out_dir``.

    index_dir: an index folder (``read_index``) or an object with ``clips`` and ``library_root``.
    codec: an `AudioCodec` whose latents to store (None: no latents; a DiT task then encodes the
        cached waveforms itself). wave_seconds > 0 also stores that much waveform per clip
        (FLAC), for at most ``max_wave_clips`` clips. progress(done, total) is called per clip.
    """
    from foleystudio.audio.io import read_audio
    from foleystudio.audio.loudness import loudness_curve
    from foleystudio.engine.conditioners.tokenizer import WordTokenizer
    from foleystudio.training.onsets import detect_onsets

    if not clip_seconds > 0 or shard_items < 1 or wave_seconds < 0:
        raise ValueError("clip_seconds must be > 0, shard_items >= 1 and wave_seconds >= 0")
    clips, root, described = _clips_of(index_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if tokenizer is None:
        tokenizer = WordTokenizer.train(clip.caption for clip in clips if clip.split == "train")
    features = _ShardWriter(out, "shard", shard_items)
    waves = _ShardWriter(out, "waves", shard_items)
    entries, skipped = [], []
    seconds = wave_total = 0.0
    for done, clip in enumerate(clips):
        try:
            audio, _ = read_audio(_clip_path(clip, root), sample_rate=SAMPLE_RATE, channels=2, duration_s=clip_seconds)
        except Exception as error:  # a bad file is skipped and reported, never fatal
            skipped.append((clip.path, str(error)))
            logger.warning("feature cache: skipping %s: %s", clip.path, error)
            continue
        if audio.shape[1] < SAMPLE_RATE // 6:
            skipped.append((clip.path, "shorter than one curve frame"))
            continue
        key = f"c{len(entries)}"
        tensors = {"curve": quantise_curve(_curve(loudness_curve, audio)),
                   "text_ids": torch.tensor(tokenizer.encode(clip.caption), dtype=torch.int32)}
        if codec is not None:
            tensors["latent"] = _latent(codec, audio)
        entry = {"clip_id": clip.id, "split": clip.split, "caption": clip.caption, "category": clip.category,
                 "source": getattr(clip, "source", ""), "duration_s": audio.shape[1] / SAMPLE_RATE,
                 "onsets_s": [round(float(t), 4) for t in detect_onsets(audio, SAMPLE_RATE)],
                 "key": key, "shard": features.add(key, tensors)}
        if wave_seconds > 0 and (max_wave_clips is None or waves.index * shard_items + waves.count < max_wave_clips):
            excerpt = audio[:, : int(wave_seconds * SAMPLE_RATE)]
            entry["wave_shard"] = waves.add(key, {"flac": encode_flac(excerpt)})
            wave_total += excerpt.shape[1] / SAMPLE_RATE
        entries.append(entry)
        seconds += entry["duration_s"]
        if progress is not None:
            progress(done + 1, len(clips))
    features.flush()
    waves.flush()
    (out / TOKENIZER).write_text(json.dumps(tokenizer.to_dict()), encoding="utf-8")
    manifest = {"schema": SCHEMA, "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "index": described,
                "clip_seconds": clip_seconds, "sample_rate": SAMPLE_RATE, "curve_rate_hz": CURVE_RATE_HZ,
                "curve_step_lu": CURVE_STEP_LU, "latent_rate": None if codec is None else codec.latent_rate,
                "latent_channels": None if codec is None else codec.latent_channels,
                "codec": None if codec is None else type(codec).__name__,
                "items": entries, "skipped": skipped}
    temporary = out / f".{MANIFEST}.part"
    temporary.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    os.replace(temporary, out / MANIFEST)
    compact = features.bytes + (out / MANIFEST).stat().st_size + (out / TOKENIZER).stat().st_size
    report = CacheReport(out, len(entries), seconds, compact, waves.bytes, wave_total, tuple(skipped))
    logger.info("feature cache %s: %s", out, report.summary())
    return report


def _curve(loudness_curve, audio: np.ndarray) -> np.ndarray:
    curve = loudness_curve(audio, SAMPLE_RATE)
    return np.stack([curve.left, curve.right])


def _latent(codec, audio: np.ndarray) -> torch.Tensor:
    parameter = next(codec.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    with torch.inference_mode():
        latent = codec.encode(torch.from_numpy(audio)[None].to(device))[0]
    return latent.float().cpu().to(torch.float16)


# ---- reading --------------------------------------------------------------------------------


class FeatureCache:
    """A feature cache folder, read back into `FeatureItem`s (shards are loaded once, lazily)."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.folder = Path(out_dir)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise ValueError(f"{self.folder}: not a feature cache (no {MANIFEST}); build one with build_feature_cache")
        self.manifest = json.loads(path.read_text(encoding="utf-8"))
        if self.manifest.get("schema") not in READABLE_SCHEMAS:
            raise ValueError(f"{path}: feature cache schema {self.manifest.get('schema')} is not one of {READABLE_SCHEMAS}")
        self._shards: dict[str, dict[str, torch.Tensor]] = {}

    @staticmethod
    def is_cache(folder: str | os.PathLike) -> bool:
        return (Path(folder) / MANIFEST).is_file()

    @property
    def entries(self) -> list[dict]:
        return list(self.manifest["items"])

    def captions(self, split: str | None = None) -> list[str]:
        return [e["caption"] for e in self.entries if split is None or e["split"] == split]

    def tokenizer(self):
        from foleystudio.engine.conditioners.tokenizer import WordTokenizer

        return WordTokenizer.load(self.folder / TOKENIZER)

    def _shard(self, name: str) -> dict[str, torch.Tensor]:
        if name not in self._shards:
            from safetensors.torch import load_file

            self._shards[name] = load_file(str(self.folder / name))
        return self._shards[name]

    def items(self, split: str | None = "train", waves: bool = True) -> list[FeatureItem]:
        """The items of ``split`` ("train", "val" or None for all), in manifest order."""
        return [self._item(entry, waves) for entry in self.entries if split is None or entry["split"] == split]

    def _item(self, entry: dict, waves: bool) -> FeatureItem:
        shard, key = self._shard(entry["shard"]), entry["key"]
        latent = shard.get(f"{key}.latent")
        wave = None
        if waves and "wave_shard" in entry:
            wave = decode_flac(self._shard(entry["wave_shard"])[f"{key}.flac"])
        return FeatureItem(
            clip_id=entry["clip_id"], caption=entry["caption"], category=entry.get("category", ""),
            latent=None if latent is None else latent.float(), mel=None,
            curve=dequantise_curve(shard[f"{key}.curve"]), duration_s=float(entry["duration_s"]),
            text_ids=tuple(int(i) for i in shard[f"{key}.text_ids"].tolist()), wave=wave,
            split=entry["split"], source=entry.get("source", ""),
            onsets_s=None if "onsets_s" not in entry else tuple(float(t) for t in entry["onsets_s"]),
        )

    def size_bytes(self, include_waves: bool = False) -> int:
        names: Iterable[Path] = self.folder.iterdir()
        return sum(p.stat().st_size for p in names if p.is_file() and (include_waves or not p.name.startswith("waves-")))


class CombinedCache:
    """Several feature caches read as one: their entries, captions and items, in order.

    Training on more than one source of data (the open corpus and its composites, a user's library
    and the corpus) needs no merged copy on disk; each cache keeps its own shards.
    """

    def __init__(self, caches: Iterable[FeatureCache]) -> None:
        self.caches = list(caches)
        if not self.caches:
            raise ValueError("a combined cache needs at least one feature cache")

    @property
    def entries(self) -> list[dict]:
        return [entry for cache in self.caches for entry in cache.entries]

    def captions(self, split: str | None = None) -> list[str]:
        return [caption for cache in self.caches for caption in cache.captions(split)]

    def items(self, split: str | None = "train", waves: bool = True) -> list[FeatureItem]:
        return [item for cache in self.caches for item in cache.items(split, waves)]
