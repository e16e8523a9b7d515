"""The generator network: conditioners + DiT, with its frozen config and presets.

`FoleyGenerator.encode_conditions(inputs, branches, latent_frames)` encodes one request once, one
batch row per guidance branch; `velocity(x, t, conditions)` is the flow-matching velocity the
sampler integrates. Training uses `encode_rows` (the same path) through `flow.flow_matching_loss`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from foleystudio.engine.conditioners import (
    BASE_CONDITIONERS,
    COMPACT_CONDITIONERS,
    SMALL_CONDITIONERS,
    TINY_CONDITIONERS,
    ConditionerConfig,
    ConditionRow,
    Conditioners,
)
from foleystudio.engine.conditioners.tokenizer import WordTokenizer
from foleystudio.engine.config_io import READ_DEFAULT_IF_ABSENT
from foleystudio.engine.conditions import MODALITIES, ConditionInputs, EncodedConditions
from foleystudio.engine.dit import BASE_DIT, COMPACT_DIT, SMALL_DIT, TINY_DIT, DiT, DiTConfig

logger = logging.getLogger(__name__)

DEFAULT_LATENT_RATE = 44100 / 2048  # 21.53 latent frames/s, Tri-Ergon's VAE rate


PREDICTIONS = ("velocity", "data")
DATA_PREDICTION_MIN_GAP = 0.05


@dataclass(frozen=True)
class GeneratorConfig:
    """The generator's shape: backbone, condition encoders, and the codec's latent rate."""

    dit: DiTConfig
    conditioners: ConditionerConfig
    latent_rate: float = DEFAULT_LATENT_RATE
    # What the backbone outputs: "velocity" (the flow's v directly) or "data" (a clean-latent estimate
    # x1, turned into v = (x1 - x_t) / (1 - t), see `FoleyGenerator.velocity`). Data prediction keeps
    # the noise out of what the network must carry: a v-predicting backbone narrower than its latent
    # tokens (192 wide for 256 channels) cannot cancel isotropic noise, and its samples keep about
    # half of the starting noise (log-mel latents 7-10x rougher than real ones, takes ~25 LU too loud).
    prediction: str = field(default="velocity", metadata={READ_DEFAULT_IF_ABSENT: True})
    # The prompt modalities (video, text, audio) the weights were trained with; None = not recorded
    # (a preset, or a folder written before this field). A trained model never taught a prompt has
    # random weights on its path, so the pipeline refuses a request that uses one (see
    # `pipeline.check_prompts_trained`) instead of returning a take that prompt quietly spoiled.
    trained_prompts: tuple[str, ...] | None = field(default=None, metadata={READ_DEFAULT_IF_ABSENT: True})

    def __post_init__(self) -> None:
        if not isinstance(self.dit, DiTConfig) or not isinstance(self.conditioners, ConditionerConfig):
            raise ValueError("GeneratorConfig needs a DiTConfig and a ConditionerConfig")
        if self.prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {self.prediction!r}")
        if self.trained_prompts is not None:
            prompts = tuple(self.trained_prompts)
            if isinstance(self.trained_prompts, str) or not set(prompts) <= set(MODALITIES):
                raise ValueError(f"trained_prompts must name modalities among {MODALITIES}, got {self.trained_prompts!r}")
            object.__setattr__(self, "trained_prompts", tuple(name for name in MODALITIES if name in prompts))
        if isinstance(self.latent_rate, bool) or not (math.isfinite(self.latent_rate) and 0 < self.latent_rate <= 50):
            raise ValueError(f"latent_rate must be in (0, 50] frames/s, got {self.latent_rate!r}")

    @property
    def latent_channels(self) -> int:
        return self.dit.latent_channels

    @property
    def width(self) -> int:
        return self.dit.width

    @property
    def max_seconds(self) -> float:
        return self.conditioners.max_seconds

    @property
    def max_latent_frames(self) -> int:
        return math.ceil(self.max_seconds * self.latent_rate)

    def for_codec(self, latent_channels: int, latent_rate: float) -> GeneratorConfig:
        """This config fitted to a codec's latent size and rate."""
        return replace(self, dit=replace(self.dit, latent_channels=latent_channels), latent_rate=float(latent_rate))

    def to_dict(self) -> dict:
        return {"dit": self.dit.to_dict(), "conditioners": self.conditioners.to_dict(), "latent_rate": self.latent_rate,
                "prediction": self.prediction,
                "trained_prompts": None if self.trained_prompts is None else list(self.trained_prompts)}

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorConfig:
        # Keys added after model folders were written read as the field's default: velocity
        # prediction, trained prompts not recorded.
        defaults = cls.__dataclass_fields__
        prediction = data.get("prediction", defaults["prediction"].default)
        trained = data.get("trained_prompts", defaults["trained_prompts"].default)
        return cls(DiTConfig.from_dict(data["dit"]), ConditionerConfig.from_dict(data["conditioners"]),
                   float(data["latent_rate"]), str(prediction), None if trained is None else tuple(trained))

    def with_trained_prompts(self, prompts) -> GeneratorConfig:
        return replace(self, trained_prompts=tuple(prompts))


def prompt_trained(trained_prompts: Sequence[str] | None, modality: str) -> bool:
    """Whether a model whose `GeneratorConfig.trained_prompts` is ``trained_prompts`` can take the
    ``modality`` prompt; None (not recorded) takes every prompt."""
    return trained_prompts is None or modality in trained_prompts


def _as_time(t, like: torch.Tensor) -> torch.Tensor:
    """A time (number or tensor) as float32 on ``like``'s device."""
    if not isinstance(t, torch.Tensor):
        t = torch.tensor(float(t), device=like.device)
    return t.to(device=like.device, dtype=torch.float32)


TINY_GENERATOR = GeneratorConfig(TINY_DIT, TINY_CONDITIONERS)
SMALL_GENERATOR = GeneratorConfig(SMALL_DIT, SMALL_CONDITIONERS)
COMPACT_GENERATOR = GeneratorConfig(COMPACT_DIT, COMPACT_CONDITIONERS, prediction="data")  # width 192 < 256 channels
BASE_GENERATOR = GeneratorConfig(BASE_DIT, BASE_CONDITIONERS)


class FoleyGenerator(nn.Module):
    def __init__(self, config: GeneratorConfig, tokenizer: WordTokenizer | None = None) -> None:
        super().__init__()
        self.config = config
        self.conditioners = Conditioners(config.conditioners, config.width, tokenizer, config.latent_channels)
        self.dit = DiT(config.dit, config.latent_rate)

    @property
    def latent_rate(self) -> float:
        return self.config.latent_rate

    def tokenize(self, text: str) -> tuple[int, ...]:
        """Token ids of a caption or negative prompt for `ConditionInputs`."""
        return self.conditioners.tokenize(text)

    def latent_frames_for(self, seconds: float) -> int:
        return max(1, math.ceil(seconds * self.latent_rate - 1e-9))

    def encode_conditions(self, inputs: ConditionInputs, branches: Iterable, latent_frames: int) -> EncodedConditions:
        """One row per branch, in the given order.

        A branch is a set of modalities (subset of video, text, audio) or an object with
        ``modalities`` and ``negative_text`` (`guidance.Branch`). For a plain set, the negative
        prompt (if any) fills the text slot of branches without "text".
        """
        rows = [self._row(inputs, branch) for branch in branches]
        return self.encode_rows(rows, latent_frames)

    @torch.no_grad()
    def text_category(self, text_ids: Sequence[int]) -> tuple[str, float] | None:
        """The sound category the model's text head reads ``text_ids`` as, and its probability;
        None without text or without a head."""
        if not text_ids or self.conditioners.text_category is None:
            return None
        probabilities = torch.softmax(self.conditioners.text_category_logits([tuple(text_ids)])[0].float(), dim=0)
        best = int(probabilities.argmax())
        return self.conditioners.text_category.categories[best], float(probabilities[best])

    def encode_rows(self, rows: Sequence[ConditionRow], latent_frames: int) -> EncodedConditions:
        """The one encoding path (inference branches and training items alike)."""
        return self.conditioners.encode(rows, latent_frames, self.latent_rate)

    def velocity(self, x: torch.Tensor, t, cond: EncodedConditions) -> torch.Tensor:
        """x [B, C, T], t [B] (or a number) in [0, 1] -> velocity [B, C, T]."""
        t = _as_time(t, x)
        out = self.dit(x, t, cond)
        if cond.output_bias is not None:
            out = out + cond.output_bias[:, :, None].to(out.dtype)
        if self.config.prediction == "velocity":
            return out
        return (out - x) / self._gap(t, out)

    forward = velocity

    def velocity_target(self, x_data: torch.Tensor, noise: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """The velocity `velocity` must return at x_t on the path from ``noise`` to ``x_data``.

        A data predictor's target goes through the same floored gap as its output, so an exact clean
        estimate scores zero loss at every t (with the plain x_data - noise, times past 1 - gap would
        carry an error no prediction can remove).
        """
        if self.config.prediction == "velocity":
            return x_data - noise
        return (x_data - x_t) / self._gap(_as_time(t, x_t), x_t)

    def clean_estimate(self, x_t: torch.Tensor, t, velocity: torch.Tensor) -> torch.Tensor:
        """The clean latent x1 that ``velocity`` (from `velocity` at x_t, t) points to: for a data
        predictor exactly the network's output, for a velocity predictor x_t + (1 - t) v."""
        return x_t + self._estimate_gap(t, x_t) * velocity

    def velocity_toward(self, x_t: torch.Tensor, t, clean: torch.Tensor) -> torch.Tensor:
        """The velocity whose `clean_estimate` at x_t, t is ``clean`` (its inverse)."""
        return (clean - x_t) / self._estimate_gap(t, x_t)

    def _estimate_gap(self, t, x_t: torch.Tensor) -> torch.Tensor:
        t = _as_time(t, x_t)
        if self.config.prediction == "velocity":
            gap = (1.0 - t).reshape(-1, *([1] * (x_t.ndim - 1))) if t.ndim else 1.0 - t
            return gap.to(x_t.dtype)
        return self._gap(t, x_t)

    @staticmethod
    def _gap(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """1 - t floored, shaped to broadcast over ``like`` [B, C, T].

        x_t = (1 - t) noise + t x1 and v = x1 - noise give v = (x1 - x_t) / (1 - t). The gap is
        floored so the last steps (t -> 1) stay finite (Li & He 2025, "Back to Basics", use 0.05).
        """
        gap = (1.0 - t).clamp(min=DATA_PREDICTION_MIN_GAP)
        if gap.ndim:  # one time per batch row
            gap = gap.reshape(-1, *([1] * (like.ndim - 1)))
        return gap.to(like.dtype)

    @staticmethod
    def _row(inputs: ConditionInputs, branch) -> ConditionRow:
        if hasattr(branch, "modalities"):
            return ConditionRow(inputs, frozenset(branch.modalities), bool(getattr(branch, "negative_text", False)))
        modalities = frozenset(branch)
        unknown = modalities - set(MODALITIES)
        if unknown:
            raise ValueError(f"unknown modality {sorted(unknown)[0]!r} in a branch")
        return ConditionRow(inputs, modalities, negative_text="text" not in modalities)


def parameter_count(module: nn.Module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())
