"""Long takes (foleystudio.engine.long_takes): window plan, continuation, joins, streaming, memory."""

import math
import threading
import weakref

import pytest
import torch

from foleystudio.engine.long_takes import (
    LatentPiece,
    LongTakeConfig,
    StreamingDecoder,
    Window,
    long_take,
    plan_long_take,
)
from foleystudio.engine.sampler import GenerationCancelled, NoiseStream, SamplerConfig, Step, make_noise, sample
from foleystudio.errors import UserInputError

CHANNELS = 2
EULER = SamplerConfig(method="euler", steps=3)


def smooth(frames, period=64.0):
    """A smooth target latent [1, CHANNELS, frames]."""
    k = torch.arange(frames, dtype=torch.float32)
    return torch.stack([torch.sin(2 * math.pi * k / period), 0.5 * torch.cos(2 * math.pi * k / period)]).unsqueeze(0)


def run(plan, window_velocity, seed=0, variations=1, config=EULER, cancel=None):
    """(steps, pieces, joined latent) of a whole long take."""
    steps, pieces = [], []
    for item in long_take(plan, window_velocity, NoiseStream(seed, variations), CHANNELS, config, cancel=cancel):
        (steps if isinstance(item, Step) else pieces).append(item)
    return steps, pieces, torch.cat([piece.latent for piece in pieces], dim=-1)


def toward(target):
    """Per-window 'model' whose flow lines go straight to its slice of ``target``."""
    return lambda window: (lambda t, x: (target[..., window.start : window.stop] - x) / (1.0 - t))


def test_plan_covers_the_take_with_exact_overlaps():
    plan = plan_long_take(100, window_frames=30, overlap_frames=8, crossfade_frames=5)
    assert plan.windows[0] == Window(0, 0, 30, 0, 0)
    assert [(w.start, w.stop) for w in plan.windows] == [(0, 30), (22, 52), (44, 74), (66, 96), (88, 100)]
    assert all((w.known, w.crossfade) == (3, 5) for w in plan.windows[1:])
    assert plan_long_take(30, 30, 8).windows == (Window(0, 0, 30, 0, 0),)
    assert plan_long_take(7, 30, 8).windows == (Window(0, 0, 7, 0, 0),)


@pytest.mark.parametrize(
    "args, message",
    [
        ((0, 30, 8), "at least one latent frame"),
        ((100, 1, 0), "at least 2"),
        ((100, 30, 30), "overlap"),
        ((100, 30, 0), "overlap"),
        ((100, 30, 8, 8), "crossfade"),
    ],
)
def test_bad_plans_are_user_errors(args, message):
    with pytest.raises(UserInputError, match=message):
        plan_long_take(*args)


def test_config_in_seconds_becomes_frames():
    config = LongTakeConfig()  # 60 s windows, 5 s overlap of which 2 s crossfade
    plan = config.plan(total_frames=round(600 * 21.5), latent_rate=21.5)
    first, second = plan.windows[:2]
    assert first.frames == 1290 and second.overlap == 108 and second.crossfade == 43
    with pytest.raises(UserInputError, match="crossfade"):
        LongTakeConfig(window_s=10.0, overlap_s=2.0, crossfade_s=2.0)
    with pytest.raises(UserInputError, match="overlap"):
        LongTakeConfig(window_s=10.0, overlap_s=10.0)


def test_pieces_tile_the_take_and_steps_count_over_all_windows():
    target = smooth(100)
    plan = plan_long_take(100, 30, 8, 5)
    steps, pieces, joined = run(plan, toward(target))
    assert [(p.start, p.stop) for p in pieces] == [(0, 22), (22, 44), (44, 66), (66, 88), (88, 100)]
    assert [s.i for s in steps] == list(range(1, 16)) and {s.total for s in steps} == {15}
    assert [s.offset for s in steps] == [w.start for w in plan.windows for _ in range(3)]
    torch.testing.assert_close(joined, target, atol=1e-5, rtol=0)


def test_known_frames_follow_the_exact_path_and_stay_the_previous_windows():
    plan = plan_long_take(60, 24, 8, 3)
    seen = {}

    def window_velocity(window):
        def velocity(t, x):
            seen.setdefault(window.index, []).append((t, x.clone()))
            return torch.tanh(2 * x) - x  # a model that ignores where it is

        return velocity

    _, pieces, joined = run(plan, window_velocity, config=SamplerConfig(method="heun", steps=4))
    for window in plan.windows[1:]:
        calls = seen[window.index]
        noise = calls[0][1][..., : window.known]  # at t = 0 the state is the window's own noise
        known = joined[..., window.start : window.start + window.known]
        for t, x in calls:
            torch.testing.assert_close(x[..., : window.known], (1 - t) * noise + t * known, atol=1e-5, rtol=0)


def max_step(latent):
    return (latent[..., 1:] - latent[..., :-1]).abs().amax(dim=(0, 1))


def test_joins_are_continuous_even_when_windows_disagree():
    # Each window's 'model' pulls toward the smooth signal plus its own offset, as if it generated
    # independently of its context: only the crossfade can hide the offsets.
    target = smooth(200)

    def window_velocity(window):
        goal = target[..., window.start : window.stop] + 0.2 * (-1) ** window.index
        return lambda t, x: (goal - x) / (1.0 - t)

    def jumps(crossfade):
        plan = plan_long_take(200, 48, 24, crossfade)
        _, _, joined = run(plan, window_velocity)
        return max_step(joined), plan

    steps, plan = jumps(crossfade=20)
    assert len(plan.windows) == 8
    typical = max_step(target).max()
    assert steps.max() <= 1.5 * typical
    hard_cut, _ = jumps(crossfade=0)
    assert hard_cut.max() > 2.5 * typical  # without the crossfade the check above fails


def test_a_take_that_fits_one_window_is_a_plain_sample():
    velocity = lambda t, x: torch.sin(3 * x) - x  # noqa: E731
    _, pieces, joined = run(plan_long_take(20, 32, 8), lambda window: velocity, seed=9, variations=2)
    assert len(pieces) == 1
    noise = make_noise((2, CHANNELS, 20), seed=9)
    generator = sample(velocity, noise, EULER)
    try:
        while True:
            next(generator)
    except StopIteration as finished:
        assert torch.equal(joined, finished.value)


def test_same_seed_same_take_and_variations_reproduce_alone():
    plan = plan_long_take(90, 32, 10, 4)
    velocity = lambda window: (lambda t, x: torch.tanh(3 * x) - x)  # noqa: E731
    _, _, both = run(plan, velocity, seed=3, variations=2)
    _, _, again = run(plan, velocity, seed=3, variations=2)
    _, _, second_alone = run(plan, velocity, seed=4, variations=1)
    assert torch.equal(both, again)
    assert torch.equal(both[1:], second_alone)
    assert not torch.allclose(both[0], both[1])


def test_cancelling_stops_the_take_at_a_step_boundary():
    cancel = threading.Event()
    plan = plan_long_take(100, 30, 8, 4)
    items = []
    with pytest.raises(GenerationCancelled):
        for item in long_take(plan, toward(smooth(100)), NoiseStream(0), CHANNELS, EULER, cancel=cancel):
            items.append(item)
            if isinstance(item, LatentPiece):
                cancel.set()
    assert sum(isinstance(item, LatentPiece) for item in items) == 1
    assert sum(isinstance(item, Step) for item in items) == 3


def test_ten_minute_take_streams_in_constant_memory():
    latent_rate = 21.5  # frames per second of a 2048-hop codec at 44.1 kHz
    plan = LongTakeConfig().plan(total_frames=round(600 * latent_rate), latent_rate=latent_rate)
    longest = []
    windows_started = []

    def window_velocity(window):
        windows_started.append(window.index)

        def velocity(t, x):
            longest.append(x.shape[-1])
            return -x

        return velocity

    frames_out, held_back = 0, []
    released = []
    take = long_take(plan, window_velocity, NoiseStream(0), CHANNELS, SamplerConfig(steps=2, preview=False))
    for item in take:
        # Pieces consumed earlier are gone at every step: nothing accumulates while the take goes on.
        held_back.append(sum(ref() is not None for ref in released))
        if isinstance(item, LatentPiece):
            assert item.start == frames_out  # in order, each frame once
            frames_out = item.stop
            assert windows_started[-1] == len(released)  # the piece came before the next window began
            released.append(weakref.ref(item.latent._base if item.latent._base is not None else item.latent))
        del item
    assert frames_out == plan.total_frames == 12900
    assert len(plan.windows) == 11 and max(longest) == 1290
    assert max(held_back) == 0


def local_decoder(hop):
    """A toy decoder whose every sample depends on latent within half a frame: [N, 2, T] -> [N, 2, T*hop]."""

    def decode(latent):
        up = latent.repeat_interleave(hop, dim=-1)
        padded = torch.nn.functional.pad(up, (hop // 2, hop // 2), mode="replicate")
        return torch.nn.functional.avg_pool1d(padded, kernel_size=hop + 1, stride=1)

    return decode


def test_streaming_decode_matches_decoding_everything_at_once():
    hop = 8
    decode = local_decoder(hop)
    latent = torch.randn(2, 2, 66, generator=torch.Generator().manual_seed(1))
    sizes = [1, 5, 17, 3, 40]
    seen = []
    decoder = StreamingDecoder(lambda z: seen.append(z.shape[-1]) or decode(z), hop, context_frames=2)
    chunks, start = [], 0
    for size in sizes:
        chunks.append(decoder.push(latent[..., start : start + size]))
        start += size
    chunks.append(decoder.finish())
    streamed = torch.cat(chunks, dim=-1)
    whole = decode(latent)
    assert streamed.shape == whole.shape
    torch.testing.assert_close(streamed, whole, atol=1e-6, rtol=0)
    assert max(seen) <= max(sizes) + 2 * 2  # never more than one piece plus its context


def test_streaming_joins_are_crossfaded_when_decodes_disagree():
    hop = 16
    decode = local_decoder(hop)
    # A decoder with a global effect (an offset from the whole chunk's mean) decodes a chunk
    # differently from its neighbour: the join crossfade must hide the step.
    global_decode = lambda z: decode(z) + 2.0 * z.mean()  # noqa: E731
    latent = 0.02 * torch.arange(120, dtype=torch.float32).expand(1, 2, 120).contiguous()

    def streamed(crossfade_samples):
        decoder = StreamingDecoder(global_decode, hop, context_frames=4, crossfade_samples=crossfade_samples)
        chunks = [decoder.push(latent[..., start : start + 30]) for start in range(0, 120, 30)]
        return torch.cat([*chunks, decoder.finish()], dim=-1)

    smooth_step = (decode(latent)[..., 1:] - decode(latent)[..., :-1]).abs().max()
    crossfaded = streamed(crossfade_samples=64)
    hard = streamed(crossfade_samples=0)
    assert crossfaded.shape[-1] == hard.shape[-1] == 120 * hop
    hard_step = (hard[..., 1:] - hard[..., :-1]).abs().max()
    assert hard_step > 20 * smooth_step
    # A raised cosine over L samples spreads a step d into slopes of at most d·π / (2 (L + 1)).
    bound = hard_step * math.pi / (2 * 65) + smooth_step
    assert (crossfaded[..., 1:] - crossfaded[..., :-1]).abs().max() <= bound
