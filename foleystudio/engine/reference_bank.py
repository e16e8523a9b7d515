"""A model's reference bank: short latents of its training sounds, one per training caption, that a
text prompt retrieves as the take's reference sound.

Why: a generator trained on captions from file names learns little from the words themselves (the
curve and the picture explain most of a clip, MODEL_CARD.md of foley-small), but a reference sound
tells it what the sound is, and it learns to use one quickly. So a model that was trained with
references and ships a bank turns a prompt into a reference: the bank caption that shares the most
(rare) words with the prompt, or, when no word is shared, one of the captions of the sound category
the model's text head reads the prompt as. Ties go to the first entry in bank order, never to the
seed: variation i of a request is seed + i, and remaking it alone from that seed must fetch the same
sound. A reference sound the user gives always wins over the bank.

Stored as ``reference_bank.safetensors`` in the model folder: the latents quantised to uint8
(``STEP`` latent units, 0.75 dB for the analytic codec's 30 dB unit, from ``LOWEST``), frame
offsets, and the captions and categories as JSON metadata.

A bank may have *variants*: more training clips of its captions (``reference_variants.safetensors``,
the same format), so that a take that keeps its reference's sound (`reference_layout`) can use a
different recording for each event, as a Foley editor cuts a different footstep for each step
rather than one step again and again. Retrieval never looks at them: an entry stays the sound a
prompt finds, and its variants come with it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

BANK_FILE = "reference_bank.safetensors"
VARIANTS_FILE = "reference_variants.safetensors"
FORMAT = "foleystudio-reference-bank-1"
LOWEST = -5.0 / 3.0  # the analytic codec's floor: -100 dB in its (dB + 50) / 30 units
STEP = 1.0 / 40.0
COMMON = 0.1
_WORD = re.compile(r"[a-z0-9]+")


# Words that never say what a sound is; with them, "footsteps on a wooden floor" matched "a hit on
# a wooden shield" before "footsteps on wood".
_STOP_WORDS = frozenset("a an the on in of with at to from by and or for into onto through over under "
                        "off screen some its it is are".split())
_SUFFIXES = ("ing", "ed", "en", "es", "s")


def caption_words(text: str) -> list[str]:
    """The telling words of a caption or prompt: lower case, stop words dropped, a plural or verb
    ending cut (so "wooden" meets "wood", "closing" meets "closed")."""
    return [_stem(word) for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS]


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class Retrieval:
    index: int
    caption: str
    how: str  # "words" (shared words) or "category" (the text head's category)


class ReferenceBank:
    """Latents [C, frames] with a caption and a category each, and maybe variants (`with_variants`)."""

    def __init__(self, latents: Sequence[torch.Tensor], captions: Sequence[str], categories: Sequence[str]) -> None:
        if not latents or not len(latents) == len(captions) == len(categories):
            raise ValueError("a reference bank needs one caption and one category per latent, and at least one latent")
        channels = {latent.shape[0] for latent in latents}
        if len(channels) != 1 or any(latent.ndim != 2 or latent.shape[1] < 1 for latent in latents):
            raise ValueError("reference bank latents must all be [channels, frames] with the same channels")
        self.latents = [_quantised(latent) for latent in latents]
        self.captions = tuple(captions)
        self.categories = tuple(categories)
        self._words = [Counter(caption_words(caption)) for caption in self.captions]
        documents = Counter(word for words in self._words for word in words)
        # Words in more than COMMON of the captions ("a", "the", "of") say nothing about the sound
        # (a word in two captions is never common: a tiny bank would have no words left).
        total = len(self._words)
        self._idf = {word: math.log((1 + total) / (1 + count)) if count <= max(COMMON * total, 2) else 0.0
                     for word, count in documents.items()}
        self._norms = [self._norm(words) for words in self._words]
        self.variants: ReferenceBank | None = None
        self._variant_indices: dict[str, list[int]] = {}

    def with_variants(self, variants: ReferenceBank) -> ReferenceBank:
        """This bank with ``variants`` (more recordings of its captions) attached; returns self.
        Variants of another latent size or of captions the bank lacks are a `UserInputError`."""
        if variants.channels != self.channels:
            raise UserInputError(f"reference variants have {variants.channels} latent channels, the bank {self.channels}")
        unknown = sorted(set(variants.captions) - set(self.captions))
        if unknown:
            raise UserInputError(f"reference variants of captions the bank does not have: {unknown[:3]}")
        self.variants = variants
        self._variant_indices = {}
        for index, caption in enumerate(variants.captions):
            self._variant_indices.setdefault(caption, []).append(index)
        return self

    def sounds(self, index: int) -> list[torch.Tensor]:
        """Entry ``index``'s latent and then its variants' (float32 [C, frames] each)."""
        extra = self._variant_indices.get(self.captions[index], [])
        return [self.latent(index)] + [self.variants.latent(variant) for variant in extra]

    def __len__(self) -> int:
        return len(self.latents)

    @property
    def channels(self) -> int:
        return self.latents[0].shape[0]

    def latent(self, index: int) -> torch.Tensor:
        """Entry ``index``'s latent [C, frames], float32."""
        return self.latents[index].float() * STEP + LOWEST

    def retrieve(self, prompt: str, category: str | None) -> Retrieval | None:
        """The entry for ``prompt``: the best TF-IDF cosine over words; with no shared word, the first
        entry of ``category``; None when neither finds one. Equals go to the first in bank order."""
        scores = self._scores(Counter(caption_words(prompt)))
        best = max(scores, default=0.0)
        if best > 0.0:
            index = next(index for index, score in enumerate(scores) if score >= best - 1e-9)
            return Retrieval(index, self.captions[index], "words")
        index = next((index for index, name in enumerate(self.categories) if category and name == category), None)
        return None if index is None else Retrieval(index, self.captions[index], "category")

    def _norm(self, words: Counter) -> float:
        return math.sqrt(sum((count * self._idf.get(word, 0.0)) ** 2 for word, count in words.items()))

    def _scores(self, prompt: Counter) -> list[float]:
        norm = self._norm(prompt)
        if norm == 0.0:
            return [0.0] * len(self)
        weights = {word: count * self._idf.get(word, 0.0) ** 2 for word, count in prompt.items()}
        return [sum(weights.get(word, 0.0) * count for word, count in words.items()) / (norm * entry_norm or 1.0)
                for words, entry_norm in zip(self._words, self._norms, strict=True)]

    # ---- file ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        lengths = torch.tensor([latent.shape[1] for latent in self.latents], dtype=torch.int64)
        tensors = {"codes": torch.cat([latent.transpose(0, 1) for latent in self.latents]).contiguous(),
                   "lengths": lengths}
        metadata = {"format": FORMAT, "captions": json.dumps(self.captions), "categories": json.dumps(self.categories)}
        return save(tensors, metadata=metadata)

    @classmethod
    def from_file(cls, path: str | Path) -> ReferenceBank:
        """Load ``path``; a file that is not a reference bank is a `UserInputError`."""
        path = Path(path)
        try:
            with safe_open(path, framework="pt") as stored:
                metadata = stored.metadata() or {}
                tensors = {name: stored.get_tensor(name) for name in stored.keys()}
            if metadata.get("format") != FORMAT:
                raise ValueError(f"format {metadata.get('format')!r}")
            captions, categories = json.loads(metadata["captions"]), json.loads(metadata["categories"])
            codes, lengths = tensors["codes"], tensors["lengths"].tolist()
            if codes.dtype != torch.uint8 or sum(lengths) != codes.shape[0]:
                raise ValueError("codes do not match their lengths")
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as error:
            raise UserInputError(f"{path}: not a readable reference bank ({error})") from None
        latents = [piece.transpose(0, 1).contiguous() for piece in torch.split(codes, lengths)]
        return cls(latents, captions, categories)


def _quantised(latent: torch.Tensor) -> torch.Tensor:
    if latent.dtype == torch.uint8:
        return latent
    return ((latent.float() - LOWEST) / STEP).round().clamp(0, 255).to(torch.uint8)


def load_bank(folder: str | Path) -> ReferenceBank | None:
    """The model folder's bank with its variants (when it has them), or None when it has no bank."""
    path = Path(folder) / BANK_FILE
    if not path.is_file():
        return None
    bank = ReferenceBank.from_file(path)
    variants = Path(folder) / VARIANTS_FILE
    if variants.is_file():
        bank.with_variants(ReferenceBank.from_file(variants))
        logger.info("reference bank of %d sounds and %d variants from %s", len(bank), len(bank.variants), path)
    else:
        logger.info("reference bank of %d sounds from %s", len(bank), path)
    return bank


def bank_files(bank: ReferenceBank) -> dict[str, bytes]:
    """The files that store ``bank`` in a model folder: the bank and, when it has them, its variants."""
    files = {BANK_FILE: bank.to_bytes()}
    if bank.variants is not None:
        files[VARIANTS_FILE] = bank.variants.to_bytes()
    return files
