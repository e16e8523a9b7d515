"""One caption per library clip, from the most trusted text the clip comes with.

Order of trust (the first rule that yields text wins; ``caption_source`` records which):

1. ``sidecar``: a text file beside the clip, written by a person or by the open-corpus builder.
   ``NAME.txt`` (the whole text is the caption) or ``NAME.json`` (keys ``caption`` or
   ``description``; ``licence``/``license``, ``credit``/``author``/``artist``, ``source``/``package``
   and ``category`` are kept too). ``NAME`` is the clip's stem or its full name (``door.wav.json``).
   JSON wins over TXT because it also carries licence and credit.
2. ``metadata``: text embedded in the file: the Broadcast WAV ``bext`` description, an iXML
   ``NOTE``, then Vorbis/ID3/INFO ``comment``/``description``, then ``title``. A title that only
   repeats the file name is ignored: many tools fill it in that way, and rule 4 does that better.
3. ``ucs``: a Universal Category System file name (``CatID_FXName_CreatorID_SourceID``): the FXName,
   with the category spelled out, e.g. "Creaky Door Open (doors, wood)".
4. ``words``: words of the file name, then of its folders, with camelCase and underscores split,
   digits dropped and library jargon removed ("sfx", "final", "v2", ...).

Licence and credit come from the sidecar or, failing that, the embedded copyright / artist tags;
both may stay "" (unknown). Reading tags needs the file open, which the indexer does anyway while
probing, so it passes the tags in (``tags``) rather than this module opening the file twice.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from foleystudio.errors import MediaError
from foleystudio.training.ucs import parse_ucs_name

logger = logging.getLogger(__name__)

CAPTION_SOURCES = ("sidecar", "metadata", "ucs", "words")
SIDECAR_SUFFIXES = (".json", ".txt")
# Captions longer than this are cut at a word boundary: text encoders truncate anyway, and a
# sidecar holding a whole licence text should not become a caption of thousands of words.
MAX_CAPTION_CHARS = 400
# Sidecars are small; anything bigger is not a caption file.
MAX_SIDECAR_BYTES = 64 * 1024
FALLBACK_CAPTION = "sound effect"

# Library jargon that says nothing about the sound.
STOP_WORDS = frozenset(
    """sfx fx final finals v ver version take tk mix edit edited master mastered copy new old
    untitled audio wav wave mp flac ogg aif aiff stereo mono st ms lr khz hz bit bits alt var
    orig original rev bounce bounced export exported render rendered print stem stems file files
    clip clips sample samples library lib misc tmp temp test demo the of and wip""".split()
)
_WAV_SUFFIXES = {".wav", ".wave", ".bwf"}
_IXML_TEXT = re.compile(r"<(NOTE|DESCRIPTION)>\s*(.*?)\s*</\1>", re.IGNORECASE | re.DOTALL)
_IXML_SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class ClipText:
    """What the text around a clip says about it; licence/credit/source are "" when unknown."""

    caption: str
    caption_source: str  # one of CAPTION_SOURCES
    category: str = ""
    licence: str = ""
    credit: str = ""
    source: str = ""

    @property
    def triple(self) -> tuple[str, str, str]:
        """(caption, caption_source, category)."""
        return self.caption, self.caption_source, self.category


# --- text helpers -----------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Whitespace collapsed, control characters dropped, cut to MAX_CAPTION_CHARS at a word."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > MAX_CAPTION_CHARS:
        text = text[:MAX_CAPTION_CHARS].rsplit(" ", 1)[0]
    return text


def split_words(text: str) -> list[str]:
    """Lower-case words of a name: camelCase and separators split, digits and jargon dropped."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text)
    words = [word.lower() for word in re.findall(r"[^\W\d_]+", text)]
    return [word for word in words if len(word) > 1 and word not in STOP_WORDS]


def _unique(words: list[str], seen: set[str]) -> list[str]:
    kept = []
    for word in words:
        if word not in seen:
            seen.add(word)
            kept.append(word)
    return kept


def caption_from_words(relative_path: str | PurePosixPath) -> str:
    """A caption from the file name's words, then the folders' (nearest first) not yet said.

    "Foley/Doors/door_creak_01.wav" -> "door creak, doors foley".
    """
    relative_path = PurePosixPath(relative_path)
    seen: set[str] = set()
    name_words = _unique(split_words(relative_path.stem), seen)
    folder_words: list[str] = []
    for folder in reversed(relative_path.parts[:-1]):
        folder_words += _unique(split_words(folder), seen)
    if name_words and folder_words:
        return f"{' '.join(name_words)}, {' '.join(folder_words)}"
    return " ".join(name_words or folder_words) or FALLBACK_CAPTION


def ucs_caption(stem: str) -> tuple[str, str, str] | None:
    """(caption, category, SourceID) of a UCS file name, or None if it is not one."""
    name = parse_ucs_name(stem)
    if name is None:
        return None
    fx_name = clean_text(name.fx_name.replace("-", " "))
    spelled = ", ".join(part.lower() for part in (name.category, name.subcategory) if part and part != "MISC")
    caption = f"{fx_name} ({spelled})" if fx_name and spelled else fx_name or spelled
    return caption, name.label, name.source_id


# --- sidecars ---------------------------------------------------------------------------------


def sidecar_names(audio_name: str) -> tuple[str, ...]:
    """File names a sidecar of ``audio_name`` may have, most trusted first."""
    stem = audio_name.rsplit(".", 1)[0] if "." in audio_name else audio_name
    return tuple(base + suffix for suffix in SIDECAR_SUFFIXES for base in (stem, audio_name))


def find_sidecars(audio_path: Path, names_in_folder: set[str] | None = None) -> list[Path]:
    """The sidecars that exist beside ``audio_path`` (``names_in_folder`` saves the stat calls)."""
    found = []
    for name in sidecar_names(audio_path.name):
        candidate = audio_path.with_name(name)
        exists = name in names_in_folder if names_in_folder is not None else candidate.is_file()
        if exists:
            found.append(candidate)
    return found


def _first(mapping: dict, *keys: str) -> str:
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, (str, int, float)) and str(value).strip():
            return clean_text(str(value))
    return ""


def read_sidecar(path: Path) -> dict[str, str]:
    """A sidecar's fields (caption, licence, credit, source, category); {} if unreadable."""
    try:
        if path.stat().st_size > MAX_SIDECAR_BYTES:
            logger.warning("%s: sidecar larger than %d bytes, ignored", path, MAX_SIDECAR_BYTES)
            return {}
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as error:
        logger.warning("%s: sidecar cannot be read (%s)", path, error)
        return {}
    if path.suffix.lower() == ".txt":
        return {"caption": clean_text(text)}
    try:
        data = json.loads(text)
    except ValueError as error:
        logger.warning("%s: sidecar is not valid JSON (%s), ignored", path, error)
        return {}
    if not isinstance(data, dict):
        return {}
    data = {str(key).lower(): value for key, value in data.items()}
    return {
        "caption": _first(data, "caption", "description", "desc"),
        "licence": _first(data, "licence", "license"),
        "credit": _first(data, "credit", "author", "artist", "creator"),
        "source": _first(data, "source", "package"),
        "category": _first(data, "category"),
    }


def sidecar_fields(sidecars: list[Path]) -> dict[str, str]:
    """The fields of all sidecars merged; the first (most trusted) sidecar's value wins."""
    merged: dict[str, str] = {}
    for path in sidecars:
        for key, value in read_sidecar(path).items():
            if value and not merged.get(key):
                merged[key] = value
    return merged


# --- embedded metadata ------------------------------------------------------------------------


def _read_ixml_note(path: Path) -> str:
    """The NOTE/DESCRIPTION of a WAV's iXML chunk, or "" (looks at the first MiB only)."""
    try:
        with open(path, "rb") as file:
            head = file.read(12)
            if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
                return ""
            offset = 12
            while offset < _IXML_SCAN_BYTES:
                file.seek(offset)
                header = file.read(8)
                if len(header) < 8:
                    return ""
                chunk_id, size = struct.unpack("<4sI", header)
                if chunk_id == b"data":
                    return ""  # iXML after the samples is rare; not worth reading a large file for
                if chunk_id == b"iXML":
                    xml = file.read(min(size, MAX_SIDECAR_BYTES)).decode("utf-8", "replace")
                    match = _IXML_TEXT.search(xml)
                    return clean_text(match.group(2)) if match else ""
                offset += 8 + size + size % 2
    except OSError:
        return ""
    return ""


def embedded_fields(path: Path, tags: dict[str, str] | None = None) -> dict[str, str]:
    """Caption, licence and credit from a file's own metadata; ``tags`` are its lower-case tags."""
    tags = {key.lower(): value for key, value in (tags or {}).items()}
    descriptions = []
    if path.suffix.lower() in _WAV_SUFFIXES:
        from foleystudio.audio.wav import read_bext

        try:
            bext = read_bext(path)
        except MediaError:
            bext = None
        if bext is not None:
            descriptions.append(bext.description)
        descriptions.append(_read_ixml_note(path))
    descriptions.append(_first(tags, "comment", "description", "comments", "subject"))
    stem_words = split_words(path.stem)
    title = _first(tags, "title")
    if title and split_words(title) != stem_words:
        descriptions.append(title)
    caption = next((clean_text(text) for text in descriptions if clean_text(text)), "")
    return {
        "caption": caption,
        "licence": _first(tags, "license", "licence", "copyright"),
        "credit": _first(tags, "artist", "author", "creator"),
    }


# --- all rules together ----------------------------------------------------------------------


def derive_caption(
    path: Path,
    relative_path: str | PurePosixPath,
    *,
    tags: dict[str, str] | None = None,
    sidecars: list[Path] | None = None,
) -> ClipText:
    """The caption of the clip at ``path`` by the rules in the module docstring.

    ``relative_path`` is the clip's path inside the library (its folders give rule 4 its words);
    ``sidecars`` the sidecar files found beside it (None: look for them now).
    """
    relative_path = PurePosixPath(relative_path)
    side = sidecar_fields(find_sidecars(path) if sidecars is None else sidecars)
    embedded = embedded_fields(path, tags) if not side.get("caption") else {}
    licence = side.get("licence") or embedded.get("licence", "")
    credit = side.get("credit") or embedded.get("credit", "")
    ucs = ucs_caption(relative_path.stem)
    category = side.get("category") or (ucs[1] if ucs else "")
    common = {"licence": licence, "credit": credit, "source": side.get("source", "")}
    if side.get("caption"):
        return ClipText(side["caption"], "sidecar", category, **common)
    if embedded["caption"]:
        return ClipText(embedded["caption"], "metadata", category, **common)
    if ucs:
        return ClipText(ucs[0], "ucs", category, **common)
    return ClipText(caption_from_words(relative_path), "words", category, **common)
