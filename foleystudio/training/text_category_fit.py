"""Fit a new text category head (and the text encoder under it) on captions alone, before the DiT.

Trained only inside the DiT's fine-tune at its small learning rate, the head was still near chance
after 440 steps: cross-entropy 2.1 on 16 categories, 28 % of the held-out captions named. A DiT
cannot learn to follow a read-out that says nothing. Captions are a tiny text-classification
problem, though, and that fits in seconds on its own. So the head is fitted first, and the fine-tune
then teaches the DiT to use it (the category loss keeps it fitted meanwhile). The head's projection
into the DiT stays at zero here, so fitting leaves takes unchanged except through the text tokens.
Only the built-in text encoder is trained: a transformers encoder stays frozen, as it does in the
DiT's training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from foleystudio.engine.conditioners.text_category import category_loss
from foleystudio.engine.request import compose_caption

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TextCategoryFit:
    captions: int  # labelled training captions (each seen on and off screen)
    train_accuracy: float
    val_accuracy: float | None  # on the held-out captions; None without any

    def summary(self) -> str:
        held_out = "no held-out captions" if self.val_accuracy is None else f"{self.val_accuracy:.1%} of held-out ones"
        return (f"text category head fitted on {self.captions} captions: names {self.train_accuracy:.1%} of them, "
                f"{held_out}")


def fit_text_category_head(engine, captions: Sequence[str], labels: Sequence[str], val_captions: Sequence[str] = (),
                           val_labels: Sequence[str] = (), *, steps: int = 600, lr: float = 1e-3,
                           batch_size: int = 64, seed: int = 0) -> TextCategoryFit:
    """Train the engine's text encoder and category classifier on (caption, label) pairs."""
    conditioners = engine.generator.conditioners
    head = conditioners.text_category
    if head is None:
        raise ValueError("this model has no text category head to fit")
    ids, names = _examples(engine, captions, labels, head.categories)
    if not ids:
        raise ValueError("no caption is labelled with one of the head's categories")
    parameters = [*head.classify.parameters()]
    if hasattr(conditioners.text, "embed"):  # the built-in encoder; a transformers one stays frozen
        parameters += [p for p in conditioners.text.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(parameters, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    conditioners.train()
    for step in range(steps):
        chosen = torch.randint(len(ids), (min(batch_size, len(ids)),), generator=generator).tolist()
        loss = category_loss(conditioners.text_category_logits([ids[i] for i in chosen]), head.categories,
                             [names[i] for i in chosen])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 100 == 0:
            logger.info("text category fit: step %d, cross-entropy %.3f", step, float(loss.detach()))
    conditioners.eval()
    val_ids, val_names = _examples(engine, val_captions, val_labels, head.categories)
    fit = TextCategoryFit(len(ids) // 2, naming_accuracy(conditioners, ids, names),
                          naming_accuracy(conditioners, val_ids, val_names) if val_ids else None)
    logger.info(fit.summary())
    return fit


def _examples(engine, captions, labels, categories) -> tuple[list[tuple[int, ...]], list[str]]:
    """Token ids of each labelled caption as the DiT gets it, on screen and off screen."""
    if len(captions) != len(labels):
        raise ValueError(f"{len(captions)} captions but {len(labels)} labels")
    ids, names = [], []
    for caption, label in zip(captions, labels):
        if label not in categories or not caption.strip():
            continue
        for composed in (compose_caption(caption, ""), compose_caption("", caption)):
            ids.append(tuple(engine.generator.tokenize(composed)))
            names.append(label)
    return ids, names


@torch.no_grad()
def naming_accuracy(conditioners, ids: Sequence[tuple[int, ...]], names: Sequence[str], chunk: int = 512) -> float:
    """Share of the token sequences ``ids`` (non-empty) whose category the text head names as ``names``."""
    categories = conditioners.text_category.categories
    hits = 0
    for start in range(0, len(ids), chunk):
        logits = conditioners.text_category_logits(ids[start : start + chunk])
        hits += sum(categories[i] == name for i, name in zip(logits.argmax(1).tolist(), names[start : start + chunk]))
    return hits / len(ids)
