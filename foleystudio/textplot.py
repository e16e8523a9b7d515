"""A loudness curve drawn with characters, for terminals (the CLI and the headless demo)."""

from __future__ import annotations

import numpy as np

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve


def _columns(values: np.ndarray, width: int) -> np.ndarray:
    """Loudest value in each of ``width`` equal stretches (peaks must stay visible when squeezed)."""
    edges = np.linspace(0, len(values), width + 1).astype(int)
    return np.array([values[a:max(b, a + 1)].max() for a, b in zip(edges[:-1], edges[1:])])


def plot_curve(curve: LoudnessCurve, width: int = 72, height: int = 12) -> str:
    """Left channel as 'L', right as 'R', both as '#'; y from the floor of the data to its top."""
    width = max(8, min(width, len(curve))) if len(curve) >= 8 else len(curve)
    left, right = _columns(curve.left, width), _columns(curve.right, width)
    top = float(np.ceil(max(left.max(), right.max()) / 6.0) * 6.0)
    bottom = max(FLOOR_LUFS, float(np.floor(min(left.min(), right.min()) / 6.0) * 6.0))
    if top - bottom < 6.0:
        bottom = top - 6.0
    levels = np.linspace(top, bottom, height)
    step = (top - bottom) / max(height - 1, 1)

    def row_of(values):
        return np.clip(np.round((top - values) / step), 0, height - 1).astype(int)

    grid = [[" "] * width for _ in range(height)]
    for column, (row_l, row_r) in enumerate(zip(row_of(left), row_of(right))):
        grid[row_l][column] = "L"
        grid[row_r][column] = "#" if row_r == row_l else "R"
    lines = [f"{level:7.1f} |" + "".join(cells) for level, cells in zip(levels, grid)]
    axis = " " * 8 + "+" + "-" * width
    span = f"{curve.times[0]:.1f} s".ljust(width // 2) + f"{curve.end_s:.1f} s".rjust(width - width // 2)
    return "\n".join(lines + [axis, " " * 9 + span, " " * 9 + "LUFS per channel: L left, R right, # both"])
