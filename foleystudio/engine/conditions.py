"""What the generator is conditioned on: raw inputs of a request, and their encoded form.

`ConditionInputs` holds one request's (or one training item's) conditions in model terms: token ids,
a reference waveform, video features and motion at 8 fps, the LUFS curve at 6 Hz, and timing. It is
built once by the pipeline (or the data loader) and validated here.

`EncodedConditions` is what the DiT consumes (engine contract): ``tokens`` [B, S, D] and
``token_mask`` [B, S] for cross-attention, ``frames`` [B, T, D] aligned to latent frames, and
``globals`` [B, D] (timing + task). Conditions are encoded once per request and reused every step.

Time alignment: frame k of a signal at rate r stands for [k / r, (k + 1) / r) of the take, shifted
by that signal's ``*_start_s`` (the time, relative to the take's first latent frame, at which its
frame 0 begins; 0 normally, negative after `ConditionInputs.window`). Resampling aligns the centres
of those intervals (the convention of `foleystudio.engine.video_features`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from foleystudio.audio.curve import CURVE_RATE_HZ, FLOOR_LUFS, LoudnessCurve
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

# The prompt modalities that guidance and condition dropout act on (engine contract).
MODALITIES = ("video", "text", "audio")
VIDEO_RATE_HZ = 8.0
LUFS_RATE_HZ = CURVE_RATE_HZ
AUDIO_SAMPLE_RATE = 44100


# ---- encoded ----------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EncodedConditions:
    """Encoded conditions for a batch of B rows (engine contract).

    ``frame_mask`` [B, T] (True = real latent frame) is only set when rows of different lengths
    share a training batch; the DiT's self-attention then ignores padded frames. None = all real.
    ``output_bias`` [B, C]: added to every frame of the backbone's output (a text category head's
    per-category latent offset, `text_category.TextCategoryHead`); None = no offset.
    """

    tokens: torch.Tensor
    token_mask: torch.Tensor
    frames: torch.Tensor
    globals: torch.Tensor
    frame_mask: torch.Tensor | None = None
    output_bias: torch.Tensor | None = None

    def __post_init__(self) -> None:
        batch, count, width = _shape(self.tokens, 3, "tokens")
        if tuple(self.token_mask.shape) != (batch, count) or self.token_mask.dtype != torch.bool:
            raise ValueError(
                f"token_mask must be bool [{batch}, {count}], "
                f"got {self.token_mask.dtype} {tuple(self.token_mask.shape)}"
            )
        frames_batch, _, frames_width = _shape(self.frames, 3, "frames")
        if frames_batch != batch or frames_width != width:
            raise ValueError(f"frames {tuple(self.frames.shape)} do not match tokens {tuple(self.tokens.shape)}")
        if tuple(self.globals.shape) != (batch, width):
            raise ValueError(f"globals must be [{batch}, {width}], got {tuple(self.globals.shape)}")
        if self.frame_mask is not None and (
            tuple(self.frame_mask.shape) != tuple(self.frames.shape[:2]) or self.frame_mask.dtype != torch.bool
        ):
            raise ValueError(
                f"frame_mask must be bool {tuple(self.frames.shape[:2])}, got {tuple(self.frame_mask.shape)}"
            )
        if self.output_bias is not None and (self.output_bias.ndim != 2 or self.output_bias.shape[0] != batch):
            raise ValueError(f"output_bias must be [{batch}, channels], got {tuple(self.output_bias.shape)}")

    @property
    def batch_size(self) -> int:
        return self.tokens.shape[0]

    @property
    def latent_frames(self) -> int:
        return self.frames.shape[1]

    @property
    def width(self) -> int:
        return self.tokens.shape[2]

    @staticmethod
    def concat(items: Sequence[EncodedConditions]) -> EncodedConditions:
        """Rows of several encodings in one batch; token sequences are padded (mask False)."""
        if not items:
            raise ValueError("nothing to concatenate")
        longest = max(item.tokens.shape[1] for item in items)
        if len({item.latent_frames for item in items}) != 1:
            raise ValueError(f"cannot batch conditions of different lengths {[i.latent_frames for i in items]}")
        tokens, masks = [], []
        for item in items:
            missing = longest - item.tokens.shape[1]
            tokens.append(torch.nn.functional.pad(item.tokens, (0, 0, 0, missing)))
            masks.append(torch.nn.functional.pad(item.token_mask, (0, missing), value=False))
        frame_mask = None
        if any(item.frame_mask is not None for item in items):
            frame_mask = torch.cat([item.frame_mask if item.frame_mask is not None
                                    else torch.ones(item.frames.shape[:2], dtype=torch.bool, device=item.frames.device)
                                    for item in items])
        return EncodedConditions(
            torch.cat(tokens), torch.cat(masks), torch.cat([i.frames for i in items]),
            torch.cat([i.globals for i in items]), frame_mask, _concat_output_bias(items),
        )

    def repeat(self, times: int) -> EncodedConditions:
        """Each row repeated ``times`` times in place: row b becomes rows b*times .. b*times+times-1.

        This is the branch-major order of guidance (rows [branches * variations]).
        """
        if times < 1:
            raise ValueError(f"repeat count must be >= 1, got {times}")
        if times == 1:
            return self
        return self._map(lambda tensor: tensor.repeat_interleave(times, dim=0))

    def select(self, rows) -> EncodedConditions:
        """The given rows (a slice, a list of indices or a bool mask)."""
        if isinstance(rows, int):
            rows = [rows]
        return self._map(lambda tensor: tensor[rows])

    def to(self, device=None, dtype: torch.dtype | None = None) -> EncodedConditions:
        """On ``device``; floating tensors cast to ``dtype`` (masks stay bool)."""
        def move(tensor):
            is_float = tensor.is_floating_point()
            return tensor.to(device=device, dtype=dtype if (dtype is not None and is_float) else None)
        return self._map(move)

    def _map(self, function) -> EncodedConditions:
        return EncodedConditions(
            function(self.tokens), function(self.token_mask), function(self.frames), function(self.globals),
            None if self.frame_mask is None else function(self.frame_mask),
            None if self.output_bias is None else function(self.output_bias),
        )


def _concat_output_bias(items: Sequence[EncodedConditions]) -> torch.Tensor | None:
    """The rows' output offsets in one batch (zeros for rows without); None when no row has one."""
    given = [item.output_bias for item in items if item.output_bias is not None]
    if not given:
        return None
    channels = given[0].shape[1]
    return torch.cat([item.output_bias if item.output_bias is not None
                      else item.globals.new_zeros(item.batch_size, channels) for item in items])


def _shape(tensor: torch.Tensor, ndim: int, name: str) -> tuple[int, ...]:
    if not isinstance(tensor, torch.Tensor) or tensor.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D tensor, got {getattr(tensor, 'shape', type(tensor))}")
    return tuple(tensor.shape)


# ---- raw inputs -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ConditionInputs:
    """One request's conditions, before encoding. Only ``total_s`` is required.

    total_s, start_s: timing (Stable Audio's seconds_total / seconds_start): the take's length, and
        where this stretch starts within it (0 for a whole take; a window of a long take or a random
        training crop starts later). Both are clamped to the model's ``max_seconds`` when encoded.
    text_ids, negative_text_ids: token ids from the generator's tokenizer (empty = no text).
    reference_audio: float waveform [channels, n] (1 or 2 channels) at 44.1 kHz, or None.
    reference_latent: the reference as the codec's latent [C, frames], or None: what a model whose
        conditioner config says ``ref_reads_latent`` reads (training gives it from cached latents).
    video_features: [T_v, D_v] per-frame features at 8 fps, or None (no video);
    video_motion: [T_v, M] raw motion energy of the same frames (``foleystudio.video.motion.motion_energy``;
        the encoder compresses it), or None for zeros. Video is present iff features are given.
    lufs: [2, T_6] left/right loudness in LUFS at 6 Hz, or a `LoudnessCurve`, or None (no curve).
    video_start_s, lufs_start_s: when frame 0 of the video / curve begins, relative to the start of
        this stretch (see module docstring).
    """

    total_s: float
    start_s: float = 0.0
    text_ids: tuple[int, ...] = ()
    negative_text_ids: tuple[int, ...] = ()
    reference_audio: torch.Tensor | None = None
    reference_latent: torch.Tensor | None = None
    video_features: torch.Tensor | None = None
    video_motion: torch.Tensor | None = None
    lufs: torch.Tensor | None = None
    video_start_s: float = 0.0
    lufs_start_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("total_s", "start_s", "video_start_s", "lufs_start_s"):
            object.__setattr__(self, name, _finite(getattr(self, name), name))
        if self.total_s <= 0 or self.start_s < 0:
            raise UserInputError(
                f"condition timing needs total_s > 0 and start_s >= 0, got {self.total_s}, {self.start_s}"
            )
        object.__setattr__(self, "text_ids", _ids(self.text_ids, "text"))
        object.__setattr__(self, "negative_text_ids", _ids(self.negative_text_ids, "negative text"))
        self._set_reference_audio()
        self._set_reference_latent()
        self._set_video()
        self._set_lufs()

    # ---- validation ----------------------------------------------------------------------------
    def _set_reference_audio(self) -> None:
        if self.reference_audio is None:
            return
        wave = _float_tensor(self.reference_audio, "reference audio")
        if wave.ndim == 1:
            wave = wave[None]
        if wave.ndim != 2 or wave.shape[0] not in (1, 2) or wave.shape[1] < 1:
            raise UserInputError(f"reference audio must be [channels (1 or 2), samples], got {tuple(wave.shape)}")
        object.__setattr__(self, "reference_audio", wave)

    def _set_reference_latent(self) -> None:
        if self.reference_latent is None:
            return
        latent = _float_tensor(self.reference_latent, "reference latent")
        if latent.ndim != 2 or latent.shape[1] < 1:
            raise UserInputError(f"a reference latent must be [channels, frames], got {tuple(latent.shape)}")
        object.__setattr__(self, "reference_latent", latent)

    def _set_video(self) -> None:
        if self.video_features is None:
            if self.video_motion is not None:
                raise UserInputError("video motion was given without video features")
            return
        features = _float_tensor(self.video_features, "video features")
        if features.ndim != 2 or features.shape[0] < 1:
            raise UserInputError(
                f"video features must be [frames, features] with >= 1 frame, got {tuple(features.shape)}"
            )
        object.__setattr__(self, "video_features", features)
        if self.video_motion is not None:
            motion = _float_tensor(self.video_motion, "video motion")
            if motion.ndim != 2 or motion.shape[0] != features.shape[0]:
                raise UserInputError(
                    f"video motion must be [{features.shape[0]} frames, channels], got {tuple(motion.shape)}"
                )
            object.__setattr__(self, "video_motion", motion)

    def _set_lufs(self) -> None:
        if self.lufs is None:
            return
        lufs = self.lufs
        if isinstance(lufs, LoudnessCurve):
            lufs, start = _curve_at_6hz(lufs)
            object.__setattr__(self, "lufs_start_s", self.lufs_start_s + start)
        lufs = _float_tensor(lufs, "loudness curve", allow_neg_inf=True)
        if lufs.ndim != 2 or lufs.shape[0] != 2 or lufs.shape[1] < 1:
            raise UserInputError(f"loudness curve must be [2 (left, right), frames], got {tuple(lufs.shape)}")
        object.__setattr__(self, "lufs", lufs.clamp(min=FLOOR_LUFS))

    # ---- queries ----------------------------------------------------------------------------------
    @property
    def present(self) -> frozenset[str]:
        """The prompt modalities given: a subset of video, text, audio."""
        given = {"video": self.video_features is not None, "text": bool(self.text_ids),
                 "audio": self.reference_audio is not None or self.reference_latent is not None}
        return frozenset(name for name, here in given.items() if here)

    @property
    def has_negative_text(self) -> bool:
        return bool(self.negative_text_ids)

    def window(self, offset_s: float, duration_s: float) -> ConditionInputs:
        """The conditions of [offset_s, offset_s + duration_s) of this stretch, time-aligned exactly.

        Video and curve frames overlapping the window (and one more on each side) are kept, whole
        (no resampling blur), with their ``*_start_s`` shifted, so latent-frame features of the
        window equal those of the whole at the same times; timing becomes start_s + offset_s within total_s.
        Text and reference audio are unchanged. For long takes.
        """
        offset_s, duration_s = _finite(offset_s, "window offset"), _finite(duration_s, "window duration")
        if offset_s < 0 or duration_s <= 0:
            raise UserInputError(f"a window needs offset >= 0 and duration > 0, got {offset_s}, {duration_s}")
        changes: dict = {"start_s": self.start_s + offset_s,
                         "total_s": max(self.total_s, self.start_s + offset_s + duration_s)}
        if self.video_features is not None:
            first, last = _frames_overlapping(
                self.video_start_s, VIDEO_RATE_HZ, len(self.video_features), offset_s, duration_s
            )
            changes["video_features"] = self.video_features[first:last]
            changes["video_motion"] = None if self.video_motion is None else self.video_motion[first:last]
            changes["video_start_s"] = self.video_start_s + first / VIDEO_RATE_HZ - offset_s
        if self.lufs is not None:
            first, last = _frames_overlapping(self.lufs_start_s, LUFS_RATE_HZ, self.lufs.shape[1], offset_s, duration_s)
            changes["lufs"] = self.lufs[:, first:last]
            changes["lufs_start_s"] = self.lufs_start_s + first / LUFS_RATE_HZ - offset_s
        return dataclasses.replace(self, **changes)


def _frames_overlapping(start_s: float, rate: float, count: int, offset_s: float, duration_s: float) -> tuple[int, int]:
    """Frames [first, last) of a signal that overlap the window, plus one on each side (linear
    interpolation near the window's edges needs its neighbours); at least one frame."""
    first = math.floor((offset_s - start_s) * rate) - 1
    last = math.ceil((offset_s + duration_s - start_s) * rate) + 1
    first = min(max(first, 0), count - 1)
    last = min(max(last, first + 1), count)
    return first, last


def _curve_at_6hz(curve: LoudnessCurve) -> tuple[np.ndarray, float]:
    if not math.isclose(curve.frame_s, 1.0 / LUFS_RATE_HZ, rel_tol=1e-3):
        curve = curve.resample(LUFS_RATE_HZ)
    return np.stack([curve.left, curve.right]), float(curve.times[0])


def _finite(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserInputError(f"{name} must be a finite number of seconds, got {value!r}")
    return float(value)


def _ids(values, name: str) -> tuple[int, ...]:
    if isinstance(values, torch.Tensor):
        values = values.reshape(-1).tolist()
    elif isinstance(values, np.ndarray):
        values = values.reshape(-1).tolist()
    try:
        ids = tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise UserInputError(f"{name} token ids must be whole numbers") from None
    if any(v < 0 for v in ids):
        raise UserInputError(f"{name} token ids must be >= 0")
    return ids


def _float_tensor(values, name: str, allow_neg_inf: bool = False) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(np.asarray(values) if not isinstance(values, torch.Tensor) else values)
    except (TypeError, ValueError, RuntimeError):
        raise UserInputError(f"{name} must be an array of numbers") from None
    if not (tensor.is_floating_point() or tensor.dtype in (torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise UserInputError(f"{name} must be an array of numbers, got {tensor.dtype}")
    tensor = tensor.detach().to(torch.float32)
    bad = torch.isnan(tensor) | (tensor == math.inf)
    if not allow_neg_inf:
        bad |= tensor == -math.inf
    if bool(bad.any()):
        raise UserInputError(f"{name} contains NaN or infinite values")
    return tensor
