"""A trained decoder stage for the analytic codec: the spectral shape *within* each mel band.

The analytic latent fixes each mel band's mean power per STFT frame and nothing finer, so the
untrained decoder spreads a band evenly under its triangle (32 bands for 1025 bins in foley-small).
Real sounds are not flat inside a band: the harmonics of a voice or an engine, the tilt of a roar,
the notch between two resonances. ``MagnitudeRefiner`` learns that shape from recordings: a small
convolutional network reads the band levels of a neighbourhood of frames and predicts, per bin, a
correction in dB to the triangles' spread. ``shaped_bin_power`` then rescales the shaped bins so that
every band's mean power is the latent's again: the refiner redistributes energy inside a
band, never changes a band's level, so the loudness the latent describes (and that the generator
was trained to) is what the decoder produces.

The encoder stays analytic, so the latent, and the generator trained on it, do not change.

Layout: per channel, [N, n_mels, frames] -> 5-tap convolution -> residual blocks (per-frame
LayerNorm over channels, GELU, dilated 5-tap convolution, GELU, 1x1 convolution) -> LayerNorm ->
1x1 head to [N, bins, frames]. The head starts at zero, so an untrained refiner is the plain spread.
Every layer sees a bounded neighbourhood in time (``reach_frames`` STFT frames each side) and
normalises each frame on its own, so a chunked decode with that much extra context equals the
whole one. Trained with ``foleystudio train refiner`` (``training.tasks.RefinerTask``).

The codec may average the correction along frequency over part of each band
(``correction_smoothing``, the codec config's ``refiner_smoothing``): a refiner cannot know where in
a band a narrow peak belongs, and foley-small's put lines at fixed bins in every decode.
"""

from __future__ import annotations

import torch
from torch import nn

KERNEL_SIZE = 5
DILATIONS = (1, 2, 4, 1)
# Multiplicative passes after the exact solve (``shaped_bin_power``): they change nothing where the
# solve fitted, and bring the band means close where it could not.
RENORMALISE_PASSES = 4
GAIN_FLOOR = 1e-6  # the smallest band gain (see shaped_bin_power)
MAX_CORRECTION_DB = 40.0  # the largest per-bin correction: an untrained or diverging refiner stays bounded


class _FrameNorm(nn.Module):
    """LayerNorm over channels of each frame of [N, C, T] (never over time)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


class _Block(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.norm = _FrameNorm(width)
        self.temporal = nn.Conv1d(width, width, KERNEL_SIZE, padding=dilation * (KERNEL_SIZE // 2), dilation=dilation)
        self.pointwise = nn.Conv1d(width, width, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gelu = nn.functional.gelu
        return x + self.pointwise(gelu(self.temporal(gelu(self.norm(x)))))


class MagnitudeRefiner(nn.Module):
    """Normalised band levels [N, n_mels, frames] -> per-bin correction in dB [N, bins, frames]."""

    def __init__(self, n_mels: int, bins: int, width: int):
        super().__init__()
        if n_mels < 1 or bins < 1 or width < 1:
            raise ValueError(f"refiner needs positive sizes, got n_mels={n_mels}, bins={bins}, width={width}")
        self.stem = nn.Conv1d(n_mels, width, KERNEL_SIZE, padding=KERNEL_SIZE // 2)
        self.blocks = nn.Sequential(*[_Block(width, dilation) for dilation in DILATIONS])
        self.norm = _FrameNorm(width)
        self.head = nn.Conv1d(width, bins, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    @staticmethod
    def reach_frames() -> int:
        """STFT frames each side that one output frame depends on."""
        return (KERNEL_SIZE // 2) * (1 + sum(DILATIONS))

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        hidden = self.norm(self.blocks(self.stem(bands)))
        correction = self.head(nn.functional.gelu(hidden))
        return MAX_CORRECTION_DB * torch.tanh(correction / MAX_CORRECTION_DB)


def correction_smoothing(filterbank: torch.Tensor, fraction: float) -> torch.Tensor:
    """A [bins, bins] row-stochastic matrix that averages a per-bin correction (in dB) along
    frequency over a triangle window whose full width is ``fraction`` times the local band width
    (the bins under a band's triangle, interpolated between the bands' apexes).

    Why: the refiner reads band levels only, so where in a band a narrow peak belongs is something
    it cannot know; trained on the median level per bin it learned peaks at fixed bins anyway
    (foley-small: seven lines 6.9-20 kHz, 17-22 dB over their neighbours, in every decode). Averaged
    over a fraction of a band, a one-bin line becomes a low bump as wide as the window, while the
    tilt and the broad resonances the refiner is for stay. Where bands are a few bins wide the
    window is one bin.
    """
    if not 0.0 <= fraction:
        raise ValueError(f"the smoothing fraction must be >= 0, got {fraction}")
    bins, bands = filterbank.shape
    support = (filterbank > 0).sum(dim=0).double()
    apex = filterbank.argmax(dim=0).double()
    positions = torch.arange(bins, dtype=torch.float64)
    # Local band width at every bin: linear between the apexes, held beyond the first and last.
    right = torch.searchsorted(apex.contiguous(), positions).clamp(1, bands - 1)
    left = right - 1
    share = ((positions - apex[left]) / (apex[right] - apex[left]).clamp_min(1.0)).clamp(0.0, 1.0)
    local_width = support[left] + share * (support[right] - support[left])
    reach = fraction * local_width / 2.0 + 0.5  # triangle half-width; under a bin only the centre
    weights = (1.0 - (positions[None, :] - positions[:, None]).abs() / reach[:, None]).clamp_min(0.0)
    return (weights / weights.sum(dim=1, keepdim=True)).float()


def shaped_bin_power(band_power: torch.Tensor, correction_db: torch.Tensor, filterbank: torch.Tensor,
                     band_widths: torch.Tensor) -> torch.Tensor:
    """Bin power densities [..., frames, bins]: the triangles' spread of ``band_power`` [..., frames,
    n_mels] shaped by ``correction_db`` [..., frames, bins], then scaled by one gain per band
    (interpolated between bands by the same triangles) so that each band's mean, measured with the
    triangles as the encoder measures it, is ``band_power``'s.

    Every bin lies under at most two neighbouring triangles, so the band means are a tridiagonal
    linear function of the band gains: one exact solve per frame (``_tridiagonal_solve``). A shape
    that no positive gains can fit (its neighbours' share of a band's bins already louder than the band)
    gets a near-zero gain for those bands, and a few multiplicative passes then bring the means close.
    """
    filterbank, band_widths = filterbank.float(), band_widths.float()
    shaped = (band_power @ filterbank.T) * 10.0 ** (correction_db / 10.0)
    overlap = shaped @ (filterbank[:, :-1] * filterbank[:, 1:])  # power shared by bands m and m + 1
    diagonal = (shaped @ filterbank.square()) / band_widths
    upper = overlap / band_widths[:-1]  # band m's mean per unit gain of band m + 1
    lower = overlap / band_widths[1:]  # band m + 1's mean per unit gain of band m
    gains = _tridiagonal_solve(lower, diagonal, upper, band_power)
    # A negative gain means the neighbours' share of this band's bins already exceeds its power: the
    # best non-negative fit mutes the band's own share (nearly: the passes below can still lift it).
    gains = torch.where(torch.isfinite(gains), gains, torch.ones_like(gains)).clamp_min(GAIN_FLOOR)
    power = shaped * (gains @ filterbank.T)
    for _ in range(RENORMALISE_PASSES):
        measured = (power @ filterbank) / band_widths
        power = power * ((band_power / measured.clamp_min(1e-30)) @ filterbank.T)
    return power


def _tridiagonal_solve(lower: torch.Tensor, diagonal: torch.Tensor, upper: torch.Tensor,
                       right: torch.Tensor) -> torch.Tensor:
    """x with diagonal[m] x[m] + upper[m] x[m+1] + lower[m-1] x[m-1] = right[m] along the last axis
    (the Thomas algorithm: elementwise operations only, so it runs on every device and in float32;
    a zero pivot gives a non-finite x, which the caller replaces)."""
    bands = diagonal.shape[-1]
    pivots, values = [diagonal[..., 0]], [right[..., 0]]
    for m in range(1, bands):
        factor = lower[..., m - 1] / pivots[-1]
        pivots.append(diagonal[..., m] - factor * upper[..., m - 1])
        values.append(right[..., m] - factor * values[-1])
    solution = [values[-1] / pivots[-1]]
    for m in range(bands - 2, -1, -1):
        solution.append((values[m] - upper[..., m] * solution[-1]) / pivots[m])
    return torch.stack(solution[::-1], dim=-1)
