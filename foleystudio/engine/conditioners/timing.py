"""Timing conditioner: start and total seconds -> one vector [N, D] (Stable Audio's timing idea).

``start_s`` says where the generated stretch begins within the whole sound, ``total_s`` how long
the whole is (Tri-Ergon §Timing embeddings; at inference start is 0 and total the take's length).
Both are clamped to [0, max_seconds] (60 s): longer takes are made of windows elsewhere, and a value
the model never saw in training would be meaningless to it. Each is mapped to [0, 1], expanded
into Fourier features and embedded by an MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from foleystudio.engine.conditioners.layers import MLP, fourier_features

_FOURIER_COUNT = 8  # finest period 60 s / 128, about half a second


class TimingEncoder(nn.Module):
    def __init__(self, out_width: int, max_seconds: float) -> None:
        super().__init__()
        self.max_seconds = float(max_seconds)
        self.mlp = MLP(2 * (1 + 2 * _FOURIER_COUNT), out_width)

    def forward(self, start_s: torch.Tensor, total_s: torch.Tensor) -> torch.Tensor:
        """start_s, total_s [N] in seconds -> [N, out_width]."""
        seconds = torch.stack([start_s, total_s], dim=-1).to(torch.float32)
        unit = seconds.clamp(0.0, self.max_seconds) / self.max_seconds
        return self.mlp(fourier_features(unit, _FOURIER_COUNT).to(self.mlp[0].weight.dtype))
