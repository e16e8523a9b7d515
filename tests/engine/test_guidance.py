"""Per-modality classifier-free guidance (foleystudio.engine.guidance): branches, weights, batching."""

import itertools
import math

import pytest
import torch

from foleystudio.engine.guidance import (
    MODALITIES,
    Branch,
    GuidanceScales,
    LoudnessAnchor,
    anchored_branches,
    branch_rows,
    guidance_branches,
    guided_velocity,
    loudness_reference,
)
from foleystudio.engine.sampler import SamplerConfig, make_noise, sample
from foleystudio.errors import UserInputError

VARIATIONS, CHANNELS, FRAMES = 3, 4, 8
ALL = {"video", "text", "audio"}

# A synthetic model whose velocity is a base field plus one known field per modality it is given
# (and one for the negative prompt), each depending on x so misplaced rows would show.
generator = torch.Generator().manual_seed(0)
PATTERN = {name: torch.randn(CHANNELS, FRAMES, generator=generator) for name in (*MODALITIES, "negative")}


def base(x):
    return -x


def field(name, x):
    return PATTERN[name] * torch.cos(x)


def additive_model(branches, calls=None):
    """batched_fn over per-branch condition rows, built the way the pipeline builds its closure."""
    presence = torch.tensor(
        [[float(m in b.modalities) for m in MODALITIES] + [float(b.negative_text)] for b in branches]
    )
    rows = branch_rows(presence, VARIATIONS)

    def batched_fn(t, x_all):
        if calls is not None:
            calls.append(x_all.shape[0])
        v = base(x_all)
        for column, name in enumerate((*MODALITIES, "negative")):
            v = v + rows[:, column].view(-1, 1, 1) * field(name, x_all)
        return v

    return batched_fn


def guided(present, scales, x, negative=False, calls=None):
    branches = guidance_branches(present, scales, negative)
    return guided_velocity(additive_model(branches, calls), branches, VARIATIONS)(0.3, x)


def expected(present, scales, x):
    v = base(x)
    for name in present:
        v = v + scales.of(name) * field(name, x)
    return v


X = torch.randn(VARIATIONS, CHANNELS, FRAMES, generator=generator)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"video": -1.0}, "video guidance must be 0 or more"),
        ({"text": math.nan}, "text guidance"),
        ({"audio": True}, "audio guidance"),
    ],
)
def test_bad_scales_are_user_errors(kwargs, message):
    with pytest.raises(UserInputError, match=message):
        GuidanceScales(**kwargs)


def test_unknown_modality_is_rejected():
    with pytest.raises(UserInputError, match="'lidar'"):
        guidance_branches({"video", "lidar"}, GuidanceScales())


def test_weights_follow_the_nested_formula():
    branches = guidance_branches(ALL, GuidanceScales(video=3.0, text=2.0, audio=1.5))
    assert branches == [
        Branch(frozenset(), -2.0),
        Branch(frozenset({"video"}), 1.0),
        Branch(frozenset({"video", "text"}), 0.5),
        Branch(frozenset(ALL), 1.5),
    ]


@pytest.mark.parametrize("negative", [False, True])
@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_every_presence_combination_gives_a_valid_chain(size, negative):
    for present in itertools.combinations(MODALITIES, size):
        present = frozenset(present)
        branches = guidance_branches(present, GuidanceScales(video=3.0, text=2.0, audio=1.5), negative)
        extra_text_step = negative and "text" not in present
        assert len(branches) == len(present) + 1 + extra_text_step
        assert math.isclose(sum(b.weight for b in branches), 1.0)
        assert all(b.weight != 0 for b in branches)
        for earlier, later in zip(branches, branches[1:], strict=False):
            assert earlier.modalities <= later.modalities
        assert branches[-1] == Branch(present, branches[-1].weight, False)
        # The negative prompt sits in the text slot of the branches before the text step only.
        for b in branches:
            assert not (b.negative_text and "text" in b.modalities)
        assert branches[0].negative_text == negative
        # Full result: every present modality contributes with its own scale, nothing else does.
        torch.testing.assert_close(
            guided(present, GuidanceScales(video=3.0, text=2.0, audio=1.5), X, negative=False),
            expected(present, GuidanceScales(video=3.0, text=2.0, audio=1.5), X),
        )


@pytest.mark.parametrize("present", [set(), {"video"}, {"text", "audio"}, ALL])
def test_all_scales_one_is_exactly_the_conditional_prediction_in_one_branch(present):
    scales = GuidanceScales(1.0, 1.0, 1.0)
    branches = guidance_branches(present, scales, negative_prompt=True)
    assert branches == [Branch(frozenset(present), 1.0, False)]
    conditional = additive_model(branches)(0.3, X)
    assert torch.equal(guided(present, scales, X, negative=True), conditional)


def test_equal_scales_are_plain_cfg_with_two_branches():
    branches = guidance_branches(ALL, GuidanceScales(4.0, 4.0, 4.0))
    assert [(b.modalities, b.weight) for b in branches] == [(frozenset(), -3.0), (frozenset(ALL), 4.0)]


def test_branches_of_weight_zero_are_pruned():
    branches = guidance_branches(ALL, GuidanceScales(video=2.0, text=2.0, audio=0.0))
    assert [b.modalities for b in branches] == [frozenset(), frozenset({"video", "text"})]


@pytest.mark.parametrize("removed", MODALITIES)
def test_scale_zero_removes_that_modality(removed):
    scales = GuidanceScales(**{name: (0.0 if name == removed else 2.0 + i) for i, name in enumerate(MODALITIES)})
    result = guided(ALL, scales, X)
    torch.testing.assert_close(result, expected(ALL - {removed}, scales, X))
    # ...and it really was there to remove:
    assert not torch.allclose(result, expected(ALL, GuidanceScales(2.0, 3.0, 4.0), X))


def test_negative_prompt_is_pushed_away_with_the_text_scale():
    scales = GuidanceScales(video=2.0, text=3.0, audio=1.5)
    with_text = guided(ALL, scales, X, negative=True)
    # v(∅,neg) + s_V fV + s_T (fT - neg) + s_A fA: the negative field ends with weight 1 - s_T.
    torch.testing.assert_close(with_text, expected(ALL, scales, X) + (1 - 3.0) * field("negative", X))
    without_text = guided({"video"}, scales, X, negative=True)
    torch.testing.assert_close(without_text, expected({"video"}, scales, X) + (1 - 3.0) * field("negative", X))


def test_guidance_is_affine_in_the_scales_for_any_model():
    def nonlinear(branches):
        presence = branch_rows(torch.tensor([[float(m in b.modalities) for m in MODALITIES] for b in branches]), 3)
        weights = torch.tensor([0.7, -1.3, 2.1])
        return lambda t, x: torch.tanh(x * (1 + presence @ weights).view(-1, 1, 1)) + t

    def at(scales):
        branches = guidance_branches(ALL, scales)
        return guided_velocity(nonlinear(branches), branches, VARIATIONS)(0.5, X)

    a, b = GuidanceScales(1.0, 4.0, 2.0), GuidanceScales(3.0, 0.5, 6.0)
    mix = GuidanceScales(*(0.25 * a.of(m) + 0.75 * b.of(m) for m in MODALITIES))
    torch.testing.assert_close(at(mix), 0.25 * at(a) + 0.75 * at(b), atol=1e-5, rtol=0)


def test_rows_are_branch_major():
    branches = guidance_branches(ALL, GuidanceScales(video=3.0, text=2.0, audio=1.5))
    branch_id = branch_rows(torch.arange(len(branches), dtype=torch.float32), VARIATIONS)
    seen = []

    def batched_fn(t, x_all):
        seen.append(x_all.clone())
        return x_all + branch_id.view(-1, 1, 1)

    v = guided_velocity(batched_fn, branches, VARIATIONS)(0.1, X)
    assert torch.equal(seen[0], torch.cat([X] * len(branches)))  # row b * N + n = variation n
    mean_id = sum(b.weight * k for k, b in enumerate(branches))
    torch.testing.assert_close(v, X + mean_id)


@pytest.mark.parametrize("method, evaluations", [("euler", 5), ("heun", 9)])
def test_one_batched_forward_per_evaluation(method, evaluations):
    calls = []
    branches = guidance_branches(ALL, GuidanceScales(video=3.0, text=2.0, audio=1.5))
    velocity = guided_velocity(additive_model(branches, calls), branches, VARIATIONS)
    generator = sample(
        velocity, make_noise((VARIATIONS, CHANNELS, FRAMES), seed=0), SamplerConfig(method=method, steps=5)
    )
    for _ in generator:
        pass
    assert calls == [4 * VARIATIONS] * evaluations


def test_wrong_variation_count_is_reported():
    branches = guidance_branches(ALL, GuidanceScales())
    velocity = guided_velocity(additive_model(branches), branches, VARIATIONS)
    with pytest.raises(ValueError, match="variation rows"):
        velocity(0.0, X[:2])


# ---- loudness-keeping guidance -----------------------------------------------------------------


@pytest.mark.parametrize("present, scales", [
    ({"video"}, GuidanceScales(video=4.0)),  # no prompt to keep the loudness of
    ({"video", "text"}, GuidanceScales(video=3.0, text=1.0)),  # text at 1 is its own reference
    (ALL, GuidanceScales(video=2.0, text=1.0, audio=1.0)),
])
def test_nothing_is_anchored_when_the_reference_is_the_guidance_itself(present, scales):
    assert anchored_branches(present, scales) is None


@pytest.mark.parametrize("present", [{"text"}, {"video", "text"}, {"text", "audio"}, ALL])
@pytest.mark.parametrize("negative", [False, True])
def test_anchored_branches_carry_both_combinations(present, negative):
    scales = GuidanceScales(video=2.5, text=6.0, audio=3.0)
    branches, reference = anchored_branches(present, scales, negative)
    guided_only = guidance_branches(present, scales, negative)
    reference_only = guidance_branches(present, loudness_reference(scales), negative)
    key = lambda branch: (branch.modalities, branch.negative_text)  # noqa: E731
    # Every branch either combination needs is run once; the guided weights are guidance_branches' own.
    assert {key(b) for b in branches} == {key(b) for b in guided_only} | {key(b) for b in reference_only}
    assert {key(b): b.weight for b in branches if b.weight} == {key(b): b.weight for b in guided_only}
    assert {key(b): w for b, w in zip(branches, reference) if w} == {key(b): b.weight for b in reference_only}


def test_the_reference_keeps_the_video_scale_and_sets_the_prompts_to_one():
    assert loudness_reference(GuidanceScales(video=3.5, text=6.0, audio=0.5)) == GuidanceScales(3.5, 1.0, 1.0)


def test_the_anchor_receives_the_guided_and_the_reference_combination():
    scales = GuidanceScales(video=2.0, text=5.0)
    branches, reference = anchored_branches({"video", "text"}, scales)
    seen = {}

    def keep(t, x, guided_v, reference_v):
        seen.update(t=t, guided=guided_v, reference=reference_v)
        return guided_v + 1.0

    velocity = guided_velocity(additive_model(branches), branches, VARIATIONS, LoudnessAnchor(reference, keep))
    result = velocity(0.3, X)
    torch.testing.assert_close(seen["guided"], expected({"video", "text"}, scales, X), atol=1e-5, rtol=0)
    torch.testing.assert_close(seen["reference"], expected({"video", "text"}, loudness_reference(scales), X),
                               atol=1e-5, rtol=0)
    assert seen["t"] == 0.3
    torch.testing.assert_close(result, seen["guided"] + 1.0)


@pytest.mark.parametrize("weights, message", [((1.0,), "1 reference weights for 3 branches"),
                                              ((0.5, 0.2, 0.2), "reference weights must sum to 1")])
def test_bad_reference_weights_are_refused(weights, message):
    branches = guidance_branches(ALL, GuidanceScales(video=3.0, text=2.0, audio=1.5))[:3]
    branches = [Branch(b.modalities, w) for b, w in zip(branches, (0.5, 0.25, 0.25))]
    with pytest.raises(ValueError, match=message):
        guided_velocity(additive_model(branches), branches, VARIATIONS, LoudnessAnchor(weights, lambda *a: a[2]))
