"""The conditioners: raw condition inputs -> `EncodedConditions` for the DiT.

`Conditioners.encode(rows, latent_frames, latent_rate)` is the ONE path from inputs to encoded
conditions, used by inference (one row per guidance branch) and training (one row per item, after
condition dropout). A row names the prompt modalities it keeps; a modality that is not kept is
treated exactly like one that was never given, so a dropped condition in training and an absent
one at inference are the same computation, which classifier-free guidance relies on.

Cross-attention sequence of a row, in segments:
    [global (1) | LUFS (T_6) | text (L) | reference audio (K) | video (T_v)]
Each segment has a learned type vector. An absent modality has no real tokens in its segment
(mask False; the segment is left out entirely when no row of the batch has it). The global token
(timing + task) is always real, so no row ever has an empty sequence.
Frame-aligned features: LUFS frames + video frames, each replaced by a learned "absent" vector when
that input is missing, so the DiT can tell "no curve" from "silence".
Globals: timing embedding + task embedding (which of text, audio, video the row carries).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from foleystudio.engine.conditioners.layers import pad_stack
from foleystudio.engine.conditioners.lufs import LufsEncoder
from foleystudio.engine.conditioners.reference_audio import ReferenceAudioEncoder
from foleystudio.engine.conditioners.reference_shape import ReferenceShape
from foleystudio.engine.conditioners.task import TaskEmbedding, task_id
from foleystudio.engine.conditioners.text import TextEncoder, TransformersTextEncoder
from foleystudio.engine.conditioners.text_category import TextCategoryHead
from foleystudio.engine.conditioners.timing import TimingEncoder
from foleystudio.engine.conditioners.tokenizer import PAD_ID, WordTokenizer
from foleystudio.engine.conditioners.video import VideoEncoder
from foleystudio.engine.config_io import READ_DEFAULT_IF_ABSENT
from foleystudio.engine.conditions import (
    LUFS_RATE_HZ,
    MODALITIES,
    VIDEO_RATE_HZ,
    ConditionInputs,
    EncodedConditions,
)
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

BUILTIN_TEXT_ENCODER = "builtin"
_SEGMENTS = ("global", "lufs", "text", "audio", "video")


@dataclass(frozen=True)
class ConditionerConfig:
    """Sizes of the condition encoders (their output width is the DiT's width)."""

    text_vocab_size: int = 8192
    text_hash_buckets: int = 1024
    text_max_tokens: int = 64
    text_width: int = 256
    text_depth: int = 2
    text_heads: int = 4
    # "builtin", or the folder of a local transformers encoder (loaded offline).
    text_encoder: str = BUILTIN_TEXT_ENCODER
    video_feature_dim: int = 256
    motion_dim: int = 5
    ref_n_mels: int = 64
    ref_n_fft: int = 2048
    ref_hop_length: int = 512
    ref_tokens: int = 16
    ref_width: int = 256
    ref_heads: int = 4
    ref_max_seconds: float = 10.0
    max_seconds: float = 60.0
    # The sound categories the text is classified into (`text_category.TextCategoryHead`); empty: no
    # such head (presets, and model folders written before it existed).
    text_categories: tuple[str, ...] = field(default=(), metadata={READ_DEFAULT_IF_ABSENT: True})
    # The reference sound is read as the codec's latent (`ConditionInputs.reference_latent`), not as
    # a waveform: for an analytic codec whose latent is a stereo log-mel of ``ref_n_mels`` bands.
    ref_reads_latent: bool = field(default=False, metadata={READ_DEFAULT_IF_ABSENT: True})

    def __post_init__(self) -> None:
        self._check_categories()
        if not isinstance(self.ref_reads_latent, bool):
            raise ValueError(f"ConditionerConfig.ref_reads_latent must be true or false, got {self.ref_reads_latent!r}")
        for name, value in asdict(self).items():
            if name in ("text_categories", "ref_reads_latent"):
                continue
            if name == "text_encoder":
                if not isinstance(value, str) or not value:
                    raise ValueError("ConditionerConfig.text_encoder must be 'builtin' or a folder path")
            elif isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"ConditionerConfig.{name} must be positive, got {value!r}")
        for width, heads, what in ((self.text_width, self.text_heads, "text"), (self.ref_width, self.ref_heads, "ref")):
            if width % heads or (width // heads) % 2:
                raise ValueError(f"{what} width {width} must split into {heads} heads of even size")

    def _check_categories(self) -> None:
        names = self.text_categories
        if isinstance(names, str) or not all(isinstance(name, str) and name for name in names):
            raise ValueError(f"ConditionerConfig.text_categories must be category names, got {names!r}")
        if len(set(names)) != len(names) or len(names) == 1:
            raise ValueError(f"ConditionerConfig.text_categories must be none or at least two distinct names, "
                             f"got {list(names)}")
        object.__setattr__(self, "text_categories", tuple(names))

    def to_dict(self) -> dict:
        data = asdict(self)
        data["text_categories"] = list(self.text_categories)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ConditionerConfig:
        return cls(**data)

    def with_text_categories(self, categories) -> ConditionerConfig:
        return dataclasses.replace(self, text_categories=tuple(categories))


TINY_CONDITIONERS = ConditionerConfig(
    text_vocab_size=512, text_hash_buckets=64, text_max_tokens=32, text_width=32, text_depth=1, text_heads=2,
    video_feature_dim=16, ref_n_mels=16, ref_n_fft=1024, ref_hop_length=1024, ref_tokens=4, ref_width=32, ref_heads=2,
)
SMALL_CONDITIONERS = ConditionerConfig()
COMPACT_CONDITIONERS = ConditionerConfig(
    text_vocab_size=1024, text_hash_buckets=128, text_max_tokens=32, text_width=64, text_depth=2, text_heads=4,
    video_feature_dim=32, ref_n_mels=32, ref_n_fft=1024, ref_hop_length=512, ref_tokens=8, ref_width=64, ref_heads=4,
)
BASE_CONDITIONERS = ConditionerConfig(
    text_vocab_size=32768, text_hash_buckets=4096, text_max_tokens=96, text_width=768, text_depth=6, text_heads=12,
    video_feature_dim=512, ref_n_mels=128, ref_tokens=32, ref_width=512, ref_heads=8,
)


@dataclass(frozen=True, eq=False)
class ConditionRow:
    """One batch row: a request's (or item's) inputs and which prompt modalities it keeps.

    Modalities not in ``inputs.present`` are ignored. negative_text: the text slot holds the
    negative prompt (guidance branches before the text step), if the inputs have one.
    use_lufs: False treats the curve as absent (curve dropout in training).
    """

    inputs: ConditionInputs
    modalities: frozenset[str]
    negative_text: bool = False
    use_lufs: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.modalities) - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown modality {sorted(unknown)[0]!r} (known: {', '.join(MODALITIES)})")
        object.__setattr__(self, "modalities", frozenset(self.modalities) & self.inputs.present)

    @property
    def text_ids(self) -> tuple[int, ...]:
        if self.negative_text and self.inputs.has_negative_text:
            return self.inputs.negative_text_ids
        return self.inputs.text_ids if "text" in self.modalities else ()

    @property
    def task(self) -> int:
        carried = set(self.modalities - {"text"}) | ({"text"} if self.text_ids else set())
        return task_id(carried)

    @property
    def lufs(self) -> torch.Tensor | None:
        return self.inputs.lufs if self.use_lufs else None


class Conditioners(nn.Module):
    def __init__(self, config: ConditionerConfig, width: int, tokenizer: WordTokenizer | None = None,
                 latent_channels: int | None = None) -> None:
        super().__init__()
        self.config = config
        self.width = width
        self.text = _text_encoder(config, width, tokenizer)
        self.reference_audio = ReferenceAudioEncoder(
            width, config.ref_n_mels, config.ref_n_fft, config.ref_hop_length, config.ref_tokens,
            config.ref_max_seconds, config.ref_width, config.ref_heads,
        )
        self.video = VideoEncoder(width, config.video_feature_dim, config.motion_dim, VIDEO_RATE_HZ)
        self.lufs = LufsEncoder(width, LUFS_RATE_HZ)
        self.timing = TimingEncoder(width, config.max_seconds)
        self.task = TaskEmbedding(width)
        self.global_token = nn.Linear(width, width)
        # The prompt's mean token also joins the global (AdaLN) conditioning: every block is then
        # steered by what the sound is, not only the cross-attention layers (a small DiT trained on
        # little data barely learned to read the text through cross-attention alone).
        self.text_global = nn.Linear(width, width)
        self.text_category = None
        if config.text_categories:
            if latent_channels is None:
                raise ValueError("a text category head needs the generator's latent channel count")
            self.text_category = TextCategoryHead(width, config.text_categories, latent_channels)
        self.reference_shape = None
        if config.ref_reads_latent:
            if latent_channels is None:
                raise ValueError("a latent-reading reference encoder needs the generator's latent channel count")
            self.reference_shape = ReferenceShape(2 * config.ref_n_mels, width, latent_channels)
        self.segment_types = nn.Parameter(torch.randn(len(_SEGMENTS), width) * width**-0.5)
        self.absent_lufs_frame = nn.Parameter(torch.zeros(width))
        self.absent_video_frame = nn.Parameter(torch.zeros(width))

    def tokenize(self, text: str) -> tuple[int, ...]:
        return tuple(self.text.tokenize(text))

    def encode(self, rows: Sequence[ConditionRow], latent_frames: int, latent_rate: float) -> EncodedConditions:
        if not rows:
            raise ValueError("no condition rows to encode")
        if latent_frames < 1:
            raise ValueError(f"latent_frames must be >= 1, got {latent_frames}")
        device, dtype = self.segment_types.device, self.segment_types.dtype
        start = torch.tensor([row.inputs.start_s for row in rows], device=device)
        total = torch.tensor([row.inputs.total_s for row in rows], device=device)
        tasks = torch.tensor([row.task for row in rows], device=device)
        text = self._text(rows)
        pooled, output_bias = self._pooled_text(text)
        reference_global, reference_offset = self._reference_shape(rows, latent_rate)
        if reference_offset is not None:
            output_bias = reference_offset if output_bias is None else output_bias + reference_offset
        globals_ = self.timing(start, total) + self.task(tasks) + pooled + reference_global
        segments = [(self.global_token(globals_)[:, None], torch.ones(len(rows), 1, dtype=torch.bool, device=device))]
        lufs_tokens, lufs_frames = self._lufs(rows, latent_frames, latent_rate)
        video_tokens, video_frames = self._video(rows, latent_frames, latent_rate)
        segments += [lufs_tokens, text, self._audio(rows, latent_rate), video_tokens]
        tokens, masks = [], []
        for kind, segment in zip(_SEGMENTS, segments, strict=True):
            if segment is None:
                continue
            values, mask = segment
            tokens.append((values + self.segment_types[_SEGMENTS.index(kind)]) * mask[..., None].to(dtype))
            masks.append(mask)
        return EncodedConditions(torch.cat(tokens, 1), torch.cat(masks, 1), lufs_frames + video_frames, globals_,
                                 output_bias=output_bias)

    def _pooled_text(self, text) -> tuple[torch.Tensor | float, torch.Tensor | None]:
        """([B, D] the projected mean text token of each row, plus its category read-out when the
        model has a category head; [B, C] the head's latent offset or None), zero for rows without text."""
        if text is None:
            return 0.0, None
        mean, has_text = _mean_token(text)
        pooled = self.text_global(mean)
        if self.text_category is None:
            return pooled * has_text, None
        readout = self.text_category(mean)
        return (pooled + readout.conditioning) * has_text, readout.latent_offset * has_text

    def text_category_logits(self, text_ids: Sequence[tuple[int, ...]]) -> torch.Tensor:
        """[N, K] category logits of each token sequence (each must be non-empty)."""
        if self.text_category is None:
            raise ValueError("this model has no text category head")
        if not text_ids or not all(text_ids):
            raise ValueError("every row needs a non-empty token sequence to classify")
        mean, _ = _mean_token(self._encode_text([tuple(ids) for ids in text_ids]))
        return self.text_category(mean).logits

    # ---- per modality ------------------------------------------------------------------------------
    def _text(self, rows):
        return self._encode_text([row.text_ids for row in rows])

    def _encode_text(self, sequences: list[tuple[int, ...]]):
        """Tokens and mask of each id sequence (each distinct one encoded once); None if all are empty."""
        unique = sorted({ids for ids in sequences if ids})
        if not unique:
            return None
        device = self.segment_types.device
        ids, lengths = pad_stack([torch.tensor(seq, dtype=torch.long) for seq in unique], device)
        vocab = getattr(getattr(self.text, "embed", None), "num_embeddings", None)
        if vocab is not None and int(ids.max()) >= vocab:
            raise UserInputError(f"text token id {int(ids.max())} is outside the vocabulary of {vocab} ids")
        mask = torch.arange(ids.shape[1], device=device)[None] < lengths[:, None]
        encoded = self.text(ids.masked_fill(~mask, PAD_ID), mask)
        index = [unique.index(ids) if ids else None for ids in sequences]
        return _scatter(index, encoded, mask)

    def _reference_tokens(self, unique, latent_rate: float) -> torch.Tensor:
        if not self.config.ref_reads_latent:
            if any(item.reference_audio is None for item in unique):
                raise UserInputError("this model reads a reference sound as a waveform; a reference latent was given")
            return self.reference_audio([item.reference_audio for item in unique])
        if any(item.reference_latent is None for item in unique):
            raise UserInputError("this model reads a reference sound as the codec's latent: encode it first "
                                 "(the pipeline does)")
        return self.reference_audio.encode_latents([item.reference_latent for item in unique], latent_rate)

    def _reference_shape(self, rows, latent_rate: float) -> tuple[torch.Tensor | float, torch.Tensor | None]:
        """The `ReferenceShape` routes of each row ([N, D] global, [N, C] offset), zero for rows
        without a reference; (0, None) for a model without them."""
        if self.reference_shape is None:
            return 0.0, None
        index, unique = _unique_inputs(rows, lambda row: "audio" in row.modalities)
        if not unique or any(item.reference_latent is None for item in unique):
            return 0.0, None  # none, or `_reference_tokens` says what is wrong
        encoder = self.reference_audio
        features = torch.stack([ReferenceShape.features(encoder.latent_log_mel(item.reference_latent, latent_rate))
                                for item in unique]).to(self.segment_types.dtype)
        global_, offset = self.reference_shape(features)
        rows_of = torch.tensor([0 if position is None else position for position in index], device=features.device)
        present = torch.tensor([position is not None for position in index], device=features.device)[:, None]
        return global_[rows_of] * present, offset[rows_of] * present

    def _audio(self, rows, latent_rate: float):
        index, unique = _unique_inputs(rows, lambda row: "audio" in row.modalities)
        if not unique:
            return None
        encoded = self._reference_tokens(unique, latent_rate)
        mask = torch.ones(encoded.shape[:2], dtype=torch.bool, device=encoded.device)
        return _scatter(index, encoded, mask)

    def _video(self, rows, latent_frames, latent_rate):
        index, unique = _unique_inputs(rows, lambda row: "video" in row.modalities)
        absent = self.absent_video_frame.expand(len(rows), latent_frames, -1)
        if not unique:
            return None, absent
        device = self.segment_types.device
        for item in unique:
            self._check_video(item)
        features, lengths = pad_stack([item.video_features for item in unique], device)
        motion, _ = pad_stack([_motion(item, self.config.motion_dim) for item in unique], device)
        starts = torch.tensor([item.video_start_s for item in unique], device=device)
        tokens, mask, frames = self.video(features, motion, lengths, starts, latent_frames, latent_rate)
        return _scatter(index, tokens, mask), _scatter_frames(index, frames, absent)

    def _lufs(self, rows, latent_frames, latent_rate):
        index, unique = _unique_inputs(rows, lambda row: row.lufs is not None)
        absent = self.absent_lufs_frame.expand(len(rows), latent_frames, -1)
        if not unique:
            return None, absent
        device = self.segment_types.device
        curves, lengths = pad_stack([item.lufs.transpose(0, 1) for item in unique], device)
        starts = torch.tensor([item.lufs_start_s for item in unique], device=device)
        tokens, mask, frames = self.lufs(curves, lengths, starts, latent_frames, latent_rate)
        return _scatter(index, tokens, mask), _scatter_frames(index, frames, absent)

    def _check_video(self, item: ConditionInputs) -> None:
        if item.video_features.shape[1] != self.config.video_feature_dim:
            raise UserInputError(
                f"video features have {item.video_features.shape[1]} values per frame; "
                f"this model expects {self.config.video_feature_dim}"
            )
        if item.video_motion is not None and item.video_motion.shape[1] != self.config.motion_dim:
            raise UserInputError(
                f"video motion has {item.video_motion.shape[1]} channels; this model expects {self.config.motion_dim}"
            )


def _text_encoder(config: ConditionerConfig, width: int, tokenizer: WordTokenizer | None) -> nn.Module:
    if config.text_encoder != BUILTIN_TEXT_ENCODER:
        return TransformersTextEncoder(config.text_encoder, width, config.text_max_tokens)
    if tokenizer is None:
        # Hash buckets only: deterministic ids for any word until a tokenizer is trained.
        tokenizer = WordTokenizer((), config.text_vocab_size, config.text_hash_buckets)
    if tokenizer.vocab_size != config.text_vocab_size:
        raise UserInputError(
            f"tokenizer has {tokenizer.vocab_size} ids but the model config expects {config.text_vocab_size}"
        )
    return TextEncoder(
        tokenizer, width, config.text_width, config.text_depth, config.text_heads, config.text_max_tokens
    )


def _mean_token(text: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """([B, D] mean of each row's real text tokens, [B, 1] 1.0 where the row has any)."""
    values, mask = text
    counts = mask.sum(1, keepdim=True)
    return values.sum(1) / counts.clamp(min=1).to(values.dtype), (counts > 0).to(values.dtype)


def _motion(item: ConditionInputs, motion_dim: int) -> torch.Tensor:
    if item.video_motion is not None:
        return item.video_motion
    return torch.zeros(item.video_features.shape[0], motion_dim)


def _unique_inputs(rows, wanted) -> tuple[list[int | None], list[ConditionInputs]]:
    """Per row, the index of its inputs among the distinct inputs that need encoding (None = not)."""
    positions: dict[int, int] = {}
    unique: list[ConditionInputs] = []
    index: list[int | None] = []
    for row in rows:
        if not wanted(row):
            index.append(None)
            continue
        key = id(row.inputs)
        if key not in positions:
            positions[key] = len(unique)
            unique.append(row.inputs)
        index.append(positions[key])
    return index, unique


def _scatter(index: list[int | None], values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of [U, S, D] / [U, S] to [N, S, D] / [N, S]; rows with index None are empty (mask False)."""
    rows = torch.tensor([0 if i is None else i for i in index], device=values.device)
    present = torch.tensor([i is not None for i in index], device=values.device)
    out_mask = mask[rows] & present[:, None]
    return values[rows] * out_mask[..., None].to(values.dtype), out_mask


def _scatter_frames(index: list[int | None], frames: torch.Tensor, absent: torch.Tensor) -> torch.Tensor:
    rows = torch.tensor([0 if i is None else i for i in index], device=frames.device)
    present = torch.tensor([i is not None for i in index], device=frames.device)
    return torch.where(present[:, None, None], frames[rows], absent)
