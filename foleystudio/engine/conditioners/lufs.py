"""LUFS conditioner: left/right loudness curves at 6 Hz -> tokens and latent-frame features.

As Tri-Ergon §Stereo loudness control: each curve is clipped to [-70, 0] LUFS and normalised to
[0, 1] (value = (LUFS + 70) / 70). The normalised curves then feed

* tokens [N, T_6, D] (one per 6 Hz frame, left and right together, with the frame's time) for
  cross-attention, and
* frames [N, T_lat, D]: the normalised curves interpolated linearly to latent-frame centres, then
  embedded frame by frame (no mixing across time, so a change at 2 s only moves frames near 2 s).

Both go through Fourier features of the normalised value, so 1 LU (1/70 of the range) is a
visible change to the network.
"""

from __future__ import annotations

import torch
from torch import nn

from foleystudio.engine.conditioners.layers import MLP, fourier_features, frame_times, length_mask, resample_to_frames
from foleystudio.engine.dit import seconds_embedding

LUFS_MIN = -70.0
LUFS_MAX = 0.0
_FOURIER_COUNT = 6


def normalise_lufs(lufs: torch.Tensor) -> torch.Tensor:
    """LUFS -> [0, 1]: clipped to [-70, 0], then (LUFS + 70) / 70."""
    return (lufs.clamp(LUFS_MIN, LUFS_MAX) - LUFS_MIN) / (LUFS_MAX - LUFS_MIN)


class LufsEncoder(nn.Module):
    def __init__(self, out_width: int, rate_hz: float) -> None:
        super().__init__()
        self.rate_hz = rate_hz
        inputs = 2 * (1 + 2 * _FOURIER_COUNT)
        self.token_mlp = MLP(inputs, out_width)
        self.frame_mlp = MLP(inputs, out_width)

    def forward(
        self, lufs: torch.Tensor, lengths: torch.Tensor, start_s: torch.Tensor, latent_frames: int, latent_rate: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """lufs [N, T_6, 2] in LUFS (left, right; padded past lengths) -> tokens, token mask, frames."""
        dtype = self.token_mlp[0].weight.dtype
        curves = normalise_lufs(lufs.to(torch.float32))
        mask = length_mask(lengths, curves.shape[1])
        times = frame_times(curves.shape[1], self.rate_hz, start_s)
        width = self.token_mlp[-1].out_features
        tokens = self.token_mlp(fourier_features(curves, _FOURIER_COUNT).to(dtype))
        tokens = (tokens + seconds_embedding(times, width).to(dtype)) * mask[..., None].to(dtype)
        aligned = resample_to_frames(curves, lengths, self.rate_hz, start_s, latent_frames, latent_rate)
        return tokens, mask, self.frame_mlp(fourier_features(aligned, _FOURIER_COUNT).to(dtype))
