"""Conditioners: tokenizer, text/audio/video/LUFS/timing/task encoders, absent == dropped."""

import json
import math

import numpy as np
import pytest
import torch

from foleystudio.audio.curve import LoudnessCurve
from foleystudio.engine.conditioners import TINY_CONDITIONERS, ConditionRow, Conditioners
from foleystudio.engine.conditioners.layers import resample_to_frames
from foleystudio.engine.conditioners.lufs import normalise_lufs
from foleystudio.engine.conditioners.task import task_id
from foleystudio.engine.conditioners.text import TransformersTextEncoder
from foleystudio.engine.conditioners.tokenizer import PAD_ID, WordTokenizer, split_words
from foleystudio.engine.conditions import ConditionInputs, EncodedConditions
from foleystudio.errors import UserInputError

RATE = 44100 / 2048
WIDTH = 32
CAPTIONS = [
    "on screen: footsteps on gravel; off screen: dog barking",
    "Footsteps on wooden floor",
    "door slam",
    "dog barking in the distance",
]


def build(seed=0, tokenizer=None) -> Conditioners:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Conditioners(TINY_CONDITIONERS, WIDTH, tokenizer).eval()


def full_inputs(conditioners, seconds=2.0, seed=3, **changes) -> ConditionInputs:
    generator = torch.Generator().manual_seed(seed)
    frames = int(seconds * 8)
    values = dict(
        total_s=seconds,
        text_ids=conditioners.tokenize("footsteps on gravel"),
        negative_text_ids=conditioners.tokenize("music"),
        reference_audio=0.1 * torch.randn(2, 22050, generator=generator),
        video_features=torch.randn(frames, TINY_CONDITIONERS.video_feature_dim, generator=generator),
        video_motion=torch.rand(frames, TINY_CONDITIONERS.motion_dim, generator=generator) * 0.05,
        lufs=torch.linspace(-60, -10, int(seconds * 6)).repeat(2, 1),
    )
    values.update(changes)
    return ConditionInputs(**values)


def encode(conditioners, rows, frames=44):
    with torch.no_grad():
        return conditioners.encode(rows, frames, RATE)


def same(a: EncodedConditions, b: EncodedConditions) -> bool:
    names = ("tokens", "token_mask", "frames", "globals")
    return all(torch.equal(getattr(a, name), getattr(b, name)) for name in names)


# ---- tokenizer -----------------------------------------------------------------------------------


def test_tokenizer_lowercases_splits_punctuation_and_ranks_by_frequency():
    assert split_words("On screen: Footsteps; don't") == ["on", "screen", ":", "footsteps", ";", "don't"]
    tokenizer = WordTokenizer.train(CAPTIONS, vocab_size=128, hash_buckets=16)
    first = 2 + 16
    # "on" (3x), then the words seen twice in code-point order (punctuation sorts first).
    assert tokenizer.words[:6] == ("on", ":", "barking", "dog", "footsteps", "screen")
    assert tokenizer.encode("ON footsteps") == [first, first + 4]
    assert tokenizer.encode("") == []
    assert tokenizer.encode("a b c d e", max_tokens=2) == tokenizer.encode("a b")


def test_unknown_words_get_stable_hashed_ids_in_the_bucket_range():
    tokenizer = WordTokenizer.train(CAPTIONS, vocab_size=128, hash_buckets=16)
    [albatross] = tokenizer.encode("Albatross")
    assert 2 <= albatross < 18 and not tokenizer.is_known("albatross")
    # A stable digest, not Python's per-process salted hash(): the same id on every run.
    assert albatross == 12
    assert WordTokenizer(vocab_size=128, hash_buckets=16).encode("albatross") == [albatross]


def test_tokenizer_keeps_only_words_that_fit_and_round_trips_json(tmp_path):
    tokenizer = WordTokenizer.train(CAPTIONS, vocab_size=2 + 16 + 3, hash_buckets=16)
    assert tokenizer.words == ("on", ":", "barking")
    path = tmp_path / "tokenizer.json"
    tokenizer.save(path)
    loaded = WordTokenizer.load(path)
    assert loaded == tokenizer and loaded.encode("dog door") == tokenizer.encode("dog door")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not a readable"), (json.dumps({"format": "other"}), "not a FoleyStudio tokenizer"),
     (json.dumps({"format": "foleystudio-word-tokenizer", "version": 1, "vocab_size": 4, "hash_buckets": 1,
                  "words": ["a", "b", "c"]}), "bad tokenizer")],
)
def test_a_bad_tokenizer_file_is_refused_clearly(tmp_path, content, message):
    path = tmp_path / "tokenizer.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserInputError, match=message):
        WordTokenizer.load(path)
    with pytest.raises(UserInputError, match="no such"):
        WordTokenizer.load(tmp_path / "missing.json")


# ---- text ----------------------------------------------------------------------------------------


def test_text_encoder_ignores_padding_and_zeroes_padded_positions():
    text = build().text
    ids = torch.tensor([[5, 9, 30, PAD_ID], [7, 8, 40, 41]])
    mask = torch.tensor([[True, True, True, False], [True] * 4])
    with torch.no_grad():
        out = text(ids, mask)
        other = text(ids.masked_fill(~mask, 99), mask)
    assert out.shape == (2, 4, WIDTH)
    assert torch.equal(out[0, 3], torch.zeros(WIDTH))
    assert torch.allclose(out[0, :3], other[0, :3], atol=1e-6)


def test_a_local_transformers_model_that_is_not_a_model_folder_is_refused(tmp_path):
    with pytest.raises(UserInputError, match="no such text model folder"):
        TransformersTextEncoder(tmp_path / "missing", WIDTH, 16)
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(UserInputError, match="must be a folder"):
        TransformersTextEncoder(tmp_path / "weights.bin", WIDTH, 16)
    with pytest.raises(UserInputError, match="no config.json"):
        TransformersTextEncoder(tmp_path, WIDTH, 16)


def test_tokenizer_must_fit_the_text_embedding():
    with pytest.raises(UserInputError, match="ids"):
        build(tokenizer=WordTokenizer(vocab_size=100, hash_buckets=8))


# ---- reference audio -----------------------------------------------------------------------------


def test_reference_audio_gives_a_fixed_number_of_tokens_for_any_length():
    encoder = build().reference_audio
    generator = torch.Generator().manual_seed(0)
    clips = [torch.randn(2, n, generator=generator) * 0.1 for n in (300, 44100 * 3, 44100 * 12)]
    with torch.no_grad():
        tokens = encoder(clips)
        first_ten = encoder([clips[2][:, : 44100 * 10]])
    assert tokens.shape == (3, TINY_CONDITIONERS.ref_tokens, WIDTH)
    assert torch.isfinite(tokens).all()
    assert torch.allclose(tokens[2], first_ten[0], atol=1e-5)  # only the first 10 s are used
    assert not torch.allclose(tokens[0], tokens[1], atol=1e-3)


def test_mono_reference_is_read_as_identical_channels():
    encoder = build().reference_audio
    mono = torch.randn(1, 8000, generator=torch.Generator().manual_seed(1)) * 0.1
    with torch.no_grad():
        assert torch.allclose(encoder([mono]), encoder([mono.repeat(2, 1)]), atol=1e-6)


# ---- LUFS, video, time alignment -----------------------------------------------------------------


def test_lufs_is_clipped_to_minus_70_0_and_normalised_to_0_1():
    lufs = torch.tensor([-120.0, -70.0, -52.5, -35.0, -7.0, 0.0, 6.0])
    assert torch.equal(normalise_lufs(lufs), torch.tensor([0.0, 0.0, 0.25, 0.5, 0.9, 1.0, 1.0]))


def test_resampling_aligns_interval_centres_linearly():
    values = torch.tensor([[[0.0], [6.0], [12.0]]])  # 6 Hz frames centred at 1/12, 3/12, 5/12 s
    out = resample_to_frames(values, torch.tensor([3]), 6.0, torch.tensor([0.0]), 5, 12.0)
    # 12 Hz centres 1/24, 3/24, 5/24, ...: held before the first source centre, then linear
    # (rising 6 per 1/6 s), held again after the last.
    assert torch.allclose(out[0, :, 0], torch.tensor([0.0, 1.5, 4.5, 7.5, 10.5]))
    out = resample_to_frames(values, torch.tensor([3]), 6.0, torch.tensor([0.0]), 8, 12.0)
    assert torch.allclose(out[0, 5:, 0], torch.tensor([12.0, 12.0, 12.0]))


def changed_frame_times(conditioners, before, after, kept=frozenset(), frames=86):
    a, b = encode(conditioners, [ConditionRow(before, kept)], frames), encode(
        conditioners, [ConditionRow(after, kept)], frames)
    changed = (a.frames - b.frames).abs().amax(dim=-1)[0] > 1e-6
    return (torch.nonzero(changed).flatten().float() + 0.5) / RATE


def test_a_lufs_change_at_2_s_moves_only_the_latent_frames_near_2_s():
    conditioners = build()
    curve = torch.full((2, 24), -30.0)
    bumped = curve.clone()
    bumped[0, 12] = -10.0  # frame 12 = [2.0, 2.167) s, left channel only
    times = changed_frame_times(conditioners, full_inputs(conditioners, 4.0, lufs=curve),
                                full_inputs(conditioners, 4.0, lufs=bumped))
    assert len(times) >= 3
    # Linear interpolation between frame centres: only latent frames within one 6 Hz frame of 2.08 s.
    assert times.min() > 11.5 / 6 and times.max() < 13.5 / 6


def test_a_motion_spike_moves_only_the_latent_frames_near_it():
    conditioners = build()
    base = full_inputs(conditioners, 4.0)
    motion = base.video_motion.clone()
    motion[24] += 0.5  # video frame 24 = [3.0, 3.125) s
    times = changed_frame_times(conditioners, base, full_inputs(conditioners, 4.0, video_motion=motion), {"video"})
    assert len(times) >= 2 and times.min() > 23.5 / 8 and times.max() < 25.5 / 8


def test_a_window_is_aligned_exactly_with_the_whole():
    conditioners = build()
    whole = full_inputs(conditioners, 4.0)
    first_frame, frames = 30, 40
    window = whole.window(first_frame / RATE, frames / RATE)
    assert window.start_s == pytest.approx(first_frame / RATE) and window.total_s == 4.0
    full = encode(conditioners, [ConditionRow(whole, frozenset({"video"}))], 86)
    part = encode(conditioners, [ConditionRow(window, frozenset({"video"}))], frames)
    assert torch.allclose(full.frames[:, first_frame : first_frame + frames], part.frames, atol=1e-4)


def test_a_loudness_curve_object_is_accepted():
    curve = LoudnessCurve.uniform(np.full(12, -23.0), np.full(12, -inf_safe()))
    inputs = ConditionInputs(total_s=2.0, lufs=curve)
    assert inputs.lufs.shape == (2, 12) and float(inputs.lufs[1, 0]) == -70.0


def inf_safe():
    return math.inf  # -inf (digital silence) reads as the -70 LUFS floor


# ---- timing, task, absent == dropped ---------------------------------------------------------------


def test_timing_is_clamped_to_60_seconds():
    timing = build().timing
    with torch.no_grad():
        out = timing(torch.tensor([0.0, 0.0, 0.0, 70.0, 60.0]), torch.tensor([30.0, 60.0, 120.0, 60.0, 60.0]))
    # Same clamped input -> same row (allclose: a batched matmul may round edge rows differently).
    assert torch.allclose(out[1], out[2], atol=1e-6) and torch.allclose(out[3], out[4], atol=1e-6)
    assert not torch.allclose(out[0], out[1])


def test_task_ids_follow_tri_ergon_bits():
    assert task_id(set()) == 0 and task_id({"video"}) == 1 and task_id({"audio"}) == 2
    assert task_id({"text", "video"}) == 5 and task_id({"text", "audio", "video"}) == 7


@pytest.mark.parametrize("dropped", ["video", "text", "audio"])
def test_a_dropped_modality_encodes_exactly_like_an_absent_one(dropped):
    conditioners = build()
    given = full_inputs(conditioners)
    field = {"video": "video_features", "text": "text_ids", "audio": "reference_audio"}[dropped]
    absent_changes = {field: () if dropped == "text" else None}
    if dropped == "video":
        absent_changes["video_motion"] = None
    absent = full_inputs(conditioners, **absent_changes)
    kept = frozenset({"video", "text", "audio"}) - {dropped}
    assert absent.present == kept
    dropped_row = ConditionRow(given, kept)
    absent_row = ConditionRow(absent, kept | {dropped})  # asks for it, but it is not there
    assert same(encode(conditioners, [dropped_row]), encode(conditioners, [absent_row]))


def test_each_modality_changes_the_encoding_and_the_task():
    conditioners = build()
    inputs = full_inputs(conditioners)
    rows = [ConditionRow(inputs, frozenset(m)) for m in ([], ["video"], ["video", "text"], ["video", "text", "audio"])]
    cond = encode(conditioners, rows)
    assert [row.task for row in rows] == [0, 1, 5, 7]
    assert cond.token_mask.sum(1).tolist() == [1 + 12, 1 + 12 + 16, 1 + 12 + 3 + 16, 1 + 12 + 3 + 4 + 16]
    assert not torch.allclose(cond.frames[0], cond.frames[1])  # video motion enters the frames
    assert all(not torch.allclose(cond.globals[i], cond.globals[i + 1]) for i in range(3))


def test_negative_text_fills_the_text_slot_when_asked():
    conditioners = build()
    inputs = full_inputs(conditioners)
    row = ConditionRow(inputs, frozenset(), negative_text=True)
    assert row.text_ids == conditioners.tokenize("music") and row.task == 4
    assert ConditionRow(inputs, frozenset({"text"})).text_ids == conditioners.tokenize("footsteps on gravel")


def test_batched_rows_match_rows_encoded_alone():
    conditioners = build()
    a, b = full_inputs(conditioners, seed=1), full_inputs(conditioners, seed=2, text_ids=(40, 41, 42, 43, 44))
    rows = [ConditionRow(a, frozenset({"video", "text"})), ConditionRow(b, frozenset({"text", "audio"}))]
    together = encode(conditioners, rows)
    for index, row in enumerate(rows):
        alone = encode(conditioners, [row])
        mask = together.token_mask[index]
        assert torch.allclose(together.tokens[index][mask], alone.tokens[0][alone.token_mask[0]], atol=1e-5)
        assert torch.allclose(together.frames[index], alone.frames[0], atol=1e-6)


# ---- inputs and encoded conditions ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"lufs": torch.tensor([[0.0, math.nan], [0.0, 0.0]])}, "NaN"),
     ({"lufs": torch.zeros(3, 4)}, "left, right"),
     ({"video_motion": torch.zeros(4, 5)}, "without video features"),
     ({"video_features": torch.zeros(4, 16), "video_motion": torch.zeros(3, 5)}, "motion must be"),
     ({"reference_audio": torch.zeros(3, 10)}, "channels"),
     ({"total_s": 0.0}, "total_s > 0"),
     ({"text_ids": (1, -2)}, ">= 0")],
)
def test_bad_condition_inputs_are_refused_precisely(changes, message):
    with pytest.raises(UserInputError, match=message):
        ConditionInputs(**{"total_s": 2.0, **changes})


def test_video_features_of_the_wrong_size_are_refused():
    conditioners = build()
    inputs = ConditionInputs(total_s=1.0, video_features=torch.zeros(8, 7))
    with pytest.raises(UserInputError, match="expects 16"):
        encode(conditioners, [ConditionRow(inputs, frozenset({"video"}))])


def test_encoded_conditions_concat_repeat_select_and_move():
    conditioners = build()
    inputs = full_inputs(conditioners)
    small = encode(conditioners, [ConditionRow(inputs, frozenset())])
    large = encode(conditioners, [ConditionRow(inputs, frozenset({"video", "text", "audio"}))])
    both = EncodedConditions.concat([small, large])
    assert both.batch_size == 2 and both.tokens.shape[1] == large.tokens.shape[1]
    assert both.token_mask[0].sum() == small.token_mask.sum()
    repeated = both.repeat(3)
    assert repeated.batch_size == 6 and torch.equal(repeated.tokens[2], both.tokens[0])
    assert torch.equal(repeated.tokens[3], both.tokens[1])
    assert torch.equal(both.select([1]).globals, large.globals)
    half = both.to(dtype=torch.bfloat16)
    assert half.tokens.dtype == torch.bfloat16 and half.token_mask.dtype == torch.bool


def test_the_prompt_steers_the_global_conditioning_and_absent_text_adds_nothing():
    conditioners = build()
    gravel = full_inputs(conditioners)
    door = full_inputs(conditioners, text_ids=conditioners.tokenize("door slam"))
    no_text = full_inputs(conditioners, text_ids=())
    rows = [ConditionRow(inputs, frozenset({"text"})) for inputs in (gravel, door, no_text)]
    cond = encode(conditioners, rows)
    assert not torch.allclose(cond.globals[0], cond.globals[1])  # same task, different words
    with torch.no_grad():
        expected = conditioners.timing(torch.tensor([0.0]), torch.tensor([2.0])) + conditioners.task(torch.tensor([0]))
    assert torch.allclose(cond.globals[2], expected[0], atol=1e-6)
