"""Sample-rate conversion with torchaudio's windowed-sinc resampler, whole or streamed.

Quality: a Kaiser-windowed sinc, 64 zero crossings, roll-off 0.9476 of the lower Nyquist
frequency, beta 14.77 (the parameters of librosa's/resampy's "kaiser_best", quoted in torchaudio's
resampling documentation). Measured from 48 to 44.1 kHz: flat within 0.001 dB up to 19 kHz,
-0.09 dB at 20 kHz, -1.5 dB at 20.5 kHz; a tone above the new Nyquist frequency (22.5-23.8 kHz)
leaves residue 112 dB down (tests/audio/test_io.py checks 0.01 dB and -100 dB).

Streaming (:class:`StreamResampler`) gives the same samples as resampling the whole signal at
once: the signal is cut at multiples of the reduced input period, and every piece is filtered with
enough real neighbouring samples (zeros before the start and after the end, as the whole-signal
resampler pads) that the pieces join without seams, in constant memory.

Awkward rates: torchaudio builds one kernel row per output phase, new/gcd rows of about
orig/gcd + 2 x 64 taps. For rates that share almost no factor with the target (8363 Hz, an old
tracker rate, to 44.1 kHz: 44 100 phases x 8 499 taps) that is gigabytes: 4.7 GB was measured for
one 8363 Hz file of the open corpus. Above KERNEL_LIMIT such conversions use scipy's polyphase
``resample_poly`` with the same window (Kaiser, beta 14.77), cut-off and 64 zero crossings, whose
cost is the filter (2 x 64 x max(up, down) taps, tens of MB) rather than phases x taps. Those
files are short legacy assets, so the streamed form simply buffers them and filters at ``flush``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio

from foleystudio.errors import UserInputError

LOWPASS_FILTER_WIDTH = 64
ROLLOFF = 0.9475937167399596
KAISER_BETA = 14.769656459379492
# Input samples per streamed piece (rounded up to the reduced input period).
STREAM_PIECE_FRAMES = 32768
# Most kernel coefficients (phases x taps) torchaudio may build: 16 M floats, 64 MB.
KERNEL_LIMIT = 16_000_000


def _checked_rate(rate) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise UserInputError(f"sample rate must be a positive whole number of Hz, got {rate!r}")
    return int(rate)


def _transform(orig_sr: int, new_sr: int) -> torchaudio.transforms.Resample:
    return torchaudio.transforms.Resample(
        orig_sr,
        new_sr,
        resampling_method="sinc_interp_kaiser",
        lowpass_filter_width=LOWPASS_FILTER_WIDTH,
        rolloff=ROLLOFF,
        beta=KAISER_BETA,
        dtype=torch.float32,
    )


def _kernel_size(orig_unit: int, new_unit: int) -> int:
    """Coefficients torchaudio's kernel would hold: one row per output phase (an estimate)."""
    return new_unit * (orig_unit + 2 * LOWPASS_FILTER_WIDTH * math.ceil(orig_unit / min(orig_unit, new_unit)))


def _polyphase(audio: np.ndarray, up: int, down: int) -> np.ndarray:
    """Whole-signal polyphase resampling by up/down with the module's window and cut-off."""
    from scipy import signal

    taps = signal.firwin(2 * LOWPASS_FILTER_WIDTH * max(up, down) + 1, ROLLOFF / max(up, down),
                         window=("kaiser", KAISER_BETA))
    output = signal.resample_poly(audio.astype(np.float64), up, down, axis=1, window=taps, padtype="constant")
    return output.astype(np.float32)


def resampled_length(frames: int, orig_sr: int, new_sr: int) -> int:
    """How many samples ``frames`` input samples become: ceil(frames * new / orig)."""
    return -(-frames * new_sr // orig_sr)


def resample(audio: np.ndarray, orig_sr: int, new_sr: int) -> np.ndarray:
    """Resample float (C, N) audio from ``orig_sr`` to ``new_sr``; float32 (C, ceil(N * new / orig))."""
    orig_sr, new_sr = _checked_rate(orig_sr), _checked_rate(new_sr)
    audio = np.asarray(audio, dtype=np.float32)
    if orig_sr == new_sr:
        return audio.copy()
    resampler = StreamResampler(orig_sr, new_sr, audio.shape[0])
    return np.concatenate([resampler.process(audio), resampler.flush()], axis=1)


class StreamResampler:
    """Resample a signal arriving in blocks of any size; ``process`` then ``flush`` once at the end.

    The output of all calls, concatenated, equals ``resample`` of the concatenated input.
    """

    def __init__(self, orig_sr: int, new_sr: int, channels: int) -> None:
        self.orig_sr, self.new_sr = _checked_rate(orig_sr), _checked_rate(new_sr)
        self.channels = channels
        self._identity = self.orig_sr == self.new_sr
        gcd = math.gcd(self.orig_sr, self.new_sr)
        self._orig_unit, self._new_unit = self.orig_sr // gcd, self.new_sr // gcd
        self._polyphase = not self._identity and _kernel_size(self._orig_unit, self._new_unit) > KERNEL_LIMIT
        if not self._identity and not self._polyphase:
            self._transform = _transform(self.orig_sr, self.new_sr)
            # Context on each side of a piece: a whole number of input periods covering the kernel.
            reach = self._transform.width + self._orig_unit + 1
            self._context = self._orig_unit * math.ceil(reach / self._orig_unit)
            self._piece = self._orig_unit * math.ceil(STREAM_PIECE_FRAMES / self._orig_unit)
        self._history = np.zeros((channels, getattr(self, "_context", 0)), np.float32)
        self._pending = np.zeros((channels, 0), np.float32)
        self._frames_in = 0
        self._frames_out = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed (C, n) samples; returns the output samples that are complete so far (maybe none)."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise UserInputError(f"expected audio of shape ({self.channels}, n), got {block.shape}")
        self._frames_in += block.shape[1]
        if self._identity:
            self._frames_out += block.shape[1]
            return block.copy()
        self._pending = np.concatenate([self._pending, block], axis=1)
        if self._polyphase:
            return np.zeros((self.channels, 0), np.float32)  # filtered whole at flush
        outputs = []
        while self._pending.shape[1] >= self._piece + self._context:
            outputs.append(self._emit_piece(self._piece))
        return self._joined(outputs)

    def flush(self) -> np.ndarray:
        """The rest of the output, with the signal taken as silent after its end."""
        if self._identity:
            return np.zeros((self.channels, 0), np.float32)
        if self._polyphase:
            output = _polyphase(self._pending, self._new_unit, self._orig_unit)
            self._pending = np.zeros((self.channels, 0), np.float32)
            self._frames_out += output.shape[1]
            return output
        outputs = []
        while self._pending.shape[1] > self._piece:
            outputs.append(self._emit_piece(self._piece))
        total = resampled_length(self._frames_in, self.orig_sr, self.new_sr)
        remaining = total - self._frames_out
        if remaining > 0:
            tail = np.zeros((self.channels, self._context), np.float32)
            segment = np.concatenate([self._history, self._pending, tail], axis=1)
            outputs.append(self._filtered(segment, remaining))
            self._frames_out += remaining
        self._pending = np.zeros((self.channels, 0), np.float32)
        return self._joined(outputs)

    def _emit_piece(self, length: int) -> np.ndarray:
        """Resample the next ``length`` pending samples (a multiple of the input period)."""
        segment = np.concatenate([self._history, self._pending[:, : length + self._context]], axis=1)
        count = length // self._orig_unit * self._new_unit
        output = self._filtered(segment, count)
        consumed = np.concatenate([self._history, self._pending[:, :length]], axis=1)
        self._history = consumed[:, -self._context :]
        self._pending = self._pending[:, length:]
        self._frames_out += count
        return output

    def _filtered(self, segment: np.ndarray, count: int) -> np.ndarray:
        """``count`` output samples starting where ``segment`` leaves its left context."""
        skip = self._context // self._orig_unit * self._new_unit
        with torch.no_grad():
            result = self._transform(torch.from_numpy(np.ascontiguousarray(segment)))
        return result[:, skip : skip + count].numpy().astype(np.float32, copy=False)

    def _joined(self, outputs: list[np.ndarray]) -> np.ndarray:
        if not outputs:
            return np.zeros((self.channels, 0), np.float32)
        return np.concatenate(outputs, axis=1)
