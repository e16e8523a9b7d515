"""The training objective: rectified-flow matching with Tri-Ergon's condition dropout.

Path (engine contract): t in [0, 1], t = 0 noise z ~ N(0, I), t = 1 data x,
x_t = (1 - t) z + t x, target velocity x - z, loss = mean squared error over real frames.

Timesteps are drawn logit-normal (t = sigmoid(m + s * n), n ~ N(0, 1); m = 0, s = 1 by default), as
Stable Diffusion 3 (Esser et al. 2024) found best for rectified flow: the middle of the path, where
the velocity is hardest to predict, is sampled most, and the ends are still visited. "uniform" is
available for comparison.

A data-predicting generator (``prediction == "data"``) is scored in velocity space too, so its
clean-latent error is weighted 1 / (1 - t)^2: with m = 0 the few draws near the data end (weight up
to 400) outweighed the rest, and what only the noisy end can teach (the overall level and spectrum
of the sound) learned slowly. Its default is shifted towards noise, m = -0.8, s = 0.8, as Li & He
2025 ("Back to Basics") train theirs (`flow_config_for`); on foley-small that cut the raw
loudness-curve error from 5.3 to 4.3 LU (MODEL_CARD.md).

Condition dropout (Tri-Ergon §Implementation): with probability 0.1 the prompt modalities (text,
audio, video) are all dropped; otherwise each is dropped independently with probability 0.3. A
dropped modality becomes absent through the same `encode_rows` path inference uses, and the task
embedding says what remained. The LUFS curve is dropped with its own small probability (0.1 by
default, beyond Tri-Ergon) so the model also works when a request has no curve; timing is never
dropped. Every random draw comes from the caller's ``torch.Generator`` in a fixed order, so a
batch and a seed give the same loss.

Loudness consistency (optional, ``FlowConfig.loudness_weight`` > 0, beyond Tri-Ergon): the mean
absolute difference in LU between the loudness of the clean latent the model estimates and that of
the real one, per channel and latent frame where the real one is above ``loudness_floor_lufs``, is
added to the loss with that weight. The loudness is read off the latent by the codec
(``AudioCodec.latent_loudness_lufs``). A clean estimate averages over every sound that fits the
conditions, and an averaged spectrum is flatter, hence quieter, than any one sound's (MODEL_CARD.md
of foley-small): the flow loss alone does not mind, this term does.

Tone consistency (optional, ``FlowConfig.tone_weight`` > 0, beyond Tri-Ergon): the mean absolute
difference in dB between the level-free band shape of the clean estimate and that of the real
latent (each item over its real frames; the shape is the codec's, ``band_shape``, e.g.
`tone_match.band_shape_db`) is added with that weight. Why: foley-small's takes came out 23-28 dB
darker than their references at 0.7-3 kHz and moved little when the reference changed; the flow
loss spreads the spectrum's overall tilt over every frame and band, this term scores it as one
number per band, so what sets a sound's tone (the text, the reference) is asked for directly.
Tried on foley-small at weights 0.02 and 0.1, not shipped: its takes came only a little nearer
their references' shapes (MODEL_CARD.md).

Items of different lengths share a batch: ``x_data`` is padded to the longest, ``lengths`` gives
each item's real frame count; padded frames are masked out of self-attention and of the loss.
"""

from __future__ import annotations

import logging
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from foleystudio.engine.conditioners import ConditionRow
from foleystudio.engine.conditioners.task import TASK_COUNT
from foleystudio.engine.conditions import MODALITIES, ConditionInputs

logger = logging.getLogger(__name__)

TIME_SAMPLINGS = ("logit_normal", "uniform")


@dataclass(frozen=True)
class FlowConfig:
    modality_drop: float = 0.3
    all_drop: float = 0.1
    lufs_drop: float = 0.1
    time_sampling: str = "logit_normal"
    logit_mean: float = 0.0
    logit_std: float = 1.0
    loudness_weight: float = 0.0  # weight of the loudness-consistency term (0: off)
    loudness_floor_lufs: float = -60.0  # frames of the real latent below this are not scored
    tone_weight: float = 0.0  # weight of the tone-consistency term, per dB (0: off)

    def __post_init__(self) -> None:
        for name in ("modality_drop", "all_drop", "lufs_drop"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"FlowConfig.{name} must be a probability, got {getattr(self, name)}")
        for name in ("loudness_weight", "tone_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"FlowConfig.{name} must be >= 0, got {value}")
        if self.time_sampling not in TIME_SAMPLINGS:
            raise ValueError(f"time_sampling must be one of {TIME_SAMPLINGS}, got {self.time_sampling!r}")
        if not self.logit_std > 0:
            raise ValueError("logit_std must be > 0")


DEFAULT_FLOW = FlowConfig()
DATA_PREDICTION_FLOW = FlowConfig(logit_mean=-0.8, logit_std=0.8)


def flow_config_for(prediction: str) -> FlowConfig:
    """The training default for a generator predicting ``prediction`` (see the module docstring)."""
    return DATA_PREDICTION_FLOW if prediction == "data" else DEFAULT_FLOW


@dataclass(frozen=True)
class FlowStats:
    """What one loss evaluation saw (plain numbers, for logging)."""

    loss: float
    mean_t: float
    task_counts: tuple[int, ...]  # rows per task id 0..7 after dropout
    lufs_kept: int
    loudness_lu: float | None = None  # the loudness-consistency term before weighting (None: off)
    tone_db: float | None = None  # the tone-consistency term before weighting (None: off)


def sample_rows(
    inputs: Sequence[ConditionInputs], generator: torch.Generator, config: FlowConfig = DEFAULT_FLOW
) -> list[ConditionRow]:
    """Condition dropout: one `ConditionRow` per item with the modalities that survive."""
    draws = torch.rand(len(inputs), len(MODALITIES) + 2, generator=generator, device=generator.device).tolist()
    rows = []
    for item, (all_draw, lufs_draw, *modality_draws) in zip(inputs, draws, strict=True):
        kept = set() if all_draw < config.all_drop else {
            name for name, draw in zip(MODALITIES, modality_draws, strict=True) if draw >= config.modality_drop
        }
        rows.append(ConditionRow(item, frozenset(kept) & item.present, use_lufs=lufs_draw >= config.lufs_drop))
    return rows


def sample_timesteps(count: int, generator: torch.Generator, config: FlowConfig = DEFAULT_FLOW) -> torch.Tensor:
    if config.time_sampling == "uniform":
        return torch.rand(count, generator=generator, device=generator.device)
    normal = torch.randn(count, generator=generator, device=generator.device)
    return torch.sigmoid(config.logit_mean + config.logit_std * normal)


def flow_matching_loss(
    model, x_data: torch.Tensor, inputs: Sequence[ConditionInputs], generator: torch.Generator,
    config: FlowConfig | None = None, lengths: Sequence[int] | None = None,
    latent_loudness: Callable[[torch.Tensor], torch.Tensor | None] | None = None,
    band_shape: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, FlowStats]:
    """Rectified-flow loss of ``model`` (a `FoleyGenerator`) on latents x_data [B, C, T].

    inputs: one `ConditionInputs` per item. lengths: real frames per item (None = all T).
    config: None = the default for the model's prediction (`flow_config_for`).
    latent_loudness: the codec's loudness read-out (`AudioCodec.latent_loudness_lufs`); needed when
    ``config.loudness_weight`` > 0. band_shape: the codec's level-free band shape of latents [B, C, T]
    as [B, bands] in dB (`tone_match.band_shape_db`); needed when ``config.tone_weight`` > 0.
    Random numbers come from ``generator`` (any device; results are moved to x_data's device).
    """
    batch, _, frames = _check(x_data, inputs, lengths)
    if config is None:
        config = flow_config_for(model.config.prediction)
    if config.loudness_weight > 0 and latent_loudness is None:
        raise ValueError("a loudness weight needs the codec's loudness read-out (latent_loudness)")
    if config.tone_weight > 0 and band_shape is None:
        raise ValueError("a tone weight needs the codec's band shape (band_shape)")
    rows = sample_rows(inputs, generator, config)
    t = sample_timesteps(batch, generator, config).to(x_data.device, torch.float32)
    noise = torch.randn(x_data.shape, generator=generator, device=generator.device).to(x_data.device, x_data.dtype)
    cond = model.encode_rows(rows, frames)
    frame_mask = _frame_mask(lengths, batch, frames, x_data.device)
    if frame_mask is not None:
        cond = dataclasses.replace(cond, frame_mask=frame_mask)
    t_data = t[:, None, None].to(x_data.dtype)
    x_t = (1 - t_data) * noise + t_data * x_data
    velocity = model.velocity(x_t, t, cond)
    error = (velocity - model.velocity_target(x_data, noise, x_t, t)).float().square()
    if frame_mask is None:
        loss = error.mean()
    else:
        weights = frame_mask[:, None, :].to(error.dtype)
        loss = (error * weights).sum() / (weights.sum() * error.shape[1])
    loudness = tone = None
    if config.loudness_weight > 0 or config.tone_weight > 0:
        estimate = model.clean_estimate(x_t, t, velocity)
    if config.loudness_weight > 0:
        loudness = _loudness_error(latent_loudness(estimate), latent_loudness(x_data), frame_mask,
                                   config.loudness_floor_lufs)
        loss = loss + config.loudness_weight * loudness
    if config.tone_weight > 0:
        tone = _tone_error(band_shape, estimate, x_data, lengths)
        loss = loss + config.tone_weight * tone
    counts = [0] * TASK_COUNT
    for row in rows:
        counts[row.task] += 1
    stats = FlowStats(float(loss.detach()), float(t.mean()), tuple(counts), sum(row.use_lufs for row in rows),
                      None if loudness is None else float(loudness.detach()),
                      None if tone is None else float(tone.detach()))
    return loss, stats


def _loudness_error(estimated: torch.Tensor, real: torch.Tensor, frame_mask, floor_lufs: float) -> torch.Tensor:
    """Mean |estimated - real| in LU over [B, 2, T] where the real latent is above the floor."""
    scored = real.detach() > floor_lufs
    if frame_mask is not None:
        scored = scored & frame_mask[:, None, :]
    difference = (estimated - real.detach()).abs() * scored
    return difference.sum() / scored.sum().clamp(min=1)


def _tone_error(band_shape, estimated: torch.Tensor, real: torch.Tensor, lengths) -> torch.Tensor:
    """Mean |shape(estimated) - shape(real)| in dB over the bands and the items, each item's shape
    measured over its real frames only (padding would count as silence)."""
    frames = real.shape[-1]
    counts = [frames] * real.shape[0] if lengths is None else [int(n) for n in lengths]
    errors = [(band_shape(estimated[i : i + 1, :, :n].float()) - band_shape(real[i : i + 1, :, :n].float()))
              .abs().mean() for i, n in enumerate(counts)]
    return torch.stack(errors).mean()


def _check(x_data, inputs, lengths) -> tuple[int, int, int]:
    if not isinstance(x_data, torch.Tensor) or x_data.ndim != 3:
        raise ValueError(f"x_data must be latents [B, C, T], got {getattr(x_data, 'shape', type(x_data))}")
    batch, channels, frames = x_data.shape
    if len(inputs) != batch:
        raise ValueError(f"{len(inputs)} condition inputs for a batch of {batch}")
    if lengths is not None and (len(lengths) != batch or any(not 1 <= int(n) <= frames for n in lengths)):
        raise ValueError(f"lengths must be {batch} frame counts in 1..{frames}, got {list(lengths)}")
    return batch, channels, frames


def _frame_mask(lengths, batch: int, frames: int, device) -> torch.Tensor | None:
    if lengths is None or all(int(n) == frames for n in lengths):
        return None
    counts = torch.tensor([int(n) for n in lengths], device=device)
    return torch.arange(frames, device=device)[None] < counts[:, None]
