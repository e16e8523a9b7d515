"""Manifest labels -> natural captions."""

import csv

import pytest

from foleystudio.training import open_corpus
from foleystudio.training.label_captions import caption_for, clean_words, with_article


@pytest.mark.parametrize(("label", "context", "categories", "caption"), [
    ("arrow metal", "impact", "impacts/hits,weapons", "an arrow hitting metal"),
    ("sling wood", "impact", "impacts/hits,weapons", "a sling stone hitting wood"),
    ("shield wood", "impact", "impacts/hits,weapons", "a hit on a wooden shield"),
    ("camel", "animal", "animals", "a camel"),
    ("footstep", "grass", "footsteps", "footsteps on grass"),
    ("fs snow", "singlesteps", "footsteps,wind/weather", "footsteps in snow"),
    ("explosion", "", "explosions", "an explosion"),
    ("explosion tiny", "", "explosions", "a tiny explosion"),
    ("male death", "death", "human non-verbal", "a man's death cry"),
    ("swordman die", "swordman", "weapons,human non-verbal", "a swordman dying"),
    ("pain", "player", "human non-verbal", "a grunt of pain"),
    ("gather meat", "gathering", "machines/tools/household", "gathering meat"),
    ("mine stone", "mining", "impacts/hits", "mining stone"),
    ("con saw", "construction", "machines/tools/household", "building with a saw"),
    ("bonus", "sprites", "UI/beeps/notifications", "a bonus beep"),
    ("coins", "heroes", "UI/beeps/notifications", "coins"),
    ("", "fire", "fire,weapons", "fire"),
    ("", "", "animals", "an animal sound"),
    ("", "", "", "a sound effect"),
    ("dream", "heroes", "", "a dream sound"),
    ("amb_forest", "", "ambience", "ambience in a forest"),
    ("Unit_Attack_03", "", "weapons", "a unit attack"),
    ("hour", "", "", "an hour sound"),
])
def test_captions(label, context, categories, caption):
    assert caption_for(label, context, categories) == caption


def test_clean_words_drops_digits_jargon_and_spells_out_abbreviations():
    assert clean_words("teefault_pain_short02") == ["pain", "short"]
    assert clean_words("wp-gun.fire") == ["weapon", "gun", "fire"]
    assert clean_words("camelCaseName") == ["camel", "case", "name"]
    assert with_article("apple") == "an apple" and with_article("birds") == "birds"
    assert with_article("sling") == "a sling" and with_article("falling") == "falling"


def test_every_manifest_row_gets_a_lower_case_caption():
    if not open_corpus.DEFAULT_MANIFEST.exists():
        pytest.skip("shared corpus manifest not present")
    with open(open_corpus.DEFAULT_MANIFEST, newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    captions = [caption_for(row["label"], row["context"], row["categories"]) for row in rows]
    assert all(caption and caption == caption.lower() and caption == caption.strip() for caption in captions)
    assert not any("_" in caption or any(ch.isdigit() for ch in caption) for caption in captions)
    assert len(set(captions)) > 1000  # the rules keep labels apart rather than collapsing them
