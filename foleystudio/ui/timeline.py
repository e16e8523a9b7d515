"""The timeline: a timecode ruler with the picture's thumbnails, the playhead, in/out points, and per
layer a lane group: its selected take's waveform, then its left and its right loudness lanes (the
drawn curve, with the take's measured curve dotted over it so adherence shows at a glance).

Built with pyqtgraph: every lane is a PlotItem whose x axis is linked to the ruler's, so the mouse
wheel zooms and a drag scrolls all lanes together (x only; levels never zoom). Lanes are rebuilt
from the project when layers are added, removed or moved and redrawn when a layer changes (curve,
takes, selection): the view holds no state of its own but caches of derived pictures (waveform
envelopes per take file, thumbnails per video file).

Scrubbing: drag the playhead line or click the ruler; both call ``Session.set_playhead``. Clicking a
lane selects its layer.
"""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from foleystudio.errors import MediaError
from foleystudio.mix import take_audio, take_start_s
from foleystudio.project.events import (
    FieldsChanged,
    LayerAdded,
    LayerMoved,
    LayerRemoved,
)
from foleystudio.project.layer import Layer
from foleystudio.ui.session import Session
from foleystudio.video.frames import thumbnails
from foleystudio.video.timecode import seconds_to_timecode

logger = logging.getLogger(__name__)

RULER_HEIGHT = 64
WAVE_HEIGHT = 48
LOUDNESS_HEIGHT = 30
LANE_KINDS = ("wave", "left", "right")
THUMB_HEIGHT = 36
ENVELOPE_POINTS = 2000  # per take: enough for a full-width lane, cheap to draw
LEFT_COLOUR, RIGHT_COLOUR, MEASURED_COLOUR = "#4fc3f7", "#ffb74d", "#e0e0e0"
SELECTED_BACKGROUND, LANE_BACKGROUND = QColor(48, 56, 72), QColor(32, 34, 40)
# Layer fields whose change redraws its lane.
_LANE_FIELDS = {"name", "curve", "selected_take_id", "mute", "solo", "gain_db", "takes"}


class TimecodeAxis(pg.AxisItem):
    """A time axis labelled in SMPTE timecode at the project's frame rate."""

    def __init__(self, rate: Fraction) -> None:
        super().__init__("bottom")
        self.rate = rate

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [seconds_to_timecode(max(0.0, v), self.rate) for v in values]


class Timeline(QWidget):
    """Ruler, thumbnails, playhead and one lane per layer. Signal ``status_message(str)``."""

    status_message = Signal(str)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._envelopes: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray] | None] = {}
        self._thumbs: dict[str, list] = {}
        self._lanes: dict[str, dict[str, pg.PlotItem]] = {}  # layer id -> lane kind -> plot
        self._playheads: list[pg.InfiniteLine] = []
        self._loop: tuple[float, float] | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setObjectName("timelineGraphics")
        self.graphics.ci.setSpacing(1)
        # Many layers outgrow the panel: the lanes scroll vertically, the ruler's zoom stays horizontal.
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.graphics)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll)
        session.project_replaced.connect(self.rebuild)
        session.edited.connect(self._on_edited)
        session.selection_changed.connect(lambda _id: self._paint_selection())
        session.playhead_moved.connect(self._move_playheads)
        self.rebuild()

    # ---- building ------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Recreate the ruler and every lane from the project."""
        project = self.session.project
        self.graphics.clear()
        self._lanes.clear()
        self._playheads.clear()
        self.ruler = self._make_ruler(project)
        self.graphics.addItem(self.ruler, row=0, col=0)
        row = 1
        for layer in project.layers:
            group = {}
            for kind in LANE_KINDS:
                group[kind] = self._make_lane(layer, WAVE_HEIGHT if kind == "wave" else LOUDNESS_HEIGHT)
                self.graphics.addItem(group[kind], row=row, col=0)
                row += 1
            self._lanes[layer.id] = group
            self._draw_lane(layer)
        self._paint_selection()
        self._move_playheads(self.session.playhead_s)
        self.set_loop(self._loop)
        group_height = WAVE_HEIGHT + 2 * LOUDNESS_HEIGHT
        self.graphics.setMinimumHeight(RULER_HEIGHT + group_height * max(1, len(project.layers)))

    def _make_ruler(self, project) -> pg.PlotItem:
        ruler = pg.PlotItem(axisItems={"bottom": TimecodeAxis(project.frame_rate)})
        ruler.setFixedHeight(RULER_HEIGHT)
        ruler.hideAxis("left")
        ruler.setMenuEnabled(False)
        ruler.hideButtons()
        ruler.setMouseEnabled(x=True, y=False)
        ruler.setYRange(0, 1, padding=0)
        ruler.setLimits(xMin=0.0, xMax=max(project.video_duration_s, 1e-3), yMin=0, yMax=1)
        ruler.setXRange(0.0, project.video_duration_s, padding=0)
        for time_s, image in self._thumbnails(project):
            self._add_thumbnail(ruler, project, time_s, image)
        self.loop_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 255, 255, 40))
        self.loop_region.setZValue(5)
        self.loop_region.hide()
        ruler.addItem(self.loop_region)
        ruler.vb.mouseClickEvent = self._ruler_click
        self._add_playhead(ruler, movable=True)
        return ruler

    def _make_lane(self, layer: Layer, height: int) -> pg.PlotItem:
        lane = pg.PlotItem()
        lane.setFixedHeight(height)
        lane.hideAxis("bottom")
        lane.getAxis("left").setWidth(0)
        lane.hideAxis("left")
        lane.setMenuEnabled(False)
        lane.hideButtons()
        lane.setMouseEnabled(x=True, y=False)
        lane.setXLink(self.ruler)
        lane.setYRange(-1.05, 1.05, padding=0)
        lane.vb.mouseClickEvent = lambda event, layer_id=layer.id: self._lane_click(layer_id, event)
        self._add_playhead(lane, movable=False)
        return lane

    def _add_playhead(self, plot: pg.PlotItem, movable: bool) -> None:
        line = pg.InfiniteLine(pos=0.0, angle=90, movable=movable, pen=pg.mkPen("#ff5252", width=2))
        line.setZValue(10)
        if movable:
            line.sigPositionChanged.connect(lambda item: self.session.set_playhead(item.value()))
        plot.addItem(line)
        self._playheads.append(line)

    # ---- drawing a lane --------------------------------------------------------------------------
    def _draw_lane(self, layer: Layer) -> None:
        group = self._lanes.get(layer.id)
        if group is None:
            return
        for lane in group.values():
            for item in list(lane.items):
                if not isinstance(item, pg.InfiniteLine):
                    lane.removeItem(item)
        self._draw_waveform(group["wave"], layer)
        take = layer.selected_take
        measured = take.measured_curve if take is not None else None
        offset = take_start_s(take) if take is not None else 0.0
        curve = layer.curve
        for kind, values, colour in (("left", curve.left, LEFT_COLOUR), ("right", curve.right, RIGHT_COLOUR)):
            lane = group[kind]
            lane.addItem(pg.PlotDataItem(*_curve_steps(curve.times, values, curve.frame_s), pen=pg.mkPen(colour, width=1.5)))
            if measured is not None:
                taken = measured.left if kind == "left" else measured.right
                lane.addItem(pg.PlotDataItem(*_curve_steps(measured.times + offset, taken, measured.frame_s),
                                             pen=pg.mkPen(MEASURED_COLOUR, width=1, style=Qt.PenStyle.DotLine)))
            tag = pg.TextItem("L" if kind == "left" else "R", color=colour, anchor=(0, 0))
            tag.setPos(0.0, 1.05)
            lane.addItem(tag)

    def _draw_waveform(self, lane: pg.PlotItem, layer: Layer) -> None:
        envelope = self._envelope(layer)
        if envelope is not None:
            times, top, bottom = envelope
            shade = 120 if not layer.mute else 60
            upper = pg.PlotDataItem(times, top, pen=pg.mkPen(shade, shade, shade + 30))
            lower = pg.PlotDataItem(times, -bottom, pen=pg.mkPen(shade, shade, shade + 30))
            lane.addItem(upper)
            lane.addItem(lower)
            lane.addItem(pg.FillBetweenItem(upper, lower, brush=pg.mkBrush(shade, shade, shade + 40, 110)))
        label = pg.TextItem(self._lane_title(layer), color="#dddddd", anchor=(0, 0))
        label.setPos(0.0, 1.05)
        label.setZValue(20)
        lane.addItem(label)

    @staticmethod
    def _lane_title(layer: Layer) -> str:
        flags = " [M]" if layer.mute else ""
        flags += " [S]" if layer.solo else ""
        take = layer.selected_take
        return f"{layer.name}{flags} — {take.name if take else 'no take yet'}"

    def _envelope(self, layer: Layer):
        """(times, top, bottom) of the selected take's peak envelope, cached per take file."""
        take = layer.selected_take
        if take is None:
            return None
        path = self.session.project.resolve(take.audio)
        key = (take.id, str(path))
        if key not in self._envelopes:
            self._envelopes[key] = _peak_envelope(self.session.project, take, path)
        return self._envelopes[key]

    # ---- thumbnails ------------------------------------------------------------------------------
    def _thumbnails(self, project) -> list:
        path = project.resolve(project.video) if project.video is not None else None
        if path is None:
            return []
        key = str(path)
        if key not in self._thumbs:
            count = max(1, min(40, math.ceil(project.video_duration_s / 0.5)))
            try:
                self._thumbs[key] = thumbnails(path, count, THUMB_HEIGHT)
            except (MediaError, ValueError) as error:
                logger.warning("no thumbnails for %s: %s", path, error)
                self._thumbs[key] = []
        return self._thumbs[key]

    @staticmethod
    def _add_thumbnail(ruler: pg.PlotItem, project, time_s: float, image: np.ndarray) -> None:
        count = max(1, min(40, math.ceil(project.video_duration_s / 0.5)))
        width = project.video_duration_s / count
        item = pg.ImageItem(image, axisOrder="row-major")
        # Row 0 is the top of the picture; the ruler's y axis points up, so flip the rectangle.
        item.setRect(QRectF(time_s - width / 2, 1.0, width, -0.98))
        ruler.addItem(item)

    # ---- reacting to the document ---------------------------------------------------------------
    def _on_edited(self, payload) -> None:
        if isinstance(payload, (LayerAdded, LayerRemoved, LayerMoved)):
            self.rebuild()
            return
        if isinstance(payload, FieldsChanged):
            source = payload.source
            if isinstance(source, Layer):
                if payload.names & _LANE_FIELDS:
                    self._draw_lane(source)
            else:
                self.rebuild()  # the project's video, rate or length
            return
        layer = getattr(payload, "layer", None)  # takes added, removed or replaced
        if isinstance(layer, Layer):
            self._draw_lane(layer)

    def _paint_selection(self) -> None:
        for layer_id, group in self._lanes.items():
            colour = SELECTED_BACKGROUND if layer_id == self.session.selected_layer_id else LANE_BACKGROUND
            for lane in group.values():
                lane.vb.setBackgroundColor(colour)

    def _move_playheads(self, seconds: float) -> None:
        for line in self._playheads:
            if abs(line.value() - seconds) > 1e-9:
                line.blockSignals(True)
                line.setValue(seconds)
                line.blockSignals(False)

    def set_loop(self, loop: tuple[float, float] | None) -> None:
        """Show the in/out range (None hides it)."""
        self._loop = loop
        if loop is None:
            self.loop_region.hide()
        else:
            self.loop_region.setRegion(loop)
            self.loop_region.show()

    def lanes(self, layer_id: str) -> dict[str, pg.PlotItem]:
        """The lane group of a layer: plots keyed "wave", "left", "right"."""
        return self._lanes[layer_id]

    def zoom_to_fit(self) -> None:
        self.ruler.setXRange(0.0, self.session.project.video_duration_s, padding=0)

    def visible_range(self) -> tuple[float, float]:
        low, high = self.ruler.vb.viewRange()[0]
        return float(low), float(high)

    # ---- mouse ------------------------------------------------------------------------------------
    def _ruler_click(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.session.set_playhead(self.ruler.vb.mapSceneToView(event.scenePos()).x())
            event.accept()

    def _lane_click(self, layer_id: str, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.session.select_layer(layer_id)
            event.accept()


def _curve_steps(times: np.ndarray, values: np.ndarray, frame_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A loudness curve mapped onto the lane's -1..1 height (-70..0 LUFS), at frame centres."""
    return times + frame_s / 2, (np.clip(values, -70.0, 0.0) + 70.0) / 70.0 * 2.0 - 1.0


def _peak_envelope(project, take, path: Path | None):
    if path is None:
        return None
    try:
        audio = take_audio(project, take, 44100)
    except (MediaError, ValueError) as error:
        logger.warning("no waveform for take %s: %s", take.name, error)
        return None
    if audio is None or audio.shape[1] == 0:
        return None
    bins = min(ENVELOPE_POINTS, audio.shape[1])
    usable = audio[:, : audio.shape[1] // bins * bins].reshape(2, bins, -1)
    peaks = np.abs(usable).max(axis=2)
    times = take_start_s(take) + (np.arange(bins) + 0.5) * usable.shape[2] / 44100
    return times, np.clip(peaks[0], 0.0, 1.0), np.clip(peaks[1], 0.0, 1.0)
