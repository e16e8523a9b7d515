"""The hover tooltip of a take: what made it (prompts, guidance, steps, seed, model, time) and
about how loud it is.

The loudness comes from the take's measured 1/6 s curve rather than its audio, so hovering never
reads a file; the figure is therefore close to, but not exactly, the BS.1770 integrated loudness,
and the tooltip says "about".
"""

from __future__ import annotations

import numpy as np

from foleystudio.audio.curve import FLOOR_LUFS, LoudnessCurve
from foleystudio.audio.loudness_programme import integrated_loudness, power_from_lufs
from foleystudio.project.take import Take

# The generation parameters shown, in this order, with their labels; others are left out.
_TOOLTIP_FIELDS = (
    ("on_screen_prompt", "On-screen prompt"),
    ("off_screen_prompt", "Off-screen prompt"),
    ("heard_as", "Prompt heard as"),
    ("negative_prompt", "Negative prompt"),
    ("reference_audio", "Reference sound"),
    ("bank_reference", "Reference from the model's bank"),
    ("follow_video", "Follows video"),
    ("video_guidance", "Video guidance"),
    ("text_guidance", "Text guidance"),
    ("audio_guidance", "Reference guidance"),
    ("adherence", "Loudness adherence"),
    ("reference_likeness", "Reference likeness"),
    ("reference_recordings", "Recordings laid out"),
    ("steps", "Steps"),
    ("sampler", "Sampler"),
    ("seed", "Seed"),
    ("variation", "Variation"),
    ("duration_s", "Duration (s)"),
    ("device", "Device"),
)


def approximate_integrated_lufs(curve: LoudnessCurve) -> float:
    """Gated integrated loudness (BS.1770 gates) of a take from its measured 1/6 s curve.

    Cheap (no audio is read) and close, but not the standard figure: the gating blocks are the
    curve's 1/6 s frames rather than 400 ms blocks, which is why the tooltip says "about".
    Channels add as powers (BS.1770 weights 1 for left and right); floor frames count as silence.
    """
    def power(values: np.ndarray) -> np.ndarray:
        return np.where(values <= FLOOR_LUFS, 0.0, power_from_lufs(values))

    return integrated_loudness(power(curve.left) + power(curve.right))


def take_tooltip(take: Take) -> str:
    """What made ``take``: its prompts, guidance, steps, seed, model and time, one per line."""
    lines = [take.name]
    parameters = take.parameters
    for key, label in _TOOLTIP_FIELDS:
        value = parameters.get(key)
        if value is None or value == "" or _unused_guidance(key, parameters):
            continue
        lines.append(f"{label}: {_shown_value(key, value)}")
    lines.append(f"Model: {parameters.get('model') or take.model_id}")
    lines.append(f"Created: {take.created.astimezone().strftime('%Y-%m-%d %H:%M:%S')}")
    if take.measured_curve is not None:
        lines.append(_loudness_line(take.measured_curve))
    return "\n".join(lines)


def _unused_guidance(key: str, parameters) -> bool:
    """A guidance scale that steered nothing: the take had no reference sound, or no picture it followed."""
    if key == "audio_guidance":
        return not parameters.get("reference_audio")
    if key == "video_guidance":
        return "follow_video" in parameters and not (parameters.get("follow_video") and parameters.get("video"))
    return False


def _shown_value(key: str, value) -> object:
    """A parameter value as the tooltip shows it: a reference sound by its file name only."""
    if key == "reference_audio":
        return str(value).replace("\\", "/").rsplit("/", 1)[-1]
    if isinstance(value, float):
        return f"{value:g}"
    return value


def _loudness_line(curve: LoudnessCurve) -> str:
    lufs = approximate_integrated_lufs(curve)
    if np.isfinite(lufs):
        return f"Integrated loudness: about {lufs:.1f} LUFS"
    return "Integrated loudness: silent"
