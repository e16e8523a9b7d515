"""Reference-audio conditioner: a waveform -> a fixed number of tokens [N, K, D].

Each channel's log-mel spectrogram (mono references are duplicated to stereo, so left/right
character survives) goes through a strided 1-D convolution stack over time; K learned queries then
attend over the frames (a Perceiver-style pooling), so any clip length gives the same K tokens. A
reference longer than ``max_seconds`` is cut to its first ``max_seconds``.

A model whose config says ``ref_reads_latent`` reads the reference as the codec's latent instead
(`encode_latents`): the analytic codec's latent is already a stereo log-mel with ``latent_stack``
STFT frames stacked per latent frame, so it is unstacked into the same [2 * n_mels, frames] input.
Training can then give references straight from the cached latents (no waveform is cached), and
the pipeline encodes a user's reference sound with the codec first, so both see the same thing.

The mel filterbank and window are computed per call from the config (they are not weights).
Spectra are computed in float32 whatever the module's dtype (half precision STFTs lose the quiet
bins and are not supported everywhere).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchaudio
from torch import nn

from foleystudio.engine.conditioners.layers import MLP
from foleystudio.engine.dit import masked_attention, seconds_embedding

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
_LOG_FLOOR = 1e-5


class ReferenceAudioEncoder(nn.Module):
    def __init__(self, out_width: int, n_mels: int, n_fft: int, hop_length: int, tokens: int,
                 max_seconds: float, width: int, heads: int) -> None:
        super().__init__()
        self.n_fft, self.hop_length, self.n_mels, self.max_seconds = n_fft, hop_length, n_mels, max_seconds
        self.convs = nn.Sequential(
            nn.Conv1d(2 * n_mels, width, 3, padding=1), nn.GELU(approximate="tanh"),
            nn.Conv1d(width, width, 3, stride=2, padding=1), nn.GELU(approximate="tanh"),
            nn.Conv1d(width, width, 3, stride=2, padding=1),
        )
        self.heads = heads
        self.frame_rate = SAMPLE_RATE / hop_length / 4  # after two stride-2 convolutions
        self.queries = nn.Parameter(torch.randn(tokens, width) * width**-0.5)
        self.key_norm = nn.LayerNorm(width)
        self.kv = nn.Linear(width, 2 * width)
        self.q = nn.Linear(width, width)
        self.out = MLP(width, width, out_width)

    @property
    def token_count(self) -> int:
        return self.queries.shape[0]

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """[channels, n] -> [2 * n_mels, frames] float32 log-mel (stereo; mono duplicated)."""
        device = self.q.weight.device
        wave = wave[:, : int(self.max_seconds * SAMPLE_RATE)].to(device, torch.float32)
        if wave.shape[0] == 1:
            wave = wave.expand(2, -1)
        window = torch.hann_window(self.n_fft, device=device)
        spectrum = torch.stft(
            wave, self.n_fft, self.hop_length, window=window, center=True, pad_mode="constant", return_complex=True,
        )
        power = spectrum.real.square() + spectrum.imag.square()
        mel = torch.einsum("cft,fm->cmt", power, self._mel_filterbank().to(device))
        # Log-mel spans about -11.5 .. +8; a fixed scale brings it near unit range for the conv.
        return (torch.log(mel + _LOG_FLOOR) / 4.0).flatten(0, 1)

    def _mel_filterbank(self) -> torch.Tensor:
        # Computed on the CPU when needed (once per request): no buffer to keep in checkpoints, and
        # the module can be built on the meta device and loaded with assign=True.
        with torch.device("cpu"):
            return torchaudio.functional.melscale_fbanks(
                self.n_fft // 2 + 1, f_min=0.0, f_max=SAMPLE_RATE / 2, n_mels=self.n_mels, sample_rate=SAMPLE_RATE,
                norm="slaney", mel_scale="slaney",
            )

    def forward(self, waves: Sequence[torch.Tensor]) -> torch.Tensor:
        """Waveforms [channels, n] (any lengths) -> tokens [N, K, out_width]."""
        # One clip at a time: padding a batch would leak into the convolutions at the clip's end,
        # and a request encodes its reference once, so there is nothing to gain from batching.
        return torch.stack([self._encode_log_mel(self.log_mel(wave), self.frame_rate) for wave in waves])

    def encode_latents(self, latents: Sequence[torch.Tensor], latent_rate: float) -> torch.Tensor:
        """Codec latents [2 * stack * n_mels, frames] (any lengths) -> tokens [N, K, out_width]."""
        stack = latents[0].shape[0] // (2 * self.n_mels) if latents else 1
        # After the two stride-2 convolutions: stack STFT frames per latent frame, a quarter of them.
        rate = latent_rate * stack / 4
        return torch.stack([self._encode_log_mel(self.latent_log_mel(latent, latent_rate), rate) for latent in latents])

    def latent_log_mel(self, latent: torch.Tensor, latent_rate: float) -> torch.Tensor:
        """An analytic-codec latent [2 * stack * n_mels, F] -> [2 * n_mels, stack * F] (the
        latent's channel-major, then STFT frame, then band order unstacked), cut to ``max_seconds``."""
        channels = latent.shape[0]
        stack = channels // (2 * self.n_mels)
        if latent.ndim != 2 or stack < 1 or channels != 2 * stack * self.n_mels:
            raise ValueError(f"a reference latent must be [{2 * self.n_mels} x stack, frames], got {tuple(latent.shape)}")
        latent = latent[:, : max(1, int(self.max_seconds * latent_rate))].to(self.q.weight.device, torch.float32)
        frames = latent.shape[1]
        return latent.reshape(2, stack, self.n_mels, frames).permute(0, 2, 3, 1).reshape(2 * self.n_mels, frames * stack)

    def _encode_log_mel(self, log_mel: torch.Tensor, frame_rate: float) -> torch.Tensor:
        """[2 * n_mels, frames] -> K tokens; ``frame_rate``: the rate of the frames after the convolutions."""
        dtype = self.q.weight.dtype
        frames = self.convs(log_mel.to(dtype)[None])[0].transpose(0, 1)  # [F, width]
        times = (torch.arange(frames.shape[0], device=frames.device, dtype=torch.float32) + 0.5) / frame_rate
        keys = self.key_norm(frames) + seconds_embedding(times, frames.shape[-1]).to(dtype)
        width = frames.shape[-1]
        head = width // self.heads
        q = self.q(self.queries).reshape(1, -1, self.heads, head).transpose(1, 2)
        kv = self.kv(keys).reshape(1, -1, 2, self.heads, head).permute(2, 0, 3, 1, 4)
        pooled = masked_attention(q, kv[0], kv[1], None).transpose(1, 2).reshape(-1, width)
        return self.out(F.layer_norm(pooled + self.queries, (width,)))
