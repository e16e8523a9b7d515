"""The DiT backbone: shapes at any length, AdaLN-zero start, masking, frame alignment."""

import pytest
import torch

from foleystudio.engine.conditions import EncodedConditions
from foleystudio.engine.dit import TINY_DIT, DiT, DiTConfig, KeyMask, Rotary, masked_attention

RATE = 44100 / 2048


def build(config=TINY_DIT, seed=0, randomise=True) -> DiT:
    """A DiT with reproducible weights; ``randomise`` also fills the zero-initialised layers, so
    the network is a generic function rather than the exact zero map of a fresh DiT."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        dit = DiT(config, RATE)
        if randomise:
            with torch.no_grad():
                for parameter in dit.parameters():
                    parameter.add_(torch.randn_like(parameter) * 0.1)
    return dit.eval()


def conditions(batch, frames, tokens=5, width=TINY_DIT.width, seed=1, mask=None) -> EncodedConditions:
    generator = torch.Generator().manual_seed(seed)
    token_mask = torch.ones(batch, tokens, dtype=torch.bool) if mask is None else mask
    return EncodedConditions(
        torch.randn(batch, tokens, width, generator=generator), token_mask,
        torch.randn(batch, frames, width, generator=generator), torch.randn(batch, width, generator=generator),
    )


def latents(batch, frames, seed=2):
    return torch.randn(batch, TINY_DIT.latent_channels, frames, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("frames", [1, 2, 7, 44, 131])
def test_output_shape_matches_input_for_any_length(frames):
    dit = build()
    with torch.no_grad():
        out = dit(latents(3, frames), torch.tensor([0.0, 0.5, 1.0]), conditions(3, frames))
    assert out.shape == (3, TINY_DIT.latent_channels, frames)
    assert torch.isfinite(out).all()
    assert out.abs().mean() > 1e-3  # a randomised network is not the zero map


def test_any_length_up_to_60_seconds_uses_the_same_weights():
    dit = build()
    longest = int(60 * RATE) + 1
    with torch.no_grad():
        outs = {n: dit(latents(1, n), torch.tensor([0.3]), conditions(1, n)) for n in (5, 216, longest)}
    assert all(torch.isfinite(out).all() and out.shape[-1] == n for n, out in outs.items())


def test_fresh_dit_is_exactly_zero_and_its_blocks_are_identities():
    dit = build(randomise=False)
    cond = conditions(2, 9)
    seen = []
    for block in dit.blocks:
        block.register_forward_hook(lambda module, args, output: seen.append(torch.equal(args[0], output)))
    with torch.no_grad():
        out = dit(latents(2, 9), torch.tensor([0.2, 0.9]), cond)
    assert torch.equal(out, torch.zeros_like(out))  # AdaLN-zero + zero output layer: exactly zero
    assert seen == [True] * TINY_DIT.depth


def test_same_input_same_output_and_scalar_t_broadcasts():
    dit = build()
    cond, x = conditions(2, 10), latents(2, 10)
    with torch.no_grad():
        first = dit(x, torch.tensor([0.4, 0.4]), cond)
        again = dit(x, torch.tensor(0.4), cond)
        other_t = dit(x, torch.tensor([0.4, 0.8]), cond)
    assert torch.equal(first, again)
    assert torch.equal(first[0], other_t[0]) and not torch.allclose(first[1], other_t[1])


def test_padded_tokens_are_ignored_by_cross_attention():
    dit = build()
    mask = torch.tensor([[True, True, False, False, False], [True, False, True, False, True]])
    cond = conditions(2, 12, mask=mask)
    changed = EncodedConditions(cond.tokens.masked_fill(~mask[..., None], 1e3), mask, cond.frames, cond.globals)
    real_changed = EncodedConditions(cond.tokens + 0.5 * mask[..., None], mask, cond.frames, cond.globals)
    x, t = latents(2, 12), torch.tensor([0.5, 0.5])
    with torch.no_grad():
        base, padded, real = dit(x, t, cond), dit(x, t, changed), dit(x, t, real_changed)
    assert torch.equal(base, padded)
    assert not torch.allclose(base, real)


def test_a_row_without_any_real_token_gives_finite_output_independent_of_tokens():
    dit = build()
    mask = torch.tensor([[False] * 5, [True] * 5])
    cond = conditions(2, 6, mask=mask)
    other = EncodedConditions(cond.tokens * 7.0, mask, cond.frames, cond.globals)
    with torch.no_grad():
        a, b = dit(latents(2, 6), torch.tensor([0.5, 0.5]), cond), dit(latents(2, 6), torch.tensor([0.5, 0.5]), other)
    assert torch.isfinite(a).all()
    assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])


def test_masked_attention_zeroes_rows_without_keys():
    q, k, v = torch.randn(2, 1, 3, 4), torch.randn(2, 1, 5, 4), torch.randn(2, 1, 5, 4)
    mask = torch.tensor([[False] * 5, [True, True, False, False, False]])
    out = masked_attention(q, k, v, mask)
    assert torch.equal(out[0], torch.zeros_like(out[0]))
    reference = torch.softmax(q[1] @ k[1, :, :2].transpose(-1, -2) / 2.0, dim=-1) @ v[1, :, :2]
    assert torch.allclose(out[1], reference, atol=1e-6)
    assert KeyMask.of(torch.ones(2, 5, dtype=torch.bool)).sdpa is None  # no mask: the fast kernels


def test_padded_frames_do_not_change_real_frames():
    dit = build()
    cond = conditions(1, 10)
    mask = torch.tensor([[True] * 7 + [False] * 3])
    x = latents(1, 10)
    garbage = x.clone()
    garbage[..., 7:] = 50.0
    with torch.no_grad():
        masked = EncodedConditions(cond.tokens, cond.token_mask, cond.frames, cond.globals, mask)
        a = dit(x, torch.tensor([0.5]), masked)
        b = dit(garbage, torch.tensor([0.5]), masked)
        unmasked = dit(garbage, torch.tensor([0.5]), cond)
    assert torch.allclose(a[..., :7], b[..., :7], atol=1e-6)
    assert not torch.allclose(a[..., :7], unmasked[..., :7], atol=1e-3)


def test_frame_features_enter_only_at_their_own_frames():
    dit = build()
    cond = conditions(1, 30)
    bumped_frames = cond.frames.clone()
    bumped_frames[0, 17] += 1.0
    bumped = EncodedConditions(cond.tokens, cond.token_mask, bumped_frames, cond.globals)
    inputs = []
    hook = dit.blocks[0].norm_attn.register_forward_hook(lambda module, args, output: inputs.append(args[0]))
    with torch.no_grad():
        dit(latents(1, 30), torch.tensor([0.5]), cond)
        dit(latents(1, 30), torch.tensor([0.5]), bumped)
    hook.remove()
    changed = (inputs[0] - inputs[1]).abs().amax(dim=-1)[0]
    assert changed[17] > 0.01
    assert torch.equal(torch.nonzero(changed).flatten(), torch.tensor([17]))


def test_rotary_positions_work_for_any_length_and_are_relative():
    rotary = Rotary.of(1300, 16, 10000.0, "cpu", torch.float32)
    x = torch.randn(1, 1300, 2, 16, generator=torch.Generator().manual_seed(0))
    fast, real = rotary(x), rotary(x, force_real=True)
    assert torch.allclose(fast, real, atol=1e-5)  # complex and real arithmetic agree
    assert torch.allclose(fast.norm(dim=-1), x.norm(dim=-1), atol=1e-4)  # a rotation
    # The same query/key pair placed at frames (p, p + 9) scores the same for every p.
    q, k = x[:, :1].expand(1, 1300, 2, 16), x[:, 1:2].expand(1, 1300, 2, 16)
    rq, rk = rotary(q.contiguous()), rotary(k.contiguous())
    scores = torch.stack([(rq[0, p] * rk[0, p + 9]).sum(-1) for p in (0, 100, 1200)])
    assert torch.allclose(scores, scores[:1].expand_as(scores), atol=1e-3)


def test_mismatched_conditions_are_refused():
    dit = build()
    with pytest.raises(ValueError, match="do not fit"):
        dit(latents(2, 10), torch.tensor([0.5, 0.5]), conditions(2, 11))
    with pytest.raises(ValueError, match="latents"):
        dit(torch.zeros(2, 3, 10), torch.tensor([0.5, 0.5]), conditions(2, 10))
    with pytest.raises(ValueError, match="divisible"):
        DiTConfig(latent_channels=4, width=30, depth=1, heads=4)
