"""How often each training item comes round in an epoch when rare sound categories are oversampled.

Why: the open corpus is uneven (799 weapon clips against 53 doors and 52 winds), so a generator
trained at the corpus's own frequencies hears a door once for every fifteen weapon sounds, while
doors, footsteps and wind are everyday Foley (the demo project asks for all three). Repeating the items of
a rare category in every epoch, by a power of how much rarer it is than the largest one, evens the
exposure without dropping anything: exponent 0 is the corpus as it is, 1 gives every category the
largest one's share, 0.5 (inverse square root) is in between. The schedule is a fixed list of item
indices, so the trainer's resumable, seeded epoch order (`trainer.DataOrder`) shuffles it as before.
Items without a category are left at one repeat.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

MAX_EXPONENT = 1.0


def category_repeats(categories: Sequence[str], exponent: float) -> dict[str, int]:
    """Repeats per labelled category: round((largest count / its count) ** exponent), at least 1."""
    if not 0.0 <= exponent <= MAX_EXPONENT:
        raise ValueError(f"category balance must be in [0, {MAX_EXPONENT:g}], got {exponent}")
    counts = Counter(category for category in categories if category)
    if not counts:
        return {}
    largest = max(counts.values())
    return {category: max(1, round((largest / count) ** exponent)) for category, count in counts.items()}


def balanced_schedule(categories: Sequence[str], exponent: float) -> list[int]:
    """Item indices, each repeated as often as its category is (`category_repeats`), in item order."""
    repeats = category_repeats(categories, exponent)
    return [index for index, category in enumerate(categories) for _ in range(repeats.get(category, 1))]
