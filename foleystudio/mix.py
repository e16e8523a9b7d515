"""The project's sound as the user hears it: each layer's selected take, placed and gained, summed.

Which layers sound follows the DAW convention: a muted layer is silent; when any layer is soloed,
only soloed layers that are not muted sound. A take starts on the timeline where its video span
started (``parameters["video_start_s"]``, 0 for text-only takes), so a take generated for a
stretch of the picture plays under that stretch. Everything is rendered at one sample rate, stereo
float32, over the project's length (a take running past the end is cut there). Takes whose file is
missing are skipped and reported, so a project with missing media still plays what it has.

Pure numpy + the project document: playback pre-renders with it, export writes what it returns.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np

from foleystudio.audio.io import read_audio
from foleystudio.project.document import Project
from foleystudio.project.layer import Layer
from foleystudio.project.take import Take

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MixRender:
    """A rendered mix: the sum, each sounding layer's stem (gain applied), and what was left out."""

    sample_rate: int
    mix: np.ndarray  # float32 (2, n)
    stems: dict[str, np.ndarray] = field(default_factory=dict)  # layer id -> float32 (2, n)
    missing: tuple[str, ...] = ()  # names of layers whose selected take's file is missing

    @property
    def duration_s(self) -> float:
        return self.mix.shape[1] / self.sample_rate


def audible_layers(project: Project) -> list[Layer]:
    """Layers that sound: not muted, and soloed when any layer is soloed."""
    soloing = any(layer.solo for layer in project.layers)
    return [layer for layer in project.layers if not layer.mute and (layer.solo or not soloing)]


def take_start_s(take: Take) -> float:
    """Where on the timeline a take starts (its video span's start; 0 when it has none)."""
    start = take.parameters.get("video_start_s") if take.parameters else None
    return float(start) if isinstance(start, (int, float)) and math.isfinite(start) and start > 0 else 0.0


def take_audio(project: Project, take: Take, sample_rate: int) -> np.ndarray | None:
    """A take's audio as float32 (2, n) at ``sample_rate``, or None when its file is missing."""
    path = project.resolve(take.audio)
    if path is None:
        return None
    audio, _ = read_audio(path, sample_rate=sample_rate, channels=2)
    return np.ascontiguousarray(audio, dtype=np.float32)


def layer_stem(project: Project, layer: Layer, sample_rate: int, frames: int) -> np.ndarray | None:
    """The layer's selected take placed on the timeline with the layer's gain, (2, frames); None
    when the layer has no selected take or its file is missing."""
    take = layer.selected_take
    if take is None:
        return None
    audio = take_audio(project, take, sample_rate)
    if audio is None:
        return None
    stem = np.zeros((2, frames), dtype=np.float32)
    start = round(take_start_s(take) * sample_rate)
    length = max(0, min(audio.shape[1], frames - start))
    stem[:, start : start + length] = audio[:, :length] * np.float32(10.0 ** (layer.gain_db / 20.0))
    return stem


def render_mix(project: Project, sample_rate: int = 44100, layers: list[Layer] | None = None) -> MixRender:
    """Render ``layers`` (default: the audible ones) over the project's length at ``sample_rate``."""
    frames = max(1, round(project.video_duration_s * sample_rate))
    mix = np.zeros((2, frames), dtype=np.float32)
    stems, missing = {}, []
    for layer in audible_layers(project) if layers is None else layers:
        stem = layer_stem(project, layer, sample_rate, frames)
        if stem is None:
            if layer.selected_take is not None:
                missing.append(layer.name)
            continue
        stems[layer.id] = stem
        mix += stem
    if missing:
        logger.warning("mix leaves out layers whose take file is missing: %s", ", ".join(missing))
    return MixRender(sample_rate, mix, stems, tuple(missing))
