"""The reference sound's spectral summary, straight into the global conditioning and the output.

A reference's tokens reach the DiT only through cross-attention, and a fine-tune of foley-small
with references (3,000 steps) left them unused: its clean estimate was the same with a clip's
reference, another clip's, or none (MODEL_CARD.md). The summary gives the reference the routes
the DiT does use: each band's level-free mean over time (the sound's spectral shape) and spread
over time (how much it moves), projected into the AdaLN conditioning and into an offset of the
clean estimate, both starting at zero so that adding it changes no output until trained.
"""

from __future__ import annotations

import torch
from torch import nn


class ReferenceShape(nn.Module):
    def __init__(self, bands: int, width: int, latent_channels: int) -> None:
        super().__init__()
        self.bands = bands  # 2 * n_mels: both channels' bands
        self.to_global = nn.Linear(2 * bands, width)
        self.to_offset = nn.Linear(2 * bands, latent_channels)
        for layer in (self.to_global, self.to_offset):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    @staticmethod
    def features(log_mel: torch.Tensor) -> torch.Tensor:
        """[2 * n_mels, frames] -> [4 * n_mels]: per band, the time mean less the channel's mean
        over its bands (level-free), then the spread over time."""
        channels = log_mel.reshape(2, -1, log_mel.shape[-1])
        mean = channels.mean(-1)
        shape = mean - mean.mean(-1, keepdim=True)
        spread = channels.std(-1, unbiased=False)
        return torch.cat([shape.flatten(), spread.flatten()])

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[N, 4 * n_mels] -> ([N, width] global conditioning, [N, latent_channels] output offset)."""
        return self.to_global(features), self.to_offset(features)
