"""Synthetic audio-visual training pairs: a picture whose on-screen source follows its sound.

The sound-library corpus has no video, so the video branch and the LUFS predictor learn timing and
stereo placement from rendered pictures. For a clip (the on-screen source), optionally mixed with a
second clip heard but not seen (the off-screen source, VinTAGe-style), `render_av_pair` draws one
shape per frame on a static background:

* **horizontal position** from the left/right balance of the on-screen source's per-channel
  loudness curve (`foleystudio.audio.loudness.loudness_curve`, DESIGN.md §2): with channel powers
  pL, pR the balance is (pR - pL) / (pR + pL) in [-1, 1], and the shape's centre sits at
  ``W / 2 + balance x (W / 2 - margin)`` — hard left at the left margin, centred when balanced;
* **size** from its loudness: the mean of the channel powers in LUFS, mapped linearly from
  ``QUIET_LUFS`` (smallest) to ``LOUD_LUFS`` (largest) and clipped;
* **a flash** at every onset (`foleystudio.training.onsets.detect_onsets`): at the frame holding the
  onset the shape turns white and the background brightens, then both decay by ``FLASH_DECAY`` per
  frame, so the motion-energy peak falls on the onset frame;
* **appearance** from the seed: shape (circle, square, triangle, star), colour (kept away from the
  background's brightness so the shape stays visible), background (solid, linear gradient at a
  random angle, or smooth noise texture), vertical position, off-screen mix gain.

Frame k is the picture on screen at ``k / fps`` and stands for ``[k / fps, (k + 1) / fps)``, as in
`foleystudio.engine.video_features`; its loudness is the curve's value at the frame centre.
Everything random comes from ``np.random.default_rng(seed)``: the same inputs and seed give
byte-identical frames. The off-screen source only changes the mix and the caption, never the
picture: that is what teaches the model that an off-screen sound has no picture cue.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.loudness import loudness_curve
from foleystudio.engine.request import compose_caption
from foleystudio.training.onsets import detect_onsets

logger = logging.getLogger(__name__)

SAMPLE_RATE = 44100
SHAPES = ("circle", "square", "triangle", "star")
BACKGROUNDS = ("solid", "gradient", "noise")
QUIET_LUFS = -60.0  # at or below: the smallest shape
LOUD_LUFS = -10.0  # at or above: the largest shape
MIN_RADIUS = 0.06  # of the picture's smaller side
MAX_RADIUS = 0.28
FLASH_DECAY = 0.35  # flash strength kept from one frame to the next
BACKGROUND_FLASH = 0.3  # how far (towards white) a full flash lifts the background
OFF_SCREEN_GAIN_DB = (-9.0, -3.0)  # the off-screen source sits a little under the on-screen one


@dataclass(frozen=True, eq=False)
class AVPair:
    """A rendered pair: frames, the mix they go with, and what they were derived from."""

    frames: np.ndarray  # uint8 (T, H, W, 3)
    audio: np.ndarray  # float32 (2, n) at sample_rate: on-screen + off-screen mix
    curve: LoudnessCurve  # per-channel loudness of the on-screen source (6 Hz)
    onsets_s: np.ndarray  # onset times of the on-screen source
    caption_on: str
    caption_off: str
    fps: float
    sample_rate: int = SAMPLE_RATE
    shape: str = ""
    background: str = ""

    @property
    def caption(self) -> str:
        """The training caption: which sound is on screen and which off screen."""
        return compose_caption(self.caption_on, self.caption_off)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[1] / self.sample_rate

    def onset_frames(self) -> np.ndarray:
        """Index of the frame that holds each onset (the frame that flashes)."""
        return np.unique(np.floor(self.onsets_s * self.fps + 1e-9).astype(int).clip(0, len(self.frames) - 1))


def av_caption(on_screen: str, off_screen: str = "") -> str:
    """The caption of a pair (`foleystudio.engine.request.compose_caption`)."""
    return compose_caption(on_screen, off_screen)


def _stereo(audio, name: str, samples: int | None) -> np.ndarray:
    wave = np.asarray(audio, dtype=np.float32)
    if wave.ndim != 2 or wave.shape[0] != 2 or wave.shape[1] == 0:
        raise ValueError(f"{name} must be float audio of shape (2, n), got {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"{name} contains NaN or infinite samples")
    if samples is None:
        return wave
    if wave.shape[1] >= samples:
        return wave[:, :samples]
    return np.pad(wave, ((0, 0), (0, samples - wave.shape[1])))


def _check_size(size) -> tuple[int, int]:
    height, width = (int(v) for v in size)
    if height < 8 or width < 8:
        raise ValueError(f"frame size must be at least 8 x 8 pixels, got {size}")
    return height, width


def render_av_pair(
    on_screen_audio,
    off_screen_audio=None,
    *,
    seed: int,
    fps: float = 8.0,
    size: tuple[int, int] = (64, 64),
    duration_s: float | None = None,
    caption_on: str = "",
    caption_off: str = "",
    sample_rate: int = SAMPLE_RATE,
) -> AVPair:
    """Render the picture for ``on_screen_audio`` (float32 (2, n)); see the module docstring.

    ``size`` is (height, width). ``duration_s`` defaults to the on-screen clip's length; both
    clips are cut or zero-padded to it. Deterministic for a given ``seed``.
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    height, width = _check_size(size)
    if duration_s is None:
        duration_s = np.asarray(on_screen_audio).shape[-1] / sample_rate
    if not duration_s > 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    samples = int(round(duration_s * sample_rate))
    on = _stereo(on_screen_audio, "on-screen audio", samples)
    rng = np.random.default_rng(seed)
    look = _Look.draw(rng, height, width)
    mix = on.copy()
    if off_screen_audio is not None:
        gain_db = rng.uniform(*OFF_SCREEN_GAIN_DB)
        mix += _stereo(off_screen_audio, "off-screen audio", samples) * np.float32(10.0 ** (gain_db / 20.0))
    curve = loudness_curve(on, sample_rate)
    onsets = detect_onsets(on, sample_rate)
    count = max(1, math.ceil(duration_s * fps - 1e-9))
    frames = _draw_frames(look, curve, onsets, fps, range(count))
    return AVPair(frames=frames, audio=mix, curve=curve, onsets_s=onsets, caption_on=caption_on,
                  caption_off=caption_off, fps=float(fps), sample_rate=sample_rate,
                  shape=look.shape, background=look.background_kind)


def render_frames(curve: LoudnessCurve, onsets_s, *, seed: int, fps: float = 8.0, size: tuple[int, int] = (64, 64),
                  first: int = 0, count: int) -> np.ndarray:
    """Frames ``first .. first + count - 1`` of the picture `render_av_pair` draws for a source with
    this ``curve`` and these onsets, without its audio: uint8 [count, H, W, 3].

    The picture depends only on the curve, the onsets and the seed, so a training set can keep those
    (a few bytes per clip) instead of frames and draw any stretch again, byte-identical to the pair.
    A frame index below 0 (the frame before a stretch that starts at 0) repeats frame 0.
    """
    if not fps > 0 or count < 1:
        raise ValueError(f"fps must be positive and count at least 1, got {fps} and {count}")
    height, width = _check_size(size)
    look = _Look.draw(np.random.default_rng(seed), height, width)
    return _draw_frames(look, curve, np.asarray(onsets_s, dtype=np.float64), fps,
                        range(first, first + count))


def _draw_frames(look: _Look, curve: LoudnessCurve, onsets_s: np.ndarray, fps: float, indices: range) -> np.ndarray:
    clamped = np.maximum(np.asarray(indices), 0)
    balance, level = _balance_and_level(curve, (clamped + 0.5) / fps)
    flash = flash_envelope(onsets_s, fps, int(clamped.max()) + 1)[clamped]
    return np.stack([look.frame(balance[k], level[k], flash[k]) for k in range(len(clamped))])


def _balance_and_level(curve: LoudnessCurve, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left/right balance in [-1, 1] and size level in [0, 1] at ``times``."""
    left, right = curve.values_at(times)
    p_left, p_right = 10.0 ** (left / 10.0), 10.0 ** (right / 10.0)
    silent = (left <= FLOOR_LUFS) & (right <= FLOOR_LUFS)
    balance = np.where(silent, 0.0, (p_right - p_left) / (p_right + p_left))
    lufs = 10.0 * np.log10((p_left + p_right) / 2.0)
    level = np.clip((lufs - QUIET_LUFS) / (LOUD_LUFS - QUIET_LUFS), 0.0, 1.0)
    return balance, level


def flash_envelope(onsets_s, fps: float, count: int) -> np.ndarray:
    """Flash strength per frame in [0, 1]: 1 on an onset's frame, times FLASH_DECAY each frame after."""
    strength = np.zeros(count)
    for onset in np.asarray(onsets_s, dtype=np.float64):
        first = int(math.floor(onset * fps + 1e-9))
        if 0 <= first < count:
            decay = FLASH_DECAY ** np.arange(count - first)
            strength[first:] = np.maximum(strength[first:], decay)
    return strength


# ---- drawing ---------------------------------------------------------------------------------------


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


@dataclass(frozen=True, eq=False)
class _Look:
    """Everything about a pair's appearance that the seed decides."""

    shape: str
    colour: np.ndarray  # float (3,) in [0, 1]
    background: np.ndarray  # float (H, W, 3) in [0, 1]
    background_kind: str
    rotation: float
    y_fraction: float

    @classmethod
    def draw(cls, rng: np.random.Generator, height: int, width: int) -> _Look:
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        kind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
        background = _background(rng, kind, height, width)
        colour = rng.uniform(0.0, 1.0, 3)
        # Keep the shape visible: at least 0.35 of luma away from the background's mean.
        mean_luma = float(_luma(background).mean())
        if abs(float(_luma(colour)) - mean_luma) < 0.35:
            colour = np.clip(colour + (0.45 if mean_luma < 0.5 else -0.45), 0.0, 1.0)
        return cls(shape, colour, background, kind, float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0.35, 0.65)))

    def frame(self, balance: float, level: float, flash: float) -> np.ndarray:
        height, width = self.background.shape[:2]
        side = min(height, width)
        radius = side * (MIN_RADIUS + level * (MAX_RADIUS - MIN_RADIUS))
        margin = side * MAX_RADIUS
        cx = width / 2.0 + balance * (width / 2.0 - margin)
        cy = height * self.y_fraction
        coverage = _coverage(self.shape, height, width, cx, cy, radius, self.rotation)[..., None]
        colour = self.colour + flash * (1.0 - self.colour)
        background = self.background + flash * BACKGROUND_FLASH * (1.0 - self.background)
        picture = background * (1.0 - coverage) + colour * coverage
        return np.round(np.clip(picture, 0.0, 1.0) * 255.0).astype(np.uint8)


def _background(rng: np.random.Generator, kind: str, height: int, width: int) -> np.ndarray:
    first, second = rng.uniform(0.0, 1.0, 3), rng.uniform(0.0, 1.0, 3)
    if kind == "solid":
        return np.broadcast_to(first, (height, width, 3)).copy()
    if kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        y, x = np.mgrid[0:height, 0:width]
        ramp = np.cos(angle) * x / width + np.sin(angle) * y / height
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-9)
        return first * (1 - ramp[..., None]) + second * ramp[..., None]
    # Smooth noise: a coarse random grid, bilinearly enlarged; static, so it adds no motion.
    cells = int(rng.integers(3, 9))
    grid = rng.uniform(0.0, 1.0, (cells + 1, cells + 1))
    ys, xs = np.linspace(0, cells, height), np.linspace(0, cells, width)
    y0, x0 = np.minimum(ys.astype(int), cells - 1), np.minimum(xs.astype(int), cells - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    texture = (top * (1 - fy) + bottom * fy)[..., None]
    return first * (1 - texture) + second * texture


def _coverage(shape: str, height: int, width: int, cx: float, cy: float, radius: float, rotation: float) -> np.ndarray:
    """Fraction of each pixel inside the shape (a one-pixel soft edge from a signed distance)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    dx, dy = x - cx, y - cy
    if shape == "circle":
        inside = radius - np.hypot(dx, dy)
    elif shape == "square":
        c, s = np.cos(rotation), np.sin(rotation)
        u, v = c * dx + s * dy, -s * dx + c * dy
        inside = radius * 0.85 - np.maximum(np.abs(u), np.abs(v))
    elif shape == "triangle":
        inside = np.full(dx.shape, np.inf)
        for k in range(3):  # three half-planes whose inner distance is radius / 2
            angle = rotation + k * 2 * np.pi / 3
            inside = np.minimum(inside, radius / 2 - (np.cos(angle) * dx + np.sin(angle) * dy))
    elif shape == "star":
        theta = np.arctan2(dy, dx) - rotation
        boundary = radius * (0.6 + 0.4 * np.cos(5 * theta))
        inside = boundary - np.hypot(dx, dy)
    else:
        raise ValueError(f"unknown shape {shape!r}; expected one of {', '.join(SHAPES)}")
    return np.clip(inside + 0.5, 0.0, 1.0)


# ---- viewing ---------------------------------------------------------------------------------------


def write_av_pair_mp4(pair: AVPair, path: str | Path, *, overwrite: bool = False, with_audio: bool = True) -> Path:
    """Write the pair as an H.264 MP4 (yuv420p, constant frame rate ``pair.fps``) with its mix as AAC.

    Frame sizes must be even (4:2:0 chroma). For viewing and for feeding a pair to
    `foleystudio.engine.pipeline.generate` as a video condition.
    """
    import av
    from fractions import Fraction

    from foleystudio.atomic import atomic_output

    height, width = pair.frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"MP4 frames need an even size, got {height} x {width}")
    rate = Fraction(pair.fps).limit_denominator(1001)
    with atomic_output(path, overwrite=overwrite) as temporary:
        with av.open(str(temporary), mode="w", format="mp4") as container:
            video = container.add_stream("libx264", rate=rate)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.options = {"crf": "18", "preset": "veryfast"}
            audio = container.add_stream("aac", rate=pair.sample_rate, layout="stereo") if with_audio else None
            for picture in pair.frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                container.mux(video.encode(frame))
            container.mux(video.encode())
            if audio is not None:
                _encode_audio(container, audio, pair.audio, pair.sample_rate)
    return Path(path)


def _encode_audio(container, stream, wave: np.ndarray, sample_rate: int) -> None:
    import av

    block = 1024
    clipped = np.clip(wave, -1.0, 1.0).astype(np.float32)
    for start in range(0, clipped.shape[1], block):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(clipped[:, start : start + block]),
                                           format="fltp", layout="stereo")
        frame.sample_rate = sample_rate
        frame.pts = start
        container.mux(stream.encode(frame))
    container.mux(stream.encode())
