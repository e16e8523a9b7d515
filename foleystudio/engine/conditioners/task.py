"""Task conditioner: which prompt modalities a row has -> a learned vector [N, D].

Tri-Ergon §Conditioning numbers the 8 combinations as a 3-bit id read <text, audio, video>, so
<text, mask, video> is 5. The id describes the condition tokens a row actually carries: a row whose
text slot holds the negative prompt counts as having text (it is conditioned on that text).
"""

from __future__ import annotations

import torch
from torch import nn

TASK_COUNT = 8


def task_id(modalities) -> int:
    """Id 0..7 of a set of modalities (subset of video, text, audio)."""
    return 4 * ("text" in modalities) + 2 * ("audio" in modalities) + ("video" in modalities)


class TaskEmbedding(nn.Module):
    def __init__(self, out_width: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(TASK_COUNT, out_width)
        nn.init.normal_(self.embed.weight, std=out_width**-0.5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)
