"""Phase reconstruction from an STFT magnitude: the fast Griffin-Lim algorithm.

Fast Griffin-Lim (Perraudin, Balazs, Søndergaard 2013) alternates two projections — onto spectra
with the given magnitude, and onto consistent spectra (STFT of an inverse STFT) — with a momentum
term ``alpha`` that converges in far fewer iterations than plain Griffin-Lim (alpha = 0).

Written here rather than taken from torchaudio so that the starting phase comes from the caller:
shared by both channels, and indexed by absolute frame so that a chunk of a long signal starts from
the same phase as the whole (see ``AnalyticCodec``), with no global random state involved.
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
) -> torch.Tensor:
    """The wave [B, C, frames * hop] whose STFT magnitude approaches ``magnitude`` [B, C, bins, frames],
    starting from ``phase`` (unit complex, broadcastable to the magnitude's shape)."""
    target = magnitude * phase
    previous = None
    for _ in range(iterations):
        consistent = framing.analyse(framing.synthesise(target))
        accelerated = consistent if previous is None else consistent + alpha * (consistent - previous)
        previous = consistent
        target = magnitude * unit_phase(accelerated)
    return framing.synthesise(target)
