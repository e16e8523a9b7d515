"""The reference bank: storage, retrieval by words and by category, and the pipeline's use of it."""

import dataclasses

import numpy as np
import pytest
import torch

from foleystudio.engine.builder import build_engine, load_engine, save_engine
from foleystudio.engine.conditioners import TINY_CONDITIONERS
from foleystudio.engine.config import TINY
from foleystudio.engine.pipeline import condition_inputs, retrieved_reference
from foleystudio.engine.reference_bank import BANK_FILE, STEP, ReferenceBank, load_bank
from foleystudio.engine.request import GenerationRequest
from foleystudio.errors import UserInputError
from tests.media import make_audio

CAPTIONS = ["a wooden door creak", "a wooden door slam", "footsteps on gravel", "a dog barking", "heavy rain"]
CATEGORIES = ["doors/mechanisms", "doors/mechanisms", "footsteps", "animals", "water/rain"]


def bank(channels: int = 64) -> ReferenceBank:
    generator = torch.Generator().manual_seed(0)
    latents = [torch.rand(channels, 5 + index, generator=generator) * 2 - 0.5 for index in range(len(CAPTIONS))]
    return ReferenceBank(latents, CAPTIONS, CATEGORIES)


def test_a_bank_round_trips_through_its_file_within_its_quantisation(tmp_path):
    original = bank()
    (tmp_path / BANK_FILE).write_bytes(original.to_bytes())
    loaded = load_bank(tmp_path)
    assert loaded.captions == tuple(CAPTIONS) and loaded.categories == tuple(CATEGORIES)
    generator = torch.Generator().manual_seed(0)
    for index in range(len(CAPTIONS)):
        source = torch.rand(64, 5 + index, generator=generator) * 2 - 0.5
        assert (loaded.latent(index) - source).abs().max() <= STEP / 2 + 1e-6
    assert load_bank(tmp_path / "elsewhere") is None


def test_a_file_that_is_not_a_bank_is_a_clear_error(tmp_path):
    (tmp_path / BANK_FILE).write_bytes(b"not safetensors")
    with pytest.raises(UserInputError, match="not a readable reference bank"):
        load_bank(tmp_path)


def test_the_rarest_shared_words_win_and_equals_go_to_the_first():
    entries = bank()
    assert entries.retrieve("footsteps in the snow", None).caption == "footsteps on gravel"
    assert entries.retrieve("Slam the DOOR!", None).caption == "a wooden door slam"
    # "wooden door" is in two captions equally: the first in bank order, whatever else is asked.
    assert entries.retrieve("wooden door", None).caption == "a wooden door creak"
    assert entries.retrieve("footsteps in the snow", None).how == "words"


def test_stop_words_never_match_and_word_endings_are_cut():
    from foleystudio.engine.reference_bank import caption_words

    assert caption_words("Footsteps on a wooden floor, closing boxes") == ["footstep", "wood", "floor", "clos", "box"]
    entries = ReferenceBank([torch.zeros(64, 3)] * 3, ["a hit on a wooden shield", "footsteps on wood", "glass"],
                            ["impacts/hits", "footsteps", "impacts/hits"])
    assert entries.retrieve("footsteps on a wooden floor", None).caption == "footsteps on wood"
    assert entries.retrieve("on the of a", "impacts/hits").how == "category"


def test_with_no_shared_word_the_text_heads_category_decides_and_else_nothing():
    entries = bank()
    found = entries.retrieve("a howling wolf", "animals")
    assert (found.caption, found.how) == ("a dog barking", "category")
    assert entries.retrieve("a howling wolf", None) is None
    assert entries.retrieve("a howling wolf", "vehicles/engines") is None


def test_a_bank_needs_matching_entries():
    with pytest.raises(ValueError, match="one caption"):
        ReferenceBank([torch.zeros(64, 3)], ["a", "b"], ["x"])
    with pytest.raises(ValueError, match="same channels"):
        ReferenceBank([torch.zeros(64, 3), torch.zeros(32, 3)], ["a", "b"], ["x", "y"])


def _bank_engine(trained=("text", "audio")):
    generator = dataclasses.replace(TINY.generator, conditioners=dataclasses.replace(TINY_CONDITIONERS,
                                                                                       ref_reads_latent=True))
    engine = build_engine(dataclasses.replace(TINY, generator=generator.with_trained_prompts(trained)))
    engine.reference_bank = bank(engine.codec.latent_channels)
    return engine


def test_a_text_prompt_takes_the_banks_sound_as_its_reference():
    engine = _bank_engine()
    request = GenerationRequest(duration_s=1.0, off_screen_prompt="gravel footsteps")
    inputs = condition_inputs(engine, request)
    torch.testing.assert_close(inputs.reference_latent, engine.reference_bank.latent(2))
    assert inputs.present == frozenset({"text", "audio"})


def test_the_bank_stays_out_when_the_user_gives_a_reference_or_the_model_was_not_taught_one(tmp_path):
    engine = _bank_engine()
    own = make_audio(tmp_path / "ref.wav", seconds=1.0, rate=44100)
    with_own = GenerationRequest(duration_s=1.0, on_screen_prompt="footsteps", reference_audio=own)
    assert retrieved_reference(engine, with_own) is None
    inputs = condition_inputs(engine, with_own)
    expected = engine.codec.encode(torch.from_numpy(_read(own))[None])[0]
    torch.testing.assert_close(inputs.reference_latent, expected)
    assert retrieved_reference(engine, GenerationRequest(duration_s=1.0)) is None  # no text
    untaught = _bank_engine(trained=("text",))
    assert retrieved_reference(untaught, GenerationRequest(duration_s=1.0, on_screen_prompt="footsteps")) is None


def _read(path):
    from foleystudio.audio.io import read_audio

    audio, _ = read_audio(path, sample_rate=44100, channels=2, duration_s=None)
    return audio


def test_a_saved_model_keeps_its_bank(tmp_path):
    engine = _bank_engine()
    folder = save_engine(engine, tmp_path / "model", "card")
    loaded = load_engine(folder, "cpu")
    assert loaded.reference_bank.captions == tuple(CAPTIONS)
    assert load_engine(save_engine(build_engine(TINY), tmp_path / "plain", "card"), "cpu").reference_bank is None


def test_a_take_says_which_bank_sound_it_was_made_with():
    from foleystudio.engine.pipeline import generate, run_to_end

    engine = _bank_engine()
    take = run_to_end(generate(engine, GenerationRequest(duration_s=0.5, on_screen_prompt="rain, heavy", steps=2)))[0]
    assert take.bank_reference == "heavy rain" and take.parameters()["bank_reference"] == "heavy rain"
    plain = run_to_end(generate(build_engine(TINY), GenerationRequest(duration_s=0.5, on_screen_prompt="rain",
                                                                      steps=2)))[0]
    assert plain.bank_reference is None and plain.parameters()["bank_reference"] is None


def test_with_a_bank_variation_i_is_still_remade_alone_by_seed_plus_i():
    from foleystudio.engine.pipeline import generate, run_to_end

    engine = _bank_engine()
    request = GenerationRequest(duration_s=0.5, on_screen_prompt="a wooden door", steps=2, seed=7, variations=2)
    together = run_to_end(generate(engine, request))
    alone = run_to_end(generate(engine, GenerationRequest(duration_s=0.5, on_screen_prompt="a wooden door", steps=2,
                                                          seed=8)))[0]
    assert together[1].bank_reference == alone.bank_reference == "a wooden door creak"
    np.testing.assert_allclose(together[1].audio, alone.audio, atol=1e-5)


def test_a_request_reads_its_prompt_once_however_many_variations(monkeypatch):
    from foleystudio.engine.pipeline import generate, run_to_end

    engine = _bank_engine()
    reads, retrievals = [], []
    text_category, retrieve = engine.generator.text_category, engine.reference_bank.retrieve
    monkeypatch.setattr(engine.generator, "text_category", lambda ids: reads.append(ids) or text_category(ids))
    monkeypatch.setattr(engine.reference_bank, "retrieve", lambda *a: retrievals.append(a) or retrieve(*a))
    request = GenerationRequest(duration_s=0.5, on_screen_prompt="rain, heavy", steps=2, variations=3)
    takes = run_to_end(generate(engine, request))
    assert len(reads) == 1 and len(retrievals) == 1
    assert [take.bank_reference for take in takes] == ["heavy rain"] * 3


def _variants(channels: int = 64) -> ReferenceBank:
    """Two more recordings of "footsteps on gravel" and one of "heavy rain"."""
    generator = torch.Generator().manual_seed(1)
    latents = [torch.rand(channels, 4 + index, generator=generator) for index in range(3)]
    return ReferenceBank(latents, ["footsteps on gravel", "heavy rain", "footsteps on gravel"],
                         ["footsteps", "water/rain", "footsteps"])


def test_an_entry_brings_its_variants_and_retrieval_never_sees_them():
    entries = bank().with_variants(_variants())
    gravel = entries.sounds(2)
    assert len(gravel) == 3
    torch.testing.assert_close(gravel[0], entries.latent(2))
    torch.testing.assert_close(gravel[1], entries.variants.latent(0))
    torch.testing.assert_close(gravel[2], entries.variants.latent(2))
    assert len(entries.sounds(0)) == 1  # no variants of the door creak
    assert len(entries) == len(CAPTIONS)
    assert entries.retrieve("footsteps in the snow", None).index == 2


def test_variants_of_unknown_captions_or_another_latent_are_refused():
    with pytest.raises(UserInputError, match="captions the bank does not have"):
        bank().with_variants(ReferenceBank([torch.zeros(64, 3)], ["a cat"], ["animals"]))
    with pytest.raises(UserInputError, match="latent channels"):
        bank().with_variants(_variants(channels=32))


def test_a_saved_model_keeps_its_banks_variants(tmp_path):
    from foleystudio.engine.reference_bank import VARIANTS_FILE, bank_files

    engine = _bank_engine()
    engine.reference_bank.with_variants(_variants(engine.codec.latent_channels))
    folder = save_engine(engine, tmp_path / "model", "card")
    assert (folder / VARIANTS_FILE).is_file()
    loaded = load_engine(folder, "cpu").reference_bank
    assert len(loaded.sounds(2)) == 3 and loaded.variants.captions == engine.reference_bank.variants.captions
    assert set(bank_files(bank())) == {BANK_FILE}  # no variants: no variants file
