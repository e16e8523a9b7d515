"""The demo project the main job opens: a short video and three layers, all made by our own code.

The picture is a corridor drawn with numpy: a figure walks from left to right, its head bobbing on
every footstep of the demo scene (``demo_scene.STEP_TIMES_S``), and a door at the right slams at
``DOOR_TIME_S`` (the frame shakes). The layers are the scene's three sounds (wind ambience,
footsteps, the door) with prompts a sound designer would write, each with one take: that sound as
synthesised by ``demo_scene`` (model id ``demo-synth``; no generator was involved), and a curve
equal to the take's measured loudness, so the editor shows a curve that the take follows.

The project is written once into a folder (by default FoleyStudio's user data folder) and then
opened as the user left it; ``ensure_demo_project(overwrite=True)`` builds it afresh.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import platformdirs

from foleystudio.audio.loudness import loudness_curve
from foleystudio.audio.wav import write_wav
from foleystudio.demo_scene import DEMO_DURATION_S, DEMO_SAMPLE_RATE, DOOR_TIME_S, STEP_TIMES_S, render_demo_parts
from foleystudio.logs import APP_NAME
from foleystudio.project.document import Project
from foleystudio.project.layer import DEFAULT_STEPS, Layer, LayerRole
from foleystudio.project.media import MediaReference
from foleystudio.project.paths import takes_folder_for
from foleystudio.project.store import load_project, save_project
from foleystudio.project.take import FrozenMapping, Take

logger = logging.getLogger(__name__)

DEMO_PROJECT_NAME = "FoleyStudio Demo.foley"
DEMO_FPS = Fraction(24)
DEMO_SIZE = (320, 180)  # width, height: small, even, 16:9
DEMO_MODEL_ID = "demo-synth"
# The demo's layers keep all of the reference sound their prompt finds in the model's bank, cut
# onto the events of the model's own take (`engine.reference_layout`): with foley-small, takes
# re-made from that layout drifted back to its noise textures (MODEL_CARD.md, "Reference
# likeness"). A model without a bank makes its plain takes (the likeness is then ignored).
DEMO_REFERENCE_LIKENESS = 1.0

# name, role, sound part, on-screen prompt, off-screen prompt
_LAYERS = (
    ("Footsteps", LayerRole.ON_SCREEN, "footsteps", "footsteps on a wooden floor, leather shoes", ""),
    ("Door slam", LayerRole.ON_SCREEN, "door", "heavy wooden door slams shut", ""),
    ("Wind", LayerRole.AMBIENCE, "wind", "", "gentle wind outside, distant and steady"),
)


def default_demo_folder() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "demo project"


def ensure_demo_project(folder: str | Path | None = None, overwrite: bool = False) -> Path:
    """The demo project's path, building it in ``folder`` when it is not there (or ``overwrite``)."""
    folder = Path(folder) if folder is not None else default_demo_folder()
    path = folder / DEMO_PROJECT_NAME
    if path.is_file() and not overwrite:
        return path
    folder.mkdir(parents=True, exist_ok=True)
    video = write_demo_video(folder / "corridor.mp4")
    project = Project()
    project.update(video=MediaReference.for_file(video), frame_rate=DEMO_FPS, video_duration_s=DEMO_DURATION_S)
    media = takes_folder_for(path)  # where the project keeps its takes, so saving copies nothing
    media.mkdir(exist_ok=True)
    parts = render_demo_parts(DEMO_SAMPLE_RATE)
    for name, role, part, on_screen, off_screen in _LAYERS:
        project.add_layer(_demo_layer(name, role, on_screen, off_screen, parts[part], media / f"{part}.wav"))
    saved = save_project(project, path, overwrite=True)
    logger.info("demo project written to %s", saved)
    return saved


def open_demo_project(folder: str | Path | None = None) -> Project:
    return load_project(ensure_demo_project(folder))


def _demo_layer(name: str, role: LayerRole, on_screen: str, off_screen: str, audio: np.ndarray, wav: Path) -> Layer:
    write_wav(wav, audio, DEMO_SAMPLE_RATE, bit_depth=24, overwrite=True)
    curve = loudness_curve(audio, DEMO_SAMPLE_RATE)
    take = Take(
        name=f"{name} (synthesised)",
        audio=MediaReference.for_file(wav),
        parameters=FrozenMapping({"source": "demo scene synthesis", "on_screen_prompt": on_screen,
                                  "off_screen_prompt": off_screen, "video_start_s": 0.0}),
        measured_curve=curve,
        model_id=DEMO_MODEL_ID,
    )
    layer = Layer.new(name, role, duration_s=DEMO_DURATION_S, on_screen_prompt=on_screen,
                      off_screen_prompt=off_screen, curve=curve, steps=_default_model_steps(),
                      reference_likeness=DEMO_REFERENCE_LIKENESS)
    layer.add_take(take)
    layer.select_take(take.id)
    return layer


def _default_model_steps() -> int:
    """The steps the default model recommends, as a new layer in the app would have them; the layer
    default when no usable default model is installed or it recommends none."""
    from foleystudio.engine.checkpoint import ModelError
    from foleystudio.engine.registry import default_model

    try:
        return default_model().recommended_steps or DEFAULT_STEPS
    except ModelError:
        return DEFAULT_STEPS


# ---- the picture ---------------------------------------------------------------------------------


def write_demo_video(path: Path) -> Path:
    """The corridor clip as H.264 MP4 at DEMO_FPS, DEMO_DURATION_S long."""
    frames = round(DEMO_DURATION_S * DEMO_FPS)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=DEMO_FPS)
        stream.width, stream.height = DEMO_SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "20", "g": "24"}
        stream.codec_context.time_base = 1 / DEMO_FPS
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(demo_frame(index / DEMO_FPS), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def demo_frame(time_s: float) -> np.ndarray:
    """The picture at ``time_s``: uint8 (H, W, 3)."""
    width, height = DEMO_SIZE
    image = np.empty((height, width, 3), dtype=np.uint8)
    shade = np.linspace(70, 30, height, dtype=np.float32)[:, None]
    image[...] = np.stack([shade * 1.1, shade * 0.95, shade * 0.8], axis=-1).astype(np.uint8)
    image[int(height * 0.78):, :] = (92, 64, 40)  # wooden floor
    _draw_door(image, time_s)
    _draw_walker(image, time_s)
    if DOOR_TIME_S <= time_s < DOOR_TIME_S + 0.25:  # the slam shakes the picture
        image = np.roll(image, 2 if int(time_s * 48) % 2 else -2, axis=0)
    return image


def _draw_door(image: np.ndarray, time_s: float) -> None:
    height, width = image.shape[:2]
    top, bottom, left = int(height * 0.25), int(height * 0.78), int(width * 0.84)
    image[top:bottom, left : left + 34] = (20, 16, 12)  # the doorway
    # Open until it swings shut over the last 0.3 s before the slam.
    closed = np.clip((time_s - (DOOR_TIME_S - 0.3)) / 0.3, 0.0, 1.0)
    panel = max(3, int(34 * closed))
    image[top:bottom, left : left + panel] = (120, 78, 44)


def _draw_walker(image: np.ndarray, time_s: float) -> None:
    height, width = image.shape[:2]
    first, last = STEP_TIMES_S[0], STEP_TIMES_S[-1]
    progress = np.clip((time_s - first + 0.3) / (last - first + 0.3), 0.0, 1.0)
    x = int(width * (0.08 + 0.68 * progress))
    since_step = min((time_s - t for t in STEP_TIMES_S if t <= time_s), default=1.0)
    bob = 3 if since_step < 0.12 else 0  # the body drops as a foot lands
    feet = int(height * 0.78)
    body_top = feet - 52 + bob
    image[body_top : feet - 14 + bob, x - 7 : x + 7] = (40, 90, 160)  # body
    image[feet - 14 : feet, x - 6 : x - 2] = (30, 30, 40)  # legs
    image[feet - 14 : feet, x + 2 : x + 6] = (30, 30, 40)
    yy, xx = np.ogrid[: image.shape[0], : image.shape[1]]
    head = (yy - (body_top - 8)) ** 2 + (xx - x) ** 2 <= 49
    image[head] = (225, 190, 160)
