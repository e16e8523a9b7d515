"""Phase reconstruction from an STFT magnitude: the fast Griffin-Lim algorithm.

Fast Griffin-Lim (Perraudin, Balazs, Søndergaard 2013) alternates two projections — onto spectra
with the given magnitude, and onto consistent spectra (STFT of an inverse STFT) — with a momentum
term ``alpha`` that converges in far fewer iterations than plain Griffin-Lim (alpha = 0).

Written here rather than taken from torchaudio so that the starting phase comes from the caller
(per-call generator, shared by both channels, or continued from audio already decoded) and so that
some frames can keep a phase that is already decided (chunked decoding, see ``AnalyticCodec``).
"""

from __future__ import annotations

import torch

from foleystudio.engine.codec.spectral import StftFraming


def unit_phase(spec: torch.Tensor) -> torch.Tensor:
    """spec / |spec|; 0 where spec is exactly 0 (that bin is silent for one iteration, and the
    next consistent projection gives it a phase from its neighbours)."""
    return spec / spec.abs().clamp_min(1e-30)


def griffin_lim(
    magnitude: torch.Tensor,
    phase: torch.Tensor,
    framing: StftFraming,
    iterations: int,
    alpha: float = 0.99,
    fixed_frames: int = 0,
) -> torch.Tensor:
    """The wave [B, C, frames * hop] whose STFT magnitude approaches ``magnitude`` [B, C, bins, frames].

    ``phase`` (unit complex, same shape) is the starting phase. The first ``fixed_frames`` frames
    keep their starting phase throughout: they continue audio decoded earlier.
    """
    fixed = phase[..., :fixed_frames]
    target = magnitude * phase
    previous = None
    for _ in range(iterations):
        consistent = framing.analyse(framing.synthesise(target))
        accelerated = consistent if previous is None else consistent + alpha * (consistent - previous)
        previous = consistent
        angles = unit_phase(accelerated)
        if fixed_frames:
            angles = torch.cat([fixed, angles[..., fixed_frames:]], dim=-1)
        target = magnitude * angles
    return framing.synthesise(target)
