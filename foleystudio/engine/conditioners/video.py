"""Video conditioner: per-frame features and motion at 8 fps -> tokens and latent-frame features.

* tokens [N, T_v, D] for cross-attention (what is on screen, with the time of each frame);
* frames [N, T_lat, D]: features and motion resampled (linearly in time) to latent frames, which
  the DiT adds at exactly those frames; this is what lands a footstep on its frame.

Features are layer-normalised (their scale depends on the frame encoder); motion energy is small
(about 0.01 for a small moving object), so it goes through the signed square root that
`foleystudio.engine.video_features.compress_motion` documents.
"""

from __future__ import annotations

import torch
from torch import nn

from foleystudio.engine.conditioners.layers import MLP, frame_times, length_mask, resample_to_frames
from foleystudio.engine.dit import seconds_embedding


def compress_motion(motion: torch.Tensor) -> torch.Tensor:
    # Same map as video_features.compress_motion (signed square root), kept here so the
    # conditioner does not import the video decoding stack.
    return torch.sign(motion) * torch.sqrt(motion.abs())


class VideoEncoder(nn.Module):
    def __init__(self, out_width: int, feature_dim: int, motion_dim: int, rate_hz: float) -> None:
        super().__init__()
        self.rate_hz = rate_hz
        self.feature_dim, self.motion_dim = feature_dim, motion_dim
        self.feature_norm = nn.LayerNorm(feature_dim)
        self.token_mlp = MLP(feature_dim + motion_dim, out_width)
        self.frame_mlp = MLP(feature_dim + motion_dim, out_width)

    def _inputs(self, features: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        dtype = self.token_mlp[0].weight.dtype
        return torch.cat([self.feature_norm(features.to(dtype)), compress_motion(motion.to(dtype))], dim=-1)

    def forward(
        self, features: torch.Tensor, motion: torch.Tensor, lengths: torch.Tensor, start_s: torch.Tensor,
        latent_frames: int, latent_rate: float,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """[N, T_v, F], [N, T_v, M] (zero-padded past lengths) -> tokens, token mask, frames."""
        inputs = self._inputs(features, motion)
        mask = length_mask(lengths, inputs.shape[1])
        times = frame_times(inputs.shape[1], self.rate_hz, start_s)
        tokens = self.token_mlp(inputs) + seconds_embedding(times, self.token_mlp[-1].out_features).to(inputs.dtype)
        tokens = tokens * mask[..., None].to(tokens.dtype)
        aligned = resample_to_frames(inputs, lengths, self.rate_hz, start_s, latent_frames, latent_rate)
        return tokens, mask, self.frame_mlp(aligned)
