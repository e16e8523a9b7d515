"""Build a model's reference bank (`foleystudio.engine.reference_bank`) from a feature cache.

One entry per distinct training caption: the first ``seconds`` of the first clip (in the cache's
order) that has it, as the cached latent; with ``variants`` N, up to N more clips of that caption
(the next ones in the cache's order, each cut the same way) as the bank's variants. Only the
training split: the bank is part of the model, so a held-out clip must never be in it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from foleystudio.engine.reference_bank import ReferenceBank
from foleystudio.errors import UserInputError

DEFAULT_SECONDS = 3.0


def build_reference_bank(cache, latent_channels: int, seconds: float = DEFAULT_SECONDS,
                         variants: int = 0) -> ReferenceBank:
    """The bank of ``cache``'s (a `FeatureCache`) training clips whose latents have ``latent_channels``,
    with up to ``variants`` more recordings of each caption."""
    if not seconds > 0:
        raise UserInputError(f"the bank's seconds per sound must be positive, got {seconds}")
    if variants < 0:
        raise UserInputError(f"the bank's variants per sound must be 0 or more, got {variants}")
    rate = cache.manifest.get("latent_rate")
    if not rate or cache.manifest.get("latent_channels") != latent_channels:
        raise UserInputError(f"{cache.folder}: its latents are not this model's ({latent_channels} channels); "
                             "build the cache with the model's codec ('dataset features --model')")
    frames = max(1, math.ceil(seconds * rate))
    entries, extra = _Entries(), _Entries()
    taken: Counter = Counter()
    for item in cache.items("train", waves=False):
        if not item.caption or item.latent is None or taken[item.caption] > variants:
            continue
        (extra if taken[item.caption] else entries).add(item.latent[:, :frames], item.caption, item.category or "")
        taken[item.caption] += 1
    if not entries.latents:
        raise UserInputError(f"{cache.folder}: no captioned training clips to build a reference bank from")
    bank = ReferenceBank(entries.latents, entries.captions, entries.categories)
    if extra.latents:
        bank.with_variants(ReferenceBank(extra.latents, extra.captions, extra.categories))
    return bank


@dataclass
class _Entries:
    latents: list = field(default_factory=list)
    captions: list = field(default_factory=list)
    categories: list = field(default_factory=list)

    def add(self, latent, caption: str, category: str) -> None:
        self.latents.append(latent)
        self.captions.append(caption)
        self.categories.append(category)
