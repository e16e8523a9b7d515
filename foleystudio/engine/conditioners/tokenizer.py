"""A word-level tokenizer trained from our captions, with hashed ids for words it never saw.

Ids: 0 = padding, 1 = unknown (only for text that yields no word at all, never for a real word),
then ``hash_buckets`` ids for unseen words (a stable hash of the word, so "albatross" gets the same
id on every machine and every run), then the vocabulary words, most frequent first. The id space
has a fixed size (``vocab_size``), so the text embedding table does not change shape when the
vocabulary is retrained with more or fewer words.

Text is lower-cased and NFKC-normalised; a token is a run of letters/digits (with inner
apostrophes, "don't") or a single punctuation mark, which keeps the caption form
"on screen: ...; off screen: ..." visible to the model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

PAD_ID = 0
UNKNOWN_ID = 1
_SPECIAL_COUNT = 2
FORMAT = "foleystudio-word-tokenizer"
FORMAT_VERSION = 1
_TOKEN_PATTERN = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


def split_words(text: str) -> list[str]:
    """The tokens of ``text``: lower-case words and single punctuation marks."""
    normalised = unicodedata.normalize("NFKC", text).lower()
    return _TOKEN_PATTERN.findall(normalised)


def _stable_hash(word: str) -> int:
    # Python's hash() is salted per process; a digest is the same everywhere.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


class WordTokenizer:
    """Lower-cased word vocabulary plus hash buckets; deterministic, saved as JSON."""

    def __init__(self, words: Iterable[str] = (), vocab_size: int = 8192, hash_buckets: int = 1024) -> None:
        if hash_buckets < 1 or vocab_size < _SPECIAL_COUNT + hash_buckets:
            raise ValueError(f"vocab_size {vocab_size} leaves no room for {hash_buckets} hash buckets")
        self.vocab_size = int(vocab_size)
        self.hash_buckets = int(hash_buckets)
        self.words: tuple[str, ...] = tuple(words)
        if len(set(self.words)) != len(self.words):
            raise ValueError("tokenizer words must be distinct")
        room = self.vocab_size - _SPECIAL_COUNT - self.hash_buckets
        if len(self.words) > room:
            raise ValueError(f"{len(self.words)} words do not fit in a vocabulary of {self.vocab_size}")
        first = _SPECIAL_COUNT + self.hash_buckets
        self._ids = {word: first + index for index, word in enumerate(self.words)}

    @classmethod
    def train(
        cls, captions: Iterable[str], vocab_size: int = 8192, hash_buckets: int = 1024, min_count: int = 1
    ) -> WordTokenizer:
        """Keep the most frequent words of ``captions`` (ties alphabetical) that fit the id space."""
        counts = Counter(word for caption in captions for word in split_words(caption))
        ranked = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda item: (-item[1], item[0]))
        room = max(0, vocab_size - _SPECIAL_COUNT - hash_buckets)
        kept = [word for word, _ in ranked[:room]]
        logger.info("tokenizer: %d distinct words, %d kept, %d hashed", len(counts), len(kept), len(ranked) - len(kept))
        return cls(kept, vocab_size, hash_buckets)

    def word_id(self, word: str) -> int:
        known = self._ids.get(word)
        if known is not None:
            return known
        return _SPECIAL_COUNT + _stable_hash(word) % self.hash_buckets

    def encode(self, text: str, max_tokens: int | None = None) -> list[int]:
        """Token ids of ``text`` (no padding); truncated to ``max_tokens``. Empty text -> []."""
        ids = [self.word_id(word) for word in split_words(text)]
        return ids if max_tokens is None else ids[:max_tokens]

    def is_known(self, word: str) -> bool:
        return word in self._ids

    # ---- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": FORMAT_VERSION, "vocab_size": self.vocab_size,
                "hash_buckets": self.hash_buckets, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data, source: str = "tokenizer") -> WordTokenizer:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserInputError(f"{source}: not a FoleyStudio tokenizer")
        if data.get("version") != FORMAT_VERSION:
            raise UserInputError(f"{source}: tokenizer version {data.get('version')!r} is not supported")
        words = data.get("words")
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise UserInputError(f"{source}: tokenizer words must be a list of strings")
        try:
            return cls(words, int(data["vocab_size"]), int(data["hash_buckets"]))
        except (KeyError, TypeError, ValueError) as error:
            raise UserInputError(f"{source}: bad tokenizer ({error})") from None

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserInputError(f"{path}: no such tokenizer file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserInputError(f"{path}: not a readable tokenizer JSON ({error})") from None
        return cls.from_dict(data, source=str(path))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WordTokenizer):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash((self.vocab_size, self.hash_buckets, self.words))
