"""Benchmark: how fast the loudness-curve editor follows a drag on a 10-minute curve; prints one JSON object.

  .venv/bin/python bench/ui_curve_redraw.py [--steps 50]

Offscreen Qt. A 600 s project whose layer curve has 3600 frames (6 Hz) shaped as swells plus noise, so
every frame is a breakpoint (the worst case: 3600 points per lane in the scatter items too), shown
whole (the full 600 s in view). One breakpoint is pressed and dragged over ``--steps`` mouse moves;
each step is timed from the synthetic mouse move to the end of ``processEvents()`` (the edit, the
undo-stack push, both lanes' redraw and the repaint). Repaints of the lanes are counted, to show
that each step really painted.

Baseline, measured in the same run on a same-size plot: ``PlotDataItem.setData`` of 3600 new
values plus ``processEvents()`` (one repaint): the least any editor built on pyqtgraph can cost.
Reported: median and max milliseconds per step for both, and their ratio.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from fractions import Fraction  # noqa: E402

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from foleystudio.audio.curve import LoudnessCurve  # noqa: E402
from foleystudio.project.document import Project  # noqa: E402
from foleystudio.ui.curve_editor import CurveEditor  # noqa: E402
from foleystudio.ui.session import Session  # noqa: E402

DURATION_S = 600.0
FRAMES = 3600
SIZE = (1280, 720)


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def summary(seconds: list[float]) -> dict:
    ms = [s * 1000.0 for s in seconds]
    return {"median_ms": round(statistics.median(ms), 3), "max_ms": round(max(ms), 3)}


def walk_curve(seed: int = 0) -> LoudnessCurve:
    # Slow swells plus noise: no two neighbouring slopes alike, so every frame is a breakpoint.
    rng = np.random.default_rng(seed)
    swell = -35.0 + 15.0 * np.sin(np.arange(FRAMES) / 40.0)
    return LoudnessCurve.uniform(swell + rng.normal(0, 2.0, FRAMES), swell + rng.normal(0, 2.0, FRAMES))


def bench_editor(app: QApplication, steps: int) -> dict:
    project = Project(frame_rate=Fraction(24), video_duration_s=DURATION_S)
    layer = project.new_layer("Rain")
    layer.update(curve=walk_curve())
    session = Session(project)
    editor = CurveEditor(session)
    editor.resize(*SIZE)
    editor.show()
    QTest.qWaitForWindowExposed(editor)
    app.processEvents()
    plot = editor.plot(0)
    view = plot.getViewBox()
    counter = PaintCounter()
    for lane in (0, 1):
        editor.plot(lane).viewport().installEventFilter(counter)

    def pixel(time_s: float, lufs: float):
        return plot.mapFromScene(view.mapViewToScene(QPointF(time_s, lufs)))

    index = FRAMES // 2
    start_t, start_v = float(layer.curve.times[index]), float(layer.curve.left[index])
    viewport = plot.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pixel(start_t, start_v))
    app.processEvents()
    counter.count = 0
    times = []
    for step in range(1, steps + 1):
        target = pixel(start_t + 0.05 * step, start_v + 20.0 * np.sin(step / 7.0))
        begin = time.perf_counter()
        QTest.mouseMove(viewport, target)
        app.processEvents()
        times.append(time.perf_counter() - begin)
    repaints = counter.count
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, target)
    app.processEvents()
    result = summary(times)
    result.update(
        breakpoints_per_lane=len(editor.breakpoints(0)[0]),
        lane_repaints=repaints,
        undo_steps=session.undo_stack.count(),
        curve_changed=bool(layer.curve.left[index] != start_v),
    )
    editor.close()
    editor.deleteLater()
    return result


def bench_baseline(app: QApplication, steps: int) -> dict:
    widget = pg.PlotWidget()
    widget.resize(SIZE[0], SIZE[1] // 2)
    widget.show()
    QTest.qWaitForWindowExposed(widget)
    curve = walk_curve(1)
    item = widget.plot(curve.times, curve.left)
    widget.setXRange(0, DURATION_S)
    app.processEvents()
    times = []
    for step in range(1, steps + 1):
        values = curve.left + 20.0 * np.sin(step / 7.0)
        begin = time.perf_counter()
        item.setData(curve.times, values)
        app.processEvents()
        times.append(time.perf_counter() - begin)
    widget.close()
    widget.deleteLater()
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="mouse moves in the drag (default 50)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    baseline = bench_baseline(app, args.steps)
    editor = bench_editor(app, args.steps)
    report = {
        "benchmark": "curve editor drag redraw",
        "frames": FRAMES,
        "duration_s": DURATION_S,
        "steps": args.steps,
        "window": list(SIZE),
        "drag_step": editor,
        "baseline_setdata_3600": baseline,
        "ratio_median": round(editor["median_ms"] / baseline["median_ms"], 2),
        "ratio_max": round(editor["max_ms"] / baseline["max_ms"], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyqtgraph": pg.__version__,
        "qpa": os.environ["QT_QPA_PLATFORM"],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
