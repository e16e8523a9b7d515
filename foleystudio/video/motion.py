"""Motion energy of video frames: how much the picture changes, where, and when.

For frame k it is the mean absolute luma difference between frame k and frame k - 1 (luma = BT.601
weights on RGB scaled to [0, 1]), over ``regions`` vertical strips of equal width (left to right)
and over the whole picture, plus the signed change of the mean luma (a flash, a cut to a brighter
shot). Channels for the default 3 regions (``MOTION_CHANNELS`` = 5)::

    0 left third   1 centre third   2 right third   3 whole picture   4 mean-luma change (signed)

Channels 0-3 lie in [0, 1], channel 4 in [-1, 1]. They are means over pixels, so a scene gives the
same values at any decode resolution, and per-frame differences, so they depend on the frame rate.
The first frame reads 0 unless the frame before it is given (``previous``). Parameter-free and
deterministic; the engine's conditioners and LUFS predictor read it (``engine.video_features``).
"""

from __future__ import annotations

import numpy as np
import torch

MOTION_REGIONS = 3
# BT.601 luma weights: what "brightness" means for the motion signal.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def motion_channel_count(regions: int = MOTION_REGIONS) -> int:
    """Channels of :func:`motion_energy`: one per region, the whole picture, the luma change."""
    return regions + 2


MOTION_CHANNELS = motion_channel_count(MOTION_REGIONS)


def _luma(frames: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(_LUMA_WEIGHTS, dtype=torch.float32, device=frames.device)
    return (frames.to(torch.float32) * weights).sum(dim=-1) / 255.0


def _as_uint8_frames(frames, name: str) -> torch.Tensor:
    tensor = torch.as_tensor(frames)
    if tensor.dtype != torch.uint8:
        raise ValueError(f"{name} must be uint8 RGB, got {tensor.dtype}")
    if tensor.shape[-1:] != (3,):
        raise ValueError(f"{name} must end in 3 colour channels, got shape {tuple(tensor.shape)}")
    return tensor


def motion_energy(frames, regions: int = MOTION_REGIONS, previous=None):
    """Motion signal of uint8 frames [T, H, W, 3] or [B, T, H, W, 3] -> float32 [..., T, regions + 2].

    See the module docstring for the channels. ``previous`` is the frame before ``frames[..., 0]``
    ([H, W, 3] or [B, H, W, 3]); without it the first frame reads 0. numpy in, numpy out; a torch
    tensor in, a tensor out (on its device).
    """
    was_numpy = isinstance(frames, np.ndarray)
    video = _as_uint8_frames(frames, "frames")
    if video.ndim not in (4, 5):
        raise ValueError(f"frames must be [T, H, W, 3] or [B, T, H, W, 3], got shape {tuple(video.shape)}")
    if not 1 <= regions <= video.shape[-2]:
        raise ValueError(f"regions must be between 1 and the frame width {video.shape[-2]}, got {regions}")
    luma = _luma(video)  # [..., T, H, W]
    if previous is not None:
        before = _luma(_as_uint8_frames(previous, "previous").to(video.device)).unsqueeze(-3)
        if before.shape[:-3] != luma.shape[:-3] or before.shape[-2:] != luma.shape[-2:]:
            raise ValueError(f"previous frame shape {tuple(before.shape)} does not match frames {tuple(luma.shape)}")
    else:
        before = luma[..., :1, :, :]
    change = torch.diff(luma, dim=-3, prepend=before)
    energy = _region_means(change.abs(), regions)
    energy.append(change.abs().mean(dim=(-2, -1)))
    energy.append(change.mean(dim=(-2, -1)))
    result = torch.stack(energy, dim=-1)
    return result.cpu().numpy() if was_numpy else result


def _region_means(values: torch.Tensor, regions: int) -> list[torch.Tensor]:
    """Means over ``regions`` equal-width vertical strips, left to right."""
    width = values.shape[-1]
    edges = [round(i * width / regions) for i in range(regions + 1)]
    return [values[..., edges[i] : edges[i + 1]].mean(dim=(-2, -1)) for i in range(regions)]
