"""Sums of a sample stream over a regular grid of windows, fed block by block in constant memory.

Window k covers samples [start(k), start(k) + length), start(k) = round(k * hop) with the hop in
(possibly fractional) samples, so the grid never drifts at rates where the hop is not a whole
number of samples. With ``window_samples=None`` the windows tile the stream: window k ends where
window k + 1 starts.

Only the samples still needed by a window that is not yet complete are kept, so memory is bounded by
one window plus the block being pushed. Each window's sum is computed in one reduction over its
own samples, in the same order whatever the block sizes were, so the sums are bit-identical
however the stream was cut into blocks.
"""

from __future__ import annotations

import math

import numpy as np


class WindowSums:
    """Per-channel sums over windows of a (channels, n) stream fed by ``push``."""

    def __init__(self, channels: int, hop_samples: float, window_samples: int | None = None):
        if not hop_samples >= 1.0:
            raise ValueError(f"hop must be at least one sample, got {hop_samples}")
        if window_samples is not None and window_samples < 1:
            raise ValueError(f"window must be at least one sample, got {window_samples}")
        self.channels = channels
        self.hop_samples = float(hop_samples)
        self.window_samples = window_samples
        self._next = 0  # index of the first window not yet returned by push
        self._received = 0  # samples per channel pushed so far
        self._buffer = np.zeros((channels, 0))
        self._buffer_start = 0  # stream index of the buffer's first sample

    # ---- the grid ------------------------------------------------------------------------------
    def starts(self, indices) -> np.ndarray:
        return np.floor(np.asarray(indices, dtype=np.float64) * self.hop_samples + 0.5).astype(np.int64)

    def ends(self, indices) -> np.ndarray:
        indices = np.asarray(indices)
        if self.window_samples is None:
            return self.starts(indices + 1)
        return self.starts(indices) + self.window_samples

    def _complete_before(self, total: int) -> int:
        """Index one past the last window that lies within the first ``total`` samples."""
        span = self.hop_samples if self.window_samples is None else self.window_samples
        k = max(self._next, int(math.floor((total - span) / self.hop_samples)) + 1)
        while self.ends(k) <= total:
            k += 1
        while k > self._next and self.ends(k - 1) > total:
            k -= 1
        return k

    @property
    def received(self) -> int:
        return self._received

    @property
    def next_index(self) -> int:
        return self._next

    # ---- streaming -----------------------------------------------------------------------------
    def push(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add (channels, n) values; return (sums (channels, m), lengths (m,)) of completed windows."""
        block_start = self._received
        total = block_start + values.shape[-1]
        stop = self._complete_before(total)
        indices = np.arange(self._next, stop)
        sums = self._sums(indices, self.starts(indices), self.ends(indices), values, block_start)
        lengths = self.ends(indices) - self.starts(indices)
        self._next = stop
        self._received = total
        self._keep_tail(values, block_start)
        return sums, lengths

    def partial(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Windows cut short by the end of the stream so far, without changing the state.

        Returns (indices, sums, lengths) of the windows not yet returned by ``push`` that start
        before the end of the stream, each summed over the samples it has.
        """
        total = self._received
        stop = self._next
        while self.starts(stop) < total:
            stop += 1
        indices = np.arange(self._next, stop)
        starts = self.starts(indices)
        ends = np.minimum(self.ends(indices), total)
        sums = self._sums(indices, starts, ends, np.zeros((self.channels, 0)), total)
        return indices, sums, ends - starts

    # ---- internals -----------------------------------------------------------------------------
    def _sums(self, indices, starts, ends, values, block_start) -> np.ndarray:
        if len(indices) == 0:
            return np.zeros((self.channels, 0))
        # Windows that begin in the kept tail need the tail and the head of the new block; the
        # rest are read straight from the block, so a large block is never copied whole.
        from_tail = starts < block_start
        sums = np.empty((self.channels, len(indices)))
        if from_tail.any():
            needed = int(ends[from_tail].max()) - block_start
            joined = np.concatenate([self._buffer, values[:, : max(needed, 0)]], axis=1)
            offset = self._buffer_start
            sums[:, from_tail] = _window_sums(joined, starts[from_tail] - offset, ends[from_tail] - offset)
        if (~from_tail).any():
            sums[:, ~from_tail] = _window_sums(values, starts[~from_tail] - block_start, ends[~from_tail] - block_start)
        return sums

    def _keep_tail(self, values: np.ndarray, block_start: int) -> None:
        """Keep the samples from the start of the next incomplete window to the end of the stream."""
        keep_from = int(self.starts(self._next))
        if keep_from >= block_start:
            # np.array copies, so the caller's (possibly huge) block is not kept alive by a view.
            self._buffer = np.array(values[:, keep_from - block_start :], dtype=np.float64)
        else:
            kept = self._buffer[:, keep_from - self._buffer_start :]
            self._buffer = np.concatenate([kept, values], axis=1)
        self._buffer_start = min(keep_from, self._received)


def _window_sums(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sums of data[:, s:e] for each window; windows ascend and may overlap."""
    count = len(starts)
    overlapping = count > 1 and np.any(ends[:-1] > starts[1:])
    if not overlapping:
        return _disjoint_window_sums(data, starts, ends)
    # Split overlapping windows into interleaved groups (every g-th window) that do not overlap.
    spacing = max(int(np.min(np.diff(starts))), 1)
    groups = int(math.ceil(int(np.max(ends - starts)) / spacing)) + 1
    sums = np.empty((data.shape[0], count))
    for group in range(groups):
        sums[:, group::groups] = _disjoint_window_sums(data, starts[group::groups], ends[group::groups])
    return sums


def _disjoint_window_sums(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """reduceat over interleaved (start, end) edges: even rows are the windows, odd rows the gaps."""
    if len(starts) == 0:
        return np.zeros((data.shape[0], 0))
    edges = np.empty(2 * len(starts) - 1, dtype=np.int64)
    edges[0::2] = starts
    edges[1::2] = ends[:-1]
    # The last row of reduceat runs to the end of the array, so cut the array at the last end.
    # Empty windows (start == end) never occur: every window has at least one sample.
    return np.add.reduceat(data[:, : int(ends[-1])], edges, axis=1)[:, 0::2]
