"""A trained last stage for the analytic codec: the phase of every STFT bin, predicted from the
magnitude the decoder imposes, in place of Griffin-Lim's iterations from a random start.

Why: with the clip's own phase and no iterations the decoder's magnitude would score an MR-STFT
distance of 0.76 on held-out clips against Griffin-Lim's 1.26 (``bench/decoder_phase.py``), and a
better *start* for Griffin-Lim gains little because its iterations pull every start to the same
place. A network that reads the log magnitude of a neighbourhood of frames and writes each bin's
phase, as Vocos does (Siuzdak 2023), takes part of that gap in one pass, and it is cheaper
than sixteen STFT / inverse-STFT pairs.

Layout: per channel, log|X| / 5 [N, bins, frames] -> 7-tap convolution to ``width`` channels ->
``DEPTH`` ConvNeXt blocks (``layers.ConvNeXtBlock``: depthwise 7-tap convolution, per-frame
LayerNorm, a 3 x wide GELU MLP, a learned per-channel scale starting at 0.1, residual) ->
LayerNorm -> a linear head to the real and imaginary parts of every bin, normalised to unit
modulus. Both channels go through the same network on their own, so a centred source decodes the
same in both. Every layer sees a bounded neighbourhood in time (``reach_frames`` STFT frames each
side) and normalises each frame on its own, so a chunked decode with that much more context equals
the whole one.

Trained with ``foleystudio train phase`` (``training.tasks.PhaseTask``: MR-STFT plus a log-mel term
on the decoded wave); the magnitude it reads is the codec's own (refiner included), frozen.
Tried on foley-small and not shipped: it beat Griffin-Lim on every codec measure but rendered
noise as a smooth, deterministic wash (those losses reward the average; Vocos adds adversarial
ones), see the model card's "A trained phase decoder".
"""

from __future__ import annotations

import torch
from torch import nn

from foleystudio.engine.codec.layers import stack

KERNEL_SIZE = 7
DEPTH = 4
MLP_RATIO = 3
LAYER_SCALE = 0.1  # each block starts as a small correction to the identity (ConvNeXt's layer scale)
# The log magnitude reads no quieter than this: about 154 dB under a full-scale sine's peak bin
# (|X| = 512 with a 2048-point Hann window), far below anything audible.
MAGNITUDE_FLOOR = 1e-5
LOG_SCALE = 5.0  # log magnitudes then span -11.5..+6.2; divided by this they sit near unit range


class PhaseDecoder(nn.Module):
    """STFT magnitude [N, bins, frames] -> unit complex phase [N, bins, frames]."""

    def __init__(self, bins: int, width: int):
        super().__init__()
        if bins < 1 or width < 1:
            raise ValueError(f"phase decoder needs positive sizes, got bins={bins}, width={width}")
        self.stem = nn.Conv1d(bins, width, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
        self.blocks = stack(width, DEPTH, KERNEL_SIZE, MLP_RATIO, layer_scale=LAYER_SCALE)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 2 * bins)

    @staticmethod
    def reach_frames() -> int:
        """STFT frames each side that one output frame depends on."""
        return (KERNEL_SIZE // 2) * (1 + DEPTH)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        level = torch.log(magnitude.float().clamp_min(MAGNITUDE_FLOOR)) / LOG_SCALE
        hidden = self.norm(self.blocks(self.stem(level)).transpose(1, 2))
        real, imaginary = self.head(hidden).transpose(1, 2).chunk(2, dim=1)
        phase = torch.complex(real, imaginary)
        return phase / phase.abs().clamp_min(1e-6)
