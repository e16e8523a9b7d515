"""From the engine's generated takes to files and project takes (Qt-free glue; the engine itself
knows nothing of projects).

`write_take` writes a take as a 24-bit BWF with its loudness in the ``bext`` chunk (the CLI and the
application share it); `project_take` also makes the project document's `Take`, with every
parameter that made it, for a layer's list of takes.
"""

from __future__ import annotations

from pathlib import Path

from foleystudio.audio.loudness import measure
from foleystudio.audio.wav import BextInfo, write_wav
from foleystudio.project.media import MediaReference
from foleystudio.project.take import FrozenMapping, Take


def write_take(take, path: Path, overwrite: bool) -> None:
    """A take (`engine.pipeline.GeneratedTake`) as 24-bit BWF carrying its programme loudness."""
    report = measure(take.audio, take.sample_rate)
    request = take.request
    start = request.video.start_s if request.video else 0.0
    bext = BextInfo(
        description=(request.caption or "FoleyStudio take")[:256],
        originator_reference=f"seed {take.seed}"[:32],
        time_reference_samples=int(round(start * take.sample_rate)),
        integrated_lufs=None if report.is_silent else report.integrated_lufs,
        loudness_range_lu=report.loudness_range_lu,
        max_true_peak_dbtp=max(report.true_peak_dbtp, -327.0),
        max_momentary_lufs=max(report.max_momentary_lufs, -327.0),
        max_short_term_lufs=max(report.max_short_term_lufs, -327.0),
    )
    write_wav(path, take.audio, take.sample_rate, bit_depth=24, bext=bext, overwrite=overwrite)


def project_take(take, path: str | Path, name: str, project_folder: Path | None = None) -> Take:
    """Write ``take`` to ``path`` (never over an existing file) and return the project's `Take` for it."""
    path = Path(path)
    write_take(take, path, overwrite=False)
    return Take(
        name=name,
        audio=MediaReference.for_file(path, project_folder),
        parameters=FrozenMapping(take.parameters()),
        measured_curve=take.measured_curve,
        model_id=take.model_id,
    )
