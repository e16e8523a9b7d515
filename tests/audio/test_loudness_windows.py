"""WindowSums: streamed window sums equal brute-force sums, whatever the block sizes."""

import numpy as np
import pytest

from foleystudio.audio.loudness_windows import WindowSums


def brute_force(values, hop, window, count):
    starts = np.floor(np.arange(count + 1) * hop + 0.5).astype(int)
    sums, lengths = [], []
    for k in range(count):
        end = starts[k] + window if window else starts[k + 1]
        sums.append(values[:, starts[k] : end].sum(axis=1))
        lengths.append(end - starts[k])
    return np.array(sums).T, np.array(lengths)


def stream(values, summer, rng):
    sums, lengths = [], []
    position = 0
    while position < values.shape[1]:
        size = int(rng.choice([0, 1, 7, 1000, 4410, 30_000]))
        part_sums, part_lengths = summer.push(values[:, position : position + size])
        sums.append(part_sums)
        lengths.append(part_lengths)
        position += size
    return np.concatenate(sums, axis=1), np.concatenate(lengths)


@pytest.mark.parametrize(
    "hop, window",
    [
        (4410.0, None),  # tiling, 100 ms at 44.1 kHz
        (1102.5, None),  # tiling with a fractional hop (100 ms at 11.025 kHz)
        (7350.0, 7350),  # the 1/6 s curve at 44.1 kHz
        (1333.3333333333333, 1333),  # 1/6 s at 8 kHz: fractional hop
        (1000.0, 4000),  # overlapping windows
        (3000.0, 500),  # gaps between windows
    ],
)
def test_streamed_sums_equal_brute_force(hop, window):
    rng = np.random.default_rng(int(hop))
    values = rng.random((2, 200_000))
    streamed, lengths = stream(values, WindowSums(2, hop, window), rng)
    expected, expected_lengths = brute_force(values, hop, window, streamed.shape[1])
    np.testing.assert_array_equal(lengths, expected_lengths)
    np.testing.assert_allclose(streamed, expected, rtol=1e-12)
    span = window or hop
    assert streamed.shape[1] == int(np.floor((200_000 - span) / hop)) + 1


def test_results_are_bit_identical_for_any_split():
    rng = np.random.default_rng(2)
    values = rng.random((1, 100_000))
    whole, _ = WindowSums(1, 1000.0, 3500).push(values)
    for _ in range(3):
        split, _ = stream(values, WindowSums(1, 1000.0, 3500), rng)
        np.testing.assert_array_equal(split, whole)


def test_partial_windows_are_measured_without_changing_state():
    values = np.ones((1, 10_500))
    summer = WindowSums(1, 1000.0, 3000)
    complete, _ = summer.push(values)
    assert complete.shape[1] == 8  # windows starting at 0 .. 7000
    indices, sums, lengths = summer.partial()
    np.testing.assert_array_equal(indices, [8, 9, 10])
    np.testing.assert_array_equal(lengths, [2500, 1500, 500])
    np.testing.assert_array_equal(sums[0], lengths)
    again = summer.partial()
    np.testing.assert_array_equal(again[1], sums)
    more, _ = summer.push(np.ones((1, 500)))
    np.testing.assert_array_equal(more[0], [3000.0])  # window 8 completes at 11 000


def test_memory_is_bounded_by_one_window():
    summer = WindowSums(2, 4410.0, None)
    for _ in range(50):
        summer.push(np.ones((2, 100_003)))
        assert summer._buffer.shape[1] < 4410
