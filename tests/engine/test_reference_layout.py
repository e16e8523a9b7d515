"""Reference likeness: the reference laid along a first take, and the second pass that starts from it."""

import dataclasses
import math

import pytest
import torch

from foleystudio.engine import pipeline
from foleystudio.engine.builder import build_engine
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import condition_inputs, generate, run_to_end
from foleystudio.engine.reference_layout import (
    GAP_S, LOOP_FADE_S, LOOP_MIN_S, is_steady, lay_out, loop, loop_period, onsets, reference_event, reference_events,
    restart_offsets, round_robin, start_point)
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import GenerationCancelled, SamplerConfig, sample, time_grid
from foleystudio.engine.tone_match import ToneMatch, band_shape_db
from foleystudio.errors import UserInputError
from tests.engine.test_inpaint import drain
from tests.engine.test_reference_bank import _bank_engine

CONFIG = TINY.codec
RATE = 44100 / CONFIG.hop_length
QUIET_DB = -90.0


def _latent(levels_db, tilt_db: float = 0.0) -> torch.Tensor:
    """A tiny-codec latent [C, T]: frame t has every band at levels_db[t] minus tilt x band number,
    in both channels."""
    levels = torch.as_tensor(levels_db, dtype=torch.float32)
    bands = -tilt_db * torch.arange(CONFIG.n_mels, dtype=torch.float32)
    stacked = (levels[None, None, None, None, :] + bands[None, None, None, :, None]).expand(
        1, 2, CONFIG.frames_per_latent, CONFIG.n_mels, len(levels))
    return ((stacked - CONFIG.offset_db) / CONFIG.scale_db).reshape(-1, len(levels))


def _events(frames: int, starts: list[int], length: int = 3, level: float = -20.0) -> list[float]:
    levels = [QUIET_DB] * frames
    for start in starts:
        for frame in range(start, min(frames, start + length)):
            levels[frame] = level
    return levels


def _loudness(codec, latent):
    return codec.latent_loudness_lufs(latent[None])[0]


def test_onsets_are_rises_near_the_top_spaced_apart():
    gap = round(GAP_S * RATE)
    levels = torch.tensor(_events(40, [5, 20]), dtype=torch.float32)
    assert onsets(levels, RATE) == [5, 20]
    levels[5 + gap - 1] = levels[5 + gap - 2] = QUIET_DB  # a second rise too soon after the first
    levels[5 + gap - 1] = -20.0
    assert onsets(levels, RATE) == [5, 20]
    faint = torch.tensor(_events(40, [5]), dtype=torch.float32)
    faint[25:27] = -55.0  # a rise of 35 dB, but 35 dB under the loudest frame
    assert onsets(faint, RATE) == [5]
    assert onsets(torch.full((40,), -30.0), RATE) == []  # steady: no onsets


def test_the_reference_event_runs_from_its_first_onset_to_its_second():
    codec = build_engine(TINY).codec
    reference = _latent(_events(30, [4, 14], length=4))
    event = reference_event(codec, reference, RATE)
    assert torch.equal(event, reference[:, 4:14])
    steady = _latent([-30.0] * 10)
    assert torch.equal(reference_event(codec, steady, RATE), steady)


def test_events_are_placed_at_the_takes_onsets_at_its_level_over_the_take_in_the_reference_tone():
    codec = build_engine(TINY).codec
    first = _latent(_events(40, [6, 22], length=4, level=-25.0), tilt_db=0.0)
    reference = _latent(_events(12, [2], length=5, level=-10.0), tilt_db=2.0)  # brighter shape, louder
    laid = lay_out(codec, reference, first, RATE)
    event = reference_event(codec, reference, RATE)
    toned = ToneMatch(codec, reference, 1.0)(first[None])[0]
    for start, end in ((6, 22), (22, 40)):
        stop = min(end, start + event.shape[1])
        piece = laid[:, start:stop]
        shape = band_shape_db(piece[None], CONFIG)[0]
        expected = band_shape_db(event[None, :, : stop - start], CONFIG)[0]
        torch.testing.assert_close(shape, expected, atol=1e-3, rtol=0)  # the reference's sound
        peak = _loudness(codec, piece).amax(dim=1)
        torch.testing.assert_close(peak, _loudness(codec, first[:, start:stop]).amax(dim=1), atol=1e-3, rtol=0)
        assert torch.equal(laid[:, stop:end], toned[:, stop:end])  # the take, in the reference's tone
    assert torch.equal(laid[:, :6], toned[:, :6])
    assert not torch.equal(toned, first)
    shift = band_shape_db(laid[None], CONFIG)[0]
    reference_shape = band_shape_db(reference[None], CONFIG)[0]
    assert float((shift - reference_shape).abs().mean()) < 0.5  # every loud frame has the reference's tone


def test_each_copy_varies_as_the_first_passs_event_there_does():
    codec = build_engine(TINY).codec
    dull, bright = _latent(_events(40, [6], length=4, level=-25.0), tilt_db=1.0), \
        _latent(_events(40, [22], length=4, level=-25.0), tilt_db=-1.0)
    first = torch.maximum(dull, bright)  # a duller event at 6, a brighter one at 22
    reference = _latent(_events(12, [2], length=5, level=-10.0), tilt_db=0.5)
    laid = lay_out(codec, reference, first, RATE)
    shapes = [band_shape_db(laid[None, :, start:start + 4], CONFIG)[0] for start in (6, 22)]
    difference = shapes[1] - shapes[0]
    tilt = torch.arange(CONFIG.n_mels, dtype=torch.float32)
    expected = 2.0 * tilt  # the first pass's two events differ by 2 dB a band
    expected = (expected - expected.mean()).clamp(-12.0, 12.0)  # each copy moves at most 6 dB a band
    assert float(difference.std()) > 1.0  # the copies differ
    assert torch.corrcoef(torch.stack([difference, expected]))[0, 1] > 0.95  # brighter where the take is
    for shape in shapes:  # and each is still the reference's tone, within the variation allowed
        reference_shape = band_shape_db(reference_event(codec, reference, RATE)[None], CONFIG)[0]
        centred = (shape - shape.mean()) - (reference_shape - reference_shape.mean())
        assert float(centred.abs().max()) <= 6.0 + 1e-3


def test_round_robin_plays_each_sound_once_a_round_never_twice_in_a_row():
    order = round_robin(40, 4, seed=3)
    assert len(order) == 40
    for first in range(0, 40, 4):
        assert sorted(order[first:first + 4]) == [0, 1, 2, 3]  # each round has every sound once
    assert all(a != b for a, b in zip(order, order[1:]))
    assert order == round_robin(40, 4, seed=3)  # the seed decides it
    assert any(round_robin(8, 4, seed=seed) != round_robin(8, 4, seed=3) for seed in range(4, 8))
    assert round_robin(5, 1, seed=0) == [0] * 5
    with pytest.raises(ValueError, match="at least one"):
        round_robin(3, 0, seed=0)


def test_the_reference_events_run_from_each_onset_to_the_next():
    codec = build_engine(TINY).codec
    reference = _latent(_events(36, [4, 14, 26], length=4))
    events = reference_events(codec, reference, RATE)
    assert [event.shape[1] for event in events] == [10, 12, 10]
    assert torch.equal(events[1], reference[:, 14:26]) and torch.equal(events[2], reference[:, 26:])


def _copy_sources(codec, laid, starts, events, length=3):
    """Which of ``events`` each copy at ``starts`` is, by its band shape (events differ in tilt)."""
    def centred(latent):
        shape = band_shape_db(latent[None], CONFIG)[0]
        return shape - shape.mean()

    sources = []
    for start in starts:
        copy = centred(laid[:, start:start + length])
        distances = [float((copy - centred(event[:, :length])).abs().mean()) for event in events]
        sources.append(min(range(len(events)), key=distances.__getitem__))
        assert min(distances) < 1e-2
    return sources


def test_copies_take_every_event_of_every_recording_in_shuffled_rounds():
    codec = build_engine(TINY).codec
    starts = [2, 8, 14, 20, 26, 32, 38, 44, 50]
    first = _latent(_events(56, starts, length=3, level=-25.0))  # the take's events all alike
    two_steps = torch.cat([_latent(_events(10, [1], length=3, level=-12.0), tilt_db=1.0),
                           _latent(_events(10, [1], length=3, level=-12.0), tilt_db=-1.0)], dim=1)
    another = _latent(_events(8, [1], length=3, level=-12.0), tilt_db=2.5)
    events = reference_events(codec, two_steps, RATE) + reference_events(codec, another, RATE)
    assert len(events) == 3
    for seed in (0, 1):
        laid = lay_out(codec, [two_steps, another], first, RATE, seed=seed)
        assert _copy_sources(codec, laid, starts, events) == round_robin(len(starts), 3, seed)
    one = lay_out(codec, [another], first, RATE, seed=5)
    assert _copy_sources(codec, one, starts, events) == [2] * len(starts)
    assert torch.equal(one, lay_out(codec, another, first, RATE, seed=0))  # one event: the seed is moot


def test_a_steady_sound_loops_the_recording_found_and_never_its_variants():
    codec = build_engine(TINY).codec
    frames = math.ceil(LOOP_MIN_S * RATE) + 3
    first = _latent([-25.0] * (4 * frames))
    found = _latent([-30.0 + 3.0 * ((frame % 4) > 1) for frame in range(frames)], tilt_db=1.0)
    other = _latent([-30.0] * frames, tilt_db=-1.0)  # another place's wind
    laid = lay_out(codec, [found, other], first, RATE, seed=2)
    assert torch.equal(laid, lay_out(codec, found, first, RATE, seed=2))


def test_a_steady_take_gets_a_long_reference_looped_at_its_level():
    codec = build_engine(TINY).codec
    ramp = torch.linspace(-40.0, -20.0, 60).tolist()
    first = _latent(ramp)
    frames = math.ceil(LOOP_MIN_S * RATE) + 3
    wobble = [-30.0 + 3.0 * ((frame % 4) > 1) for frame in range(frames)]
    reference = _latent(wobble, tilt_db=1.5)
    laid = lay_out(codec, reference, first, RATE)
    assert laid.shape == first.shape
    torch.testing.assert_close(band_shape_db(laid[None], CONFIG), band_shape_db(reference[None], CONFIG),
                               atol=1e-3, rtol=0)
    window = 9  # 400 ms of frames: the level follows the take's, the reference's own wobble stays
    have = torch.nn.functional.avg_pool1d(torch.pow(10, _loudness(codec, laid) / 10)[None], window, 1)[0]
    want = torch.nn.functional.avg_pool1d(torch.pow(10, _loudness(codec, first) / 10)[None], window, 1)[0]
    assert float((10 * torch.log10(have / want)).abs().max()) < 1.0
    own_movement = _loudness(codec, laid) - _loudness(codec, first)
    assert float(own_movement[0, 20:40].std()) > 0.5  # the reference's wobble is not flattened away


def test_a_steady_reference_is_looped_even_over_a_take_that_fades_in():
    codec = build_engine(TINY).codec
    first = _latent([QUIET_DB] + [-25.0] * 59)  # an onset at frame 1, then steady
    frames = math.ceil(LOOP_MIN_S * RATE) + 3
    steady = _latent([-30.0 + 3.0 * ((frame % 4) > 1) for frame in range(frames)], tilt_db=1.5)
    assert is_steady(codec, steady) and onsets(_loudness(codec, first).mean(0), RATE) == [1]
    laid = lay_out(codec, steady, first, RATE)
    own = _loudness(codec, laid) - _loudness(codec, first)
    assert float(own[0, 30:].std()) > 0.5  # the wobble goes on past one copy of it: looped
    event = _latent(_events(frames, [2], length=5, level=-10.0), tilt_db=2.0)
    assert not is_steady(codec, event)
    placed = lay_out(codec, event, first, RATE)
    assert torch.equal(placed[:, 1: 1 + frames - 2], shifted_event(codec, event, first, 1, frames - 2))


def shifted_event(codec, event, first, start, length):
    piece = reference_event(codec, event, RATE)[:, :length]
    lift = _loudness(codec, first[:, start:start + length]).amax(dim=1) - _loudness(codec, reference_event(
        codec, event, RATE)).amax(dim=1)
    return codec.shift_loudness(piece[None], lift[None, :, None].expand(1, 2, piece.shape[1]))[0]


def test_a_loop_glides_over_its_restarts():
    reference = torch.linspace(0.0, 1.0, 20)[None].expand(3, 20)  # a ramp: a hard loop jumps by 1
    hard, smooth = loop(reference, 70, 0), loop(reference, 70, 5)
    assert hard.shape == smooth.shape == (3, 70)
    assert float(hard.diff(dim=1).abs().max()) == pytest.approx(1.0)
    assert float(smooth.diff(dim=1).abs().max()) < 0.3
    torch.testing.assert_close(smooth[:, :15], reference[:, :15])  # untouched until the first fade
    assert torch.equal(loop(reference, 70, 50), loop(reference, 70, 5))  # at most a quarter of it


def test_a_loops_repeats_start_at_points_the_seed_draws_from_the_first_half():
    reference = torch.arange(20.0)[None].expand(3, 20)  # frame k of the recording reads k
    looped = loop(reference, 60, 0, [4, 9, 0])
    assert looped[0].tolist() == list(range(20)) + list(range(4, 20)) + list(range(9, 20)) + list(range(0, 13))
    assert loop(reference, 60, 0, [15])[0, 20:30].tolist() == list(range(10, 20))  # at most half in
    offsets = restart_offsets(reference, seed=3)
    assert offsets == restart_offsets(reference, seed=3) and offsets != restart_offsets(reference, seed=4)
    assert all(0 <= offset < 10 for offset in offsets) and len(set(offsets)) > 1


def test_a_looped_take_does_not_come_round_at_the_recordings_length():
    codec = build_engine(TINY).codec
    frames = math.ceil(LOOP_MIN_S * RATE) + 7
    wobble = torch.randn(frames, generator=torch.Generator().manual_seed(0)).mul(2.0).add(-30.0).tolist()
    reference = _latent(wobble, tilt_db=1.0)
    assert is_steady(codec, reference)
    first = _latent([-25.0] * (5 * frames))
    period = loop_period(frames, RATE)  # a plain loop's, with its crossfades

    def repeats(latent) -> bool:
        levels = _loudness(codec, latent).mean(0)
        return torch.allclose(levels[2 * period:4 * period], levels[period:3 * period], atol=0.05)

    assert repeats(loop(reference, 5 * frames, round(LOOP_FADE_S * RATE)))
    assert not repeats(lay_out(codec, reference, first, RATE, seed=1))


def test_a_steady_take_with_a_short_reference_takes_its_tone_only():
    codec = build_engine(TINY).codec
    first = _latent(torch.linspace(-40.0, -20.0, 60).tolist())
    reference = _latent([-30.0, -27.0, -30.0, -27.0], tilt_db=1.5)  # under LOOP_MIN_S: would flutter
    laid = lay_out(codec, reference, first, RATE)
    assert torch.equal(laid, ToneMatch(codec, reference, 1.0)(first[None])[0])
    torch.testing.assert_close(_loudness(codec, laid), _loudness(codec, first), atol=1e-3, rtol=0)


def test_lay_out_refuses_another_latent_layout():
    codec = build_engine(TINY).codec
    with pytest.raises(ValueError, match="latent channels"):
        lay_out(codec, torch.zeros(4, 5), _latent([-30.0] * 5), RATE)


def test_the_start_point_mixes_noise_and_layout_at_the_likeness():
    noise, layout = torch.randn(2, 8, 5), torch.randn(2, 8, 5)
    torch.testing.assert_close(start_point(noise, layout, 0.7), 0.3 * noise + 0.7 * layout)
    assert torch.equal(start_point(noise, layout, 1.0), layout)
    for bad in (0.0, -0.2, 1.2):
        with pytest.raises(ValueError, match="likeness"):
            start_point(noise, layout, bad)


def test_a_sampling_run_can_start_part_way():
    grid = time_grid(6, shift=3.0, start=0.6)
    assert grid[0] == 0.6 and grid[-1] == 1.0 and all(b > a for a, b in zip(grid, grid[1:]))
    plain = time_grid(6, shift=3.0)
    torch.testing.assert_close(torch.tensor(grid), 0.6 + 0.4 * torch.tensor(plain))
    with pytest.raises(ValueError):
        time_grid(4, start=1.0)
    x0 = torch.zeros(1, 3)
    run = sample(lambda t, x: torch.ones_like(x), x0, SamplerConfig(steps=4), start=0.75)
    latent = drain(run)
    torch.testing.assert_close(latent, torch.full((1, 3), 0.25))  # a constant velocity over [0.75, 1]


def _request(**changes) -> GenerationRequest:
    fields = dict(duration_s=1.0, on_screen_prompt="a wooden door slam", steps=3, seed=4)
    return GenerationRequest(**{**fields, **changes})


def test_likeness_is_checked_in_the_request():
    assert _request().reference_likeness == 0.0
    for bad in (-0.1, 1.5, float("nan"), True, "0.5"):
        with pytest.raises(UserInputError, match="reference likeness"):
            _request(reference_likeness=bad)


def test_a_take_at_likeness_one_is_the_reference_laid_along_the_first_pass(monkeypatch):
    engine = _bank_engine()
    laid = []
    real_lay_out = pipeline.lay_out
    monkeypatch.setattr(pipeline, "lay_out", lambda *a, **k: laid.append(real_lay_out(*a, **k)) or laid[-1])
    steps = []
    runner = generate(engine, _request(reference_likeness=1.0))
    take = run_to_end(runner, steps.append)[0]
    assert [(s.i, s.total) for s in steps] == [(1, 3), (2, 3), (3, 3)]  # no second pass at 1
    inputs = condition_inputs(engine, _request())
    assert len(laid) == 1
    decoded = engine.codec.decode(laid[0][None]).numpy()[0, :, : take.audio.shape[1]]
    expected = pipeline._finish(engine, take.request, decoded, take.target_curve, 0, pipeline.read_prompt(
        engine, take.request)).audio
    assert inputs.reference_latent is not None
    assert (take.audio == expected).all()
    assert take.parameters()["reference_likeness"] == 1.0


def test_likeness_changes_the_take_and_a_variation_remakes_alone():
    engine = _bank_engine()
    plain = run_to_end(generate(engine, _request()))[0].audio
    steps = []
    pair = run_to_end(generate(engine, _request(reference_likeness=0.6, variations=2)), steps.append)
    assert [s.i for s in steps] == [1, 2, 3, 4, 5, 6] and {s.total for s in steps} == {6}
    assert not (pair[0].audio == plain).all()
    assert not (pair[0].audio == run_to_end(generate(engine, _request(reference_likeness=1.0)))[0].audio).all()
    alone = run_to_end(generate(engine, _request(reference_likeness=0.6, seed=5)))[0].audio
    assert abs(pair[1].audio - alone).max() < 1e-5  # variation 1 of seed 4 is seed 5's take


def test_likeness_without_a_reference_makes_the_plain_take_and_says_so(caplog):
    engine = _bank_engine()
    request = _request(on_screen_prompt="", reference_likeness=0.5)
    steps = []
    take = run_to_end(generate(engine, request), steps.append)[0]
    plain = run_to_end(generate(engine, _request(on_screen_prompt="")))[0]
    assert (take.audio == plain.audio).all() and len(steps) == request.steps
    assert take.parameters()["reference_likeness"] == 0.0  # what made the take
    assert "reference likeness 0.5 ignored: no reference sound" in caplog.text


def test_likeness_needs_a_take_within_one_window():
    engine = _bank_engine()
    window = engine.config.window_s
    with pytest.raises(UserInputError, match="works on takes up to"):
        run_to_end(generate(engine, _request(duration_s=window + 1.0, reference_likeness=0.5)))


def test_cancelling_during_the_second_pass_stops_before_decoding(monkeypatch):
    engine = _bank_engine()
    decoded = []
    monkeypatch.setattr(engine.codec, "decode", lambda *a, **k: decoded.append(1))
    seen = []
    runner = generate(engine, _request(reference_likeness=0.5), cancel=lambda: len(seen) >= 4)
    with pytest.raises(GenerationCancelled):
        run_to_end(runner, seen.append)
    assert len(seen) == 4 and not decoded



def test_a_model_that_reads_the_reference_waveform_lays_out_its_encoded_latent(tmp_path, monkeypatch):
    from tests.media import make_audio

    engine = build_engine(TINY)  # reads the reference as a waveform
    reference = make_audio(tmp_path / "ref.wav", seconds=0.5, rate=44100)
    request = GenerationRequest(duration_s=1.0, reference_audio=reference, steps=2, seed=1, reference_likeness=1.0)
    given = []
    real_lay_out = pipeline.lay_out
    monkeypatch.setattr(pipeline, "lay_out", lambda codec, refs, *rest, **named: given.append(refs) or real_lay_out(
        codec, refs, *rest, **named))
    take = run_to_end(generate(engine, request))[0]
    assert take.parameters()["reference_likeness"] == 1.0
    wave = torch.from_numpy(pipeline._reference_audio(engine, request).numpy())
    assert len(given[0]) == 1
    torch.testing.assert_close(given[0][0], engine.codec.encode(wave[None])[0])


def test_a_learned_codec_model_refuses_likeness():
    from foleystudio.engine.codec.learned import SMALL_LEARNED_CODEC

    config = dataclasses.replace(TINY, codec=SMALL_LEARNED_CODEC, generator=TINY.generator.for_codec(
        SMALL_LEARNED_CODEC.latent_channels, 44100 / SMALL_LEARNED_CODEC.hop_length))
    engine = build_engine(config)
    with pytest.raises(UserInputError, match="cannot keep a reference's likeness"):
        run_to_end(generate(engine, _request(reference_likeness=0.5)))


def test_a_stretch_of_a_likened_take_is_not_regenerated():
    from foleystudio.engine.retake import regenerate

    engine = _bank_engine()
    request = _request(reference_likeness=1.0)
    take = run_to_end(generate(engine, request))[0]
    with pytest.raises(UserInputError, match="cannot be regenerated yet"):
        run_to_end(regenerate(engine, request, take.audio, 0.2, 0.6))


def test_a_bank_sound_is_laid_out_with_its_variants_and_a_variation_remakes_alone(monkeypatch):
    from tests.engine.test_reference_bank import _variants

    engine = _bank_engine()
    engine.reference_bank.with_variants(_variants(engine.codec.latent_channels))
    given = []
    real_lay_out = pipeline.lay_out
    monkeypatch.setattr(pipeline, "lay_out", lambda codec, refs, *rest, **named: given.append((refs, named)) or
                        real_lay_out(codec, refs, *rest, **named))
    request = _request(on_screen_prompt="footsteps on gravel", duration_s=1.5, reference_likeness=1.0, variations=2)
    pair = run_to_end(generate(engine, request))
    sounds = engine.reference_bank.sounds(2)
    assert len(given[0][0]) == len(sounds) == 3
    for laid, expected in zip(given[0][0], sounds, strict=True):
        torch.testing.assert_close(laid, expected)
    assert [named["seed"] for _, named in given] == [4, 5]
    alone = run_to_end(generate(engine, dataclasses.replace(request, seed=5, variations=1)))[0]
    assert abs(pair[1].audio - alone.audio).max() < 1e-5
    assert [take.parameters()["reference_recordings"] for take in pair] == [3, 3]  # the take says so
    plain = run_to_end(generate(engine, dataclasses.replace(request, reference_likeness=0.0, variations=1)))[0]
    assert plain.reference_recordings is None
