"""Build a model's reference bank (`foleystudio.engine.reference_bank`) from a feature cache.

One entry per distinct training caption: the first ``seconds`` of the first clip (in the cache's
order) that has it, as the cached latent. Only the training split: the bank is part of the model,
so a held-out clip must never be in it.
"""

from __future__ import annotations

import math

from foleystudio.engine.reference_bank import ReferenceBank
from foleystudio.errors import UserInputError

DEFAULT_SECONDS = 3.0


def build_reference_bank(cache, latent_channels: int, seconds: float = DEFAULT_SECONDS) -> ReferenceBank:
    """The bank of ``cache``'s (a `FeatureCache`) training clips whose latents have ``latent_channels``."""
    if not seconds > 0:
        raise UserInputError(f"the bank's seconds per sound must be positive, got {seconds}")
    rate = cache.manifest.get("latent_rate")
    if not rate or cache.manifest.get("latent_channels") != latent_channels:
        raise UserInputError(f"{cache.folder}: its latents are not this model's ({latent_channels} channels); "
                             "build the cache with the model's codec ('dataset features --model')")
    frames = max(1, math.ceil(seconds * rate))
    seen, latents, captions, categories = set(), [], [], []
    for item in cache.items("train", waves=False):
        if not item.caption or item.caption in seen or item.latent is None:
            continue
        seen.add(item.caption)
        latents.append(item.latent[:, :frames])
        captions.append(item.caption)
        categories.append(item.category or "")
    if not latents:
        raise UserInputError(f"{cache.folder}: no captioned training clips to build a reference bank from")
    return ReferenceBank(latents, captions, categories)
