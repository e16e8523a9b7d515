"""Caption derivation rules: each rule on its own, and their order of trust."""

import json

import numpy as np
import soundfile as sf

from foleystudio.audio.wav import BextInfo, write_wav
from foleystudio.training.captions import (
    caption_from_words,
    derive_caption,
    split_words,
    ucs_caption,
)
from foleystudio.training.ucs import UCS_CATEGORIES, lookup, parse_ucs_name

AUDIO = np.full((1, 2205), 0.1, np.float32)


def _wav(path, description=None):
    bext = BextInfo(description=description) if description is not None else None
    write_wav(path, AUDIO, 44100, bext=bext)
    return path


def test_ucs_table_is_large_and_case_insensitive():
    assert len(UCS_CATEGORIES) >= 150
    assert lookup("DOORWood") == ("DOORS", "WOOD")
    assert lookup("doorwood") == lookup("DOORWOOD") == ("DOORS", "WOOD")
    assert lookup("WATRSplsh") == ("WATER", "SPLASH")
    assert lookup("NOPE") is None


def test_ucs_name_parsing():
    name = parse_ucs_name("DOORWood_Creaky Door Open_JD_Show")
    assert (name.cat_id, name.fx_name, name.creator_id, name.source_id) == ("DOORWood", "Creaky Door Open", "JD", "Show")
    assert parse_ucs_name("footsteps_gravel") is None  # not a CatID
    assert parse_ucs_name("DOORWood") is None  # no FXName
    # An unknown sub-category of a known prefix keeps the category.
    assert parse_ucs_name("DOORBanana_Odd door_JD").category == "DOORS"
    assert parse_ucs_name("METLImpt-Custom_Pipe hit_AB_Lib").user_category == "Custom"
    assert ucs_caption("WATRSplsh_Big splash_AB_Pool") == ("Big splash (water, splash)", "WATER-SPLASH", "Pool")


def test_words_split_camel_case_digits_and_jargon():
    assert split_words("GlassBreak_SFX_final_v2_03") == ["glass", "break"]
    assert caption_from_words("Foley/Doors/door_creak_01.wav") == "door creak, doors foley"
    assert caption_from_words("Große Tür/knarrt.wav") == "knarrt, große tür"
    assert caption_from_words("001.wav") == "sound effect"


def test_sidecar_txt_wins_over_everything(tmp_path):
    path = _wav(tmp_path / "DOORWood_Creaky Door Open_JD_Show.wav", description="bext text")
    (tmp_path / "DOORWood_Creaky Door Open_JD_Show.txt").write_text("  old barn door\n creaks slowly ")
    text = derive_caption(path, path.name)
    assert text.triple == ("old barn door creaks slowly", "sidecar", "DOORS-WOOD")


def test_sidecar_json_fields(tmp_path):
    path = _wav(tmp_path / "hit.wav")
    (tmp_path / "hit.wav.json").write_text(json.dumps({
        "Description": "metal pipe hit", "license": "CC-BY-4.0", "author": "Ana", "package": "pipes", "category": "metal",
    }))
    text = derive_caption(path, path.name)
    assert (text.caption, text.caption_source, text.category) == ("metal pipe hit", "sidecar", "metal")
    assert (text.licence, text.credit, text.source) == ("CC-BY-4.0", "Ana", "pipes")


def test_json_without_caption_keeps_licence_and_falls_through(tmp_path):
    path = _wav(tmp_path / "thunder_far.wav", description="distant thunder roll")
    (tmp_path / "thunder_far.json").write_text(json.dumps({"licence": "CC0"}))
    (tmp_path / "broken.json").write_text("{not json")
    text = derive_caption(path, path.name)
    assert (text.caption, text.caption_source, text.licence) == ("distant thunder roll", "metadata", "CC0")


def test_bext_description_beats_ucs_name(tmp_path):
    path = _wav(tmp_path / "DOORWood_Creaky Door Open_JD_Show.wav", description="door slam in hallway")
    assert derive_caption(path, path.name).triple == ("door slam in hallway", "metadata", "DOORS-WOOD")


def test_empty_bext_description_falls_to_ucs(tmp_path):
    path = _wav(tmp_path / "DOORWood_Creaky Door Open_JD_Show.wav", description="")
    assert derive_caption(path, path.name).caption_source == "ucs"


def test_vorbis_comments(tmp_path):
    path = tmp_path / "track.ogg"
    with sf.SoundFile(str(path), "w", 44100, 1, format="OGG") as file:
        file.title = "Rain on a tin roof"
        file.artist = "Jo Field"
        file.copyright = "CC-BY-4.0"
        file.write(AUDIO[0])
    with sf.SoundFile(str(path)) as file:
        tags = file.copy_metadata()
    text = derive_caption(path, path.name, tags=tags)
    assert (text.caption, text.caption_source, text.licence, text.credit) == ("Rain on a tin roof", "metadata", "CC-BY-4.0", "Jo Field")


def test_title_repeating_the_file_name_is_ignored(tmp_path):
    path = _wav(tmp_path / "glass_break_03.wav")
    text = derive_caption(path, "Kitchen/glass_break_03.wav", tags={"title": "Glass Break 03"})
    assert text.triple == ("glass break, kitchen", "words", "")


def test_ixml_note_is_metadata(tmp_path):
    path = _wav(tmp_path / "take.wav")
    data = path.read_bytes()
    xml = b"<BWFXML><NOTE>footsteps on gravel</NOTE></BWFXML>"
    chunk = b"iXML" + len(xml).to_bytes(4, "little") + xml + b"\x00" * (len(xml) % 2)
    body = data[12:]
    fmt_end = 8 + int.from_bytes(body[4:8], "little")  # after the fmt chunk, before data
    new = b"WAVE" + body[:fmt_end] + chunk + body[fmt_end:]
    path.write_bytes(b"RIFF" + len(new).to_bytes(4, "little") + new)
    assert sf.info(str(path)).frames == AUDIO.shape[1]
    assert derive_caption(path, path.name).triple == ("footsteps on gravel", "metadata", "")
