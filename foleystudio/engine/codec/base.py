"""The audio codec interface: stereo 44.1 kHz waves <-> latent sequences at <= 50 frames/s.

Contract (fixed for the whole engine):
    encode(wave [B, 2, n]) -> latent [B, C, T] with T = ceil(n / hop_length)
    decode(latent [B, C, T]) -> wave [B, 2, T * hop_length]
The wave is zero-padded at the end to T * hop_length before encoding; latent frame t describes
samples [t * hop, (t + 1) * hop). ``decode`` returns the padded length: callers trim to n.

Long media (house style 8): ``encode_long``, ``decode_long`` and ``iter_decode`` process overlapping
chunks of ``chunk_frames`` latent frames under ``torch.no_grad``, so activation memory stays that of
one chunk however long the take. Each chunk is processed with ``context`` frames of neighbouring
signal on both sides and only its middle is kept:
* a codec whose output depends only on a bounded neighbourhood (the learned codec, the analytic
  encoder) gives the whole-signal result up to float rounding when the context covers it;
* a codec with long-reaching state (Griffin-Lim's phase) is told where each window lies
  (``_decode_window``) and crossfades ``crossfade`` frames at each join, so that small differences
  from the whole-signal decode never make a step (see analytic.py for the measured error).
"""

from __future__ import annotations

import abc
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from foleystudio.errors import UserInputError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
CHANNELS = 2
MAX_LATENT_RATE = 50.0


@dataclass(frozen=True)
class Chunking:
    """How a codec cuts long media: chunk length, context each side, crossfade at joins (latent frames)."""

    chunk_frames: int
    encode_context: int
    decode_context: int
    decode_crossfade: int = 0

    def __post_init__(self) -> None:
        if self.chunk_frames < 1 or min(self.encode_context, self.decode_context, self.decode_crossfade) < 0:
            raise UserInputError(f"invalid codec chunking {self}")
        if self.decode_crossfade > min(self.chunk_frames, 2 * self.decode_context):
            # The crossfade must lie inside the context both chunks decoded.
            raise UserInputError(f"codec crossfade longer than the decode context or chunk: {self}")


def check_wave(wave, channels: int = CHANNELS) -> torch.Tensor:
    """``wave`` if it is a finite floating-point tensor [batch, channels, samples], else UserInputError."""
    if not isinstance(wave, torch.Tensor):
        raise UserInputError(
            f"codec input must be a torch tensor [batch, {channels}, samples], got {type(wave).__name__}"
        )
    if wave.ndim != 3:
        raise UserInputError(f"codec input must have shape [batch, {channels}, samples], got {tuple(wave.shape)}")
    if wave.shape[1] != channels:
        raise UserInputError(f"codec input must have {channels} channels (stereo), got {wave.shape[1]}")
    if wave.shape[0] == 0 or wave.shape[2] == 0:
        raise UserInputError(f"codec input is empty: shape {tuple(wave.shape)}")
    if not wave.is_floating_point():
        raise UserInputError(f"codec input must be floating point audio, got {wave.dtype}")
    if not bool(torch.isfinite(wave).all()):
        raise UserInputError("codec input contains NaN or infinite samples")
    return wave


def check_latent(latent, latent_channels: int) -> torch.Tensor:
    """``latent`` if it is a finite floating-point tensor [batch, latent_channels, frames], else UserInputError."""
    if not isinstance(latent, torch.Tensor):
        raise UserInputError(
            f"latent must be a torch tensor [batch, {latent_channels}, frames], got {type(latent).__name__}"
        )
    if latent.ndim != 3 or latent.shape[1] != latent_channels:
        raise UserInputError(f"latent must have shape [batch, {latent_channels}, frames], got {tuple(latent.shape)}")
    if latent.shape[0] == 0 or latent.shape[2] == 0:
        raise UserInputError(f"latent is empty: shape {tuple(latent.shape)}")
    if not latent.is_floating_point():
        raise UserInputError(f"latent must be floating point, got {latent.dtype}")
    if not bool(torch.isfinite(latent).all()):
        raise UserInputError("latent contains NaN or infinite values")
    return latent


class AudioCodec(torch.nn.Module, abc.ABC):
    """Stereo 44.1 kHz audio <-> latent [B, latent_channels, T]; subclasses implement the padded core."""

    sample_rate: int = SAMPLE_RATE
    channels: int = CHANNELS
    reads_loudness: bool = False  # whether `latent_loudness_lufs` gives a read-out (not None)

    def __init__(self, latent_channels: int, hop_length: int, chunking: Chunking):
        super().__init__()
        if latent_channels < 1 or hop_length < 1:
            raise UserInputError(
                f"codec needs latent_channels >= 1 and hop_length >= 1, got {latent_channels}, {hop_length}"
            )
        if self.sample_rate / hop_length > MAX_LATENT_RATE:
            raise UserInputError(
                f"codec hop of {hop_length} samples gives {self.sample_rate / hop_length:.1f} latent frames/s;"
                f" at most {MAX_LATENT_RATE:g} are allowed"
            )
        self.latent_channels = latent_channels
        self.hop_length = hop_length
        self.chunking = chunking

    # ---- geometry --------------------------------------------------------------------------
    @property
    def latent_rate(self) -> float:
        """Latent frames per second."""
        return self.sample_rate / self.hop_length

    def latent_frames(self, samples: int) -> int:
        """T for a wave of ``samples`` samples: ceil(samples / hop_length)."""
        return math.ceil(samples / self.hop_length)

    def padded(self, wave: torch.Tensor) -> torch.Tensor:
        """``wave`` zero-padded at the end to a whole number of latent frames."""
        extra = self.latent_frames(wave.shape[-1]) * self.hop_length - wave.shape[-1]
        return torch.nn.functional.pad(wave, (0, extra)) if extra else wave

    # ---- whole-signal interface ------------------------------------------------------------
    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Latent [B, C, ceil(n / hop)] of a wave [B, 2, n]."""
        return self._encode(self.padded(check_wave(wave, self.channels)))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Wave [B, 2, T * hop] of a latent [B, C, T]."""
        return self._decode(check_latent(latent, self.latent_channels))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Round trip: decode(encode(wave)), trimmed to the input length."""
        return self.decode(self.encode(wave))[..., : wave.shape[-1]]

    @abc.abstractmethod
    def _encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Latent [B, C, T] of a checked wave [B, 2, T * hop]."""

    @abc.abstractmethod
    def _decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Wave [B, 2, T * hop] of a checked latent [B, C, T]."""

    def latent_loudness_lufs(self, latent: torch.Tensor) -> torch.Tensor | None:
        """Loudness [B, 2, T] in LUFS per channel and latent frame, read off a latent [B, C, T]
        differentiably, or None where the codec has no such read-out (the learned codec)."""
        return None

    def shift_loudness(self, latent: torch.Tensor, lu: torch.Tensor) -> torch.Tensor | None:
        """``latent`` [B, C, T] made ``lu`` [B, 2, T] LU louder (negative: quieter) per channel and
        latent frame, without changing its spectral shape; None where the codec has no such
        operation (the learned codec)."""
        return None

    def _decode_window(self, latent: torch.Tensor, first_frame: int) -> torch.Tensor:
        """``_decode`` of a chunk window that starts at latent frame ``first_frame`` of the whole.
        A codec whose decode is not position-free (Griffin-Lim's starting phase) overrides it."""
        return self._decode(latent)

    # ---- long media in constant-memory chunks ------------------------------------------------
    def _chunk_frames(self, chunk_frames: int | None, minimum: int = 1) -> int:
        frames = self.chunking.chunk_frames if chunk_frames is None else chunk_frames
        if isinstance(frames, bool) or not isinstance(frames, int) or frames < max(1, minimum):
            raise UserInputError(
                f"codec chunk must be a whole number of latent frames >= {max(1, minimum)}, got {frames!r}"
            )
        return frames

    @torch.no_grad()
    def encode_long(self, wave: torch.Tensor, chunk_frames: int | None = None) -> torch.Tensor:
        """``encode(wave)`` computed chunk by chunk; memory is that of one chunk plus the output."""
        wave = check_wave(wave, self.channels)
        frames, size = self.latent_frames(wave.shape[-1]), self._chunk_frames(chunk_frames)
        context, hop = self.chunking.encode_context, self.hop_length
        pieces = []
        for start in range(0, frames, size):
            stop = min(start + size, frames)
            lo, hi = max(0, start - context), min(frames, stop + context)
            # The last window is zero-padded exactly as `encode` pads the whole wave.
            piece = self.padded(wave[..., lo * hop : hi * hop])
            pieces.append(self._encode(piece)[..., start - lo : stop - lo])
        return torch.cat(pieces, dim=-1)

    @torch.no_grad()
    def decode_long(self, latent: torch.Tensor, chunk_frames: int | None = None) -> torch.Tensor:
        """``decode(latent)`` computed chunk by chunk (see ``iter_decode``)."""
        latent = check_latent(latent, self.latent_channels)
        samples = latent.shape[-1] * self.hop_length
        wave = latent.new_empty(latent.shape[0], self.channels, samples, dtype=torch.float32)
        position = 0
        for block in self.iter_decode(latent, chunk_frames):
            wave[..., position : position + block.shape[-1]] = block
            position += block.shape[-1]
        return wave

    @torch.no_grad()
    def iter_decode(self, latent: torch.Tensor, chunk_frames: int | None = None) -> Iterator[torch.Tensor]:
        """Consecutive wave blocks [B, 2, m] that together make ``decode(latent)``; two chunks in memory."""
        latent = check_latent(latent, self.latent_channels)
        # A chunk shorter than the crossfade would have nothing of its own between two joins.
        frames, size = latent.shape[-1], self._chunk_frames(chunk_frames, self.chunking.decode_crossfade)
        context, hop = self.chunking.decode_context, self.hop_length
        half_fade = self.chunking.decode_crossfade * hop // 2
        fade_in = _fade_in(2 * half_fade, latent.device)
        emitted = 0  # samples handed out so far
        previous, previous_offset = None, 0  # the previous chunk's decode and its first sample
        for start, stop in _chunk_bounds(frames, size, self.chunking.decode_crossfade):
            lo, hi = max(0, start - context), min(frames, stop + context)
            offset = lo * hop  # sample index of decoded[..., 0]
            decoded = self._decode_window(latent[..., lo:hi], lo).float()
            if previous is not None and half_fade:
                joint = slice(emitted - previous_offset, emitted + 2 * half_fade - previous_offset)
                here = slice(emitted - offset, emitted + 2 * half_fade - offset)
                yield previous[..., joint] * fade_in.flip(0) + decoded[..., here] * fade_in
                emitted += 2 * half_fade
            end = frames * hop if stop == frames else stop * hop - half_fade
            yield decoded[..., emitted - offset : end - offset]
            emitted = end
            previous, previous_offset = decoded, offset
        logger.debug("decoded %d latent frames in chunks of %d", frames, size)


def _chunk_bounds(frames: int, size: int, crossfade: int) -> list[tuple[int, int]]:
    """(start, stop) latent frames of each chunk; a last chunk shorter than the crossfade joins the one before."""
    starts = list(range(0, frames, size))
    if len(starts) > 1 and frames - starts[-1] < crossfade:
        starts.pop()
    return list(zip(starts, starts[1:] + [frames]))


def _fade_in(length: int, device: torch.device) -> torch.Tensor:
    """Raised-cosine fade from 0 to 1; with its mirror it sums to exactly 1 (amplitude-complementary),
    so two identical decodes crossfade to themselves."""
    if length == 0:
        return torch.ones(0, device=device)
    position = (torch.arange(length, device=device, dtype=torch.float32) + 0.5) / length
    return 0.5 - 0.5 * torch.cos(math.pi * position)
