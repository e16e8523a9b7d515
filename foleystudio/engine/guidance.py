"""Per-modality classifier-free guidance, nested as in InstructPix2Pix / VinTAGe, for video, text, audio.

With the chain of branches ∅ ⊂ V ⊂ VT ⊂ VTA (each names the modalities it is conditioned on;
modalities absent from the request are skipped), the guided velocity is

    v = v(∅) + s_V [v(V) - v(∅)] + s_T [v(VT) - v(V)] + s_A [v(VTA) - v(VT)],

a linear combination of branch velocities with weights (1 - s_V, s_V - s_T, s_T - s_A, s_A), which
sum to 1. Branches of weight 0 are not computed: all scales 1 leaves only the fully conditioned
branch (one forward, exactly the conditional prediction); equal scales leave ∅ and the full branch
(plain CFG). The LUFS curve and timing are in every branch.

Negative prompt: the text slot of the branches before the text step holds the negative prompt
instead of the null text, so the text step contrasts the prompt against the negative prompt. When
the request has no text but has a negative prompt, the text step is kept with the null text on its
conditioned side (``"text"`` is then in no branch's modalities), which is plain negative prompting:
guidance pushes away from the negative prompt with the text scale.

Loudness: a model whose config says ``guidance_keeps_loudness`` runs the branches of the guided
combination and of its `loudness_reference` (text and reference audio at scale 1) together
(`anchored_branches`), and a `LoudnessAnchor` gives the step the guided spectral shape at the
reference's loudness (`loudness_anchor`).

Batching: ``guided_velocity`` evaluates all K branches for N variations in ONE call of
``batched_fn(t, x_all)`` with x_all of shape [K * N, ...] in BRANCH-MAJOR order: row b * N + n is
branch b (in the order ``guidance_branches`` returns) for variation n. So x_all = x.repeat(K, ...)
and per-branch conditions [K, ...] become rows with ``branch_rows(conditions, N)``
(= repeat_interleave along dim 0).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch

from foleystudio.engine.sampler import VelocityFn
from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

# The order of the nested chain: video first (timing-critical), then text, then reference audio.
MODALITIES = ("video", "text", "audio")

BatchedVelocityFn = Callable[[float, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class GuidanceScales:
    """One classifier-free guidance scale per modality (>= 0; 1 = no extra guidance, 0 = ignore it).

    Defaults 2.5: the value VinTAGe (Fig. 8 / §inference) uses for both its video and text scales.
    """

    video: float = 2.5
    text: float = 2.5
    audio: float = 2.5

    def __post_init__(self) -> None:
        for name in MODALITIES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise UserInputError(f"{name} guidance must be a finite number (got {value!r})")
            if value < 0:
                raise UserInputError(f"{name} guidance must be 0 or more (got {value})")

    def of(self, modality: str) -> float:
        return float(getattr(self, modality))


@dataclass(frozen=True)
class Branch:
    """One conditioning of the model: the modalities it sees, its weight, and its text slot.

    negative_text: the text slot holds the negative prompt (otherwise the prompt if "text" is in
    modalities, else the null text).
    """

    modalities: frozenset[str]
    weight: float
    negative_text: bool = False


def guidance_branches(present: Iterable[str], scales: GuidanceScales, negative_prompt: bool = False) -> list[Branch]:
    """The branches to compute, in chain order (fewest modalities first), weights summing to 1."""
    chain = _chain(_checked(present), scales, negative_prompt)
    branches = [Branch(modalities, weight, negative_text)
                for (modalities, negative_text, _), weight in zip(chain, _link_weights(chain)) if weight != 0.0]
    logger.debug("guidance branches for %s: %s", sorted(present), branches)
    return branches


def loudness_reference(scales: GuidanceScales) -> GuidanceScales:
    """The scales whose loudness a loudness-keeping guidance keeps: text and reference audio at 1.

    Their guidance should change what a take sounds like, not how loud it is (the curve decides
    that); extrapolating the prompts also extrapolates whatever loudness they pull towards. The
    video scale stays: following the picture is partly loudness (the hits on its onsets).
    """
    return GuidanceScales(video=scales.video, text=1.0, audio=1.0)


def anchored_branches(present: Iterable[str], scales: GuidanceScales,
                      negative_prompt: bool = False) -> tuple[list[Branch], tuple[float, ...]] | None:
    """Branches for loudness-keeping guidance: those of the guided or of the `loudness_reference`
    combination (``Branch.weight`` is the guided weight), and each one's reference weight. None when
    the two combinations are the same (no text or reference audio, or their scales at 1)."""
    present = _checked(present)
    guided = _chain(present, scales, negative_prompt)
    guided_weights = _link_weights(guided)
    reference_weights = _link_weights(_chain(present, loudness_reference(scales), negative_prompt))
    if guided_weights == reference_weights:
        return None
    used = [i for i, pair in enumerate(zip(guided_weights, reference_weights)) if any(pair)]
    branches = [Branch(guided[i][0], guided_weights[i], guided[i][1]) for i in used]
    return branches, tuple(reference_weights[i] for i in used)


def _checked(present: Iterable[str]) -> frozenset[str]:
    present = frozenset(present)
    unknown = present - set(MODALITIES)
    if unknown:
        raise UserInputError(f"unknown modality {sorted(unknown)[0]!r} (known: {', '.join(MODALITIES)})")
    return present


def _link_weights(chain: Sequence[tuple[frozenset[str], bool, float]]) -> list[float]:
    # Link j enters with +s_j (s_0 = 1 for ∅) and leaves with -s_{j+1}: weight s_j - s_{j+1}.
    scales = [scale for _, _, scale in chain] + [0.0]
    return [scales[j] - scales[j + 1] for j in range(len(chain))]


def _chain(
    present: frozenset[str], scales: GuidanceScales, negative_prompt: bool
) -> list[tuple[frozenset[str], bool, float]]:
    """Links (modalities, negative_text, scale of the step that reaches the link); link 0 is ∅."""
    links: list[tuple[frozenset[str], bool, float]] = [(frozenset(), negative_prompt, 1.0)]
    seen: frozenset[str] = frozenset()
    negative_text = negative_prompt
    for modality in MODALITIES:
        if modality not in present and not (modality == "text" and negative_prompt):
            continue
        if modality in present:
            seen = seen | {modality}
        if modality == "text":
            # From the text step on, the text slot holds the prompt (or the null text).
            negative_text = False
        links.append((seen, negative_text, scales.of(modality)))
    return links


def branch_rows(per_branch: torch.Tensor, variations: int) -> torch.Tensor:
    """Per-branch rows [K, ...] -> batch rows [K * N, ...] in branch-major order."""
    return per_branch.repeat_interleave(variations, dim=0)


@dataclass(frozen=True)
class LoudnessAnchor:
    """Keeps a guided velocity at the loudness of a reference combination of the same branches.

    reference_weights: one per branch, summing to 1 (`anchored_branches`).
    keep: (t, x, guided velocity, reference velocity) -> the velocity to step along.
    """

    reference_weights: tuple[float, ...]
    keep: Callable[[float, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def guided_velocity(batched_fn: BatchedVelocityFn, branches: Sequence[Branch], variations: int,
                    anchor: LoudnessAnchor | None = None) -> VelocityFn:
    """A velocity_fn(t, x [N, ...]) that runs every branch in one ``batched_fn`` call and combines
    them (and, with an ``anchor``, keeps the combination at its reference's loudness)."""
    if not branches:
        raise ValueError("guidance needs at least one branch")
    weights = [float(branch.weight) for branch in branches]
    _check_weights(weights, "branch")
    if anchor is not None:
        if len(anchor.reference_weights) != len(branches):
            raise ValueError(f"{len(anchor.reference_weights)} reference weights for {len(branches)} branches")
        _check_weights(anchor.reference_weights, "reference")
    count = len(branches)

    def velocity(t: float, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != variations:
            raise ValueError(f"guided velocity expects {variations} variation rows, got {x.shape[0]}")
        x_all = x if count == 1 else x.repeat(count, *([1] * (x.dim() - 1)))
        v_all = batched_fn(t, x_all)
        if v_all.shape != x_all.shape:
            raise ValueError(f"batched_fn returned shape {tuple(v_all.shape)} for rows {tuple(x_all.shape)}")
        if count == 1:
            return v_all  # weight 1: exactly the conditional prediction, no arithmetic on it
        # Combine in float32: guidance amplifies branch differences, which half precision would round.
        per_branch = v_all.float().reshape(count, variations, *x.shape[1:])
        combined = _combine(weights, per_branch)
        if anchor is not None:
            combined = anchor.keep(t, x.float(), combined, _combine(anchor.reference_weights, per_branch))
        return combined.to(v_all.dtype)

    return velocity


def _combine(weights: Sequence[float], per_branch: torch.Tensor) -> torch.Tensor:
    combined = weights[0] * per_branch[0]
    for weight, branch_velocity in zip(weights[1:], per_branch[1:], strict=True):
        combined = combined + weight * branch_velocity
    return combined


def _check_weights(weights: Sequence[float], what: str) -> None:
    if not math.isclose(sum(weights), 1.0, rel_tol=0.0, abs_tol=1e-9):
        raise ValueError(f"{what} weights must sum to 1 (got {sum(weights)})")
