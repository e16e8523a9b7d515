"""Build a model's reference bank (`foleystudio.engine.reference_bank`) from a feature cache.

One entry per distinct training caption: the first ``seconds`` of the first clip (in the cache's
order) that has it, as the cached latent; with ``variants`` N, up to N more clips of that caption
(the next ones in the cache's order, each cut the same way) as the bank's variants. Only the
training split: the bank is part of the model, so a held-out clip must never be in it.
"""

from __future__ import annotations

import math
from collections import Counter

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
    entries, extra = [], []  # (latent, caption, category): each caption's first clip, and its next ones
    taken: Counter = Counter()
    for item in cache.items("train", waves=False):
        if not item.caption or item.latent is None or taken[item.caption] > variants:
            continue
        (extra if taken[item.caption] else entries).append((item.latent[:, :frames], item.caption, item.category or ""))
        taken[item.caption] += 1
    if not entries:
        raise UserInputError(f"{cache.folder}: no captioned training clips to build a reference bank from")
    bank = ReferenceBank(*zip(*entries, strict=True))
    if extra:
        bank.with_variants(ReferenceBank(*zip(*extra, strict=True)))
    return bank
