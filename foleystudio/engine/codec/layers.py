"""Building blocks of the learned codec (and of the analytic codec's phase decoder): ConvNeXt blocks
and strided resampling along time.

Every layer sees only a bounded neighbourhood in time and normalises each frame on its own
(LayerNorm over channels, never over time), so a chunk decoded with enough context equals the
whole-signal decode (see ``AudioCodec.encode_long``). Only 1-D convolutions: MPS has them all.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvNeXtBlock(nn.Module):
    """Depthwise temporal convolution, LayerNorm, pointwise MLP, layer-scaled residual (ConvNeXt,
    as used by the Vocos vocoder) on [B, C, T]."""

    def __init__(self, width: int, kernel_size: int, mlp_ratio: int, layer_scale: float = 1e-2):
        super().__init__()
        self.depthwise = nn.Conv1d(width, width, kernel_size, padding=kernel_size // 2, groups=width)
        self.norm = nn.LayerNorm(width)
        self.expand = nn.Linear(width, width * mlp_ratio)
        self.contract = nn.Linear(width * mlp_ratio, width)
        # A small residual scale keeps a deep stack close to identity at initialisation.
        self.scale = nn.Parameter(torch.full((width,), layer_scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.depthwise(x).transpose(1, 2)
        h = self.contract(nn.functional.gelu(self.expand(self.norm(h))))
        return x + (h * self.scale).transpose(1, 2)


def stack(width: int, blocks: int, kernel_size: int, mlp_ratio: int, layer_scale: float = 1e-2) -> nn.Sequential:
    return nn.Sequential(*(ConvNeXtBlock(width, kernel_size, mlp_ratio, layer_scale) for _ in range(blocks)))


class Downsample(nn.Module):
    """Time / factor with a strided convolution whose kernel is exactly one stride (no overlap, so
    output frame t sees input frames [t * factor, (t + 1) * factor))."""

    def __init__(self, width: int, factor: int):
        super().__init__()
        self.conv = nn.Conv1d(width, width, factor, stride=factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Time x factor with a transposed convolution of kernel = stride (each input frame writes its
    own ``factor`` output frames: no checkerboard overlap)."""

    def __init__(self, width: int, factor: int):
        super().__init__()
        self.conv = nn.ConvTranspose1d(width, width, factor, stride=factor)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
