"""The main window: picture and transport on top, timeline and curve editor below, layers on the
left, prompts and guidance on the right, generation jobs at the bottom; menus a DAW user expects.

The window only assembles views and routes commands: every view reads the project through the one
`Session`; project files go through ``projects.ProjectFiles`` (open/save/autosave/recovery); the
generation controller is the one bridge to the engine. Layout (geometry, dock state) and recent
projects live in ``settings.AppSettings``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio import __version__
from foleystudio.errors import MediaError, UserInputError
from foleystudio.logs import log_dir
from foleystudio.playback import Audition
from foleystudio.project.document import Project
from foleystudio.ui.curve_editor import CurveEditor
from foleystudio.ui.export_dialog import ExportDialog
from foleystudio.ui.jobs_panel import JobsPanel
from foleystudio.ui.layers_panel import LayersPanel
from foleystudio.ui.meters import LoudnessMeterPanel, PeakMeter
from foleystudio.ui.player import Player
from foleystudio.ui.projects import ProjectFiles
from foleystudio.ui.prompt_panel import PromptPanel
from foleystudio.ui.session import Session
from foleystudio.ui.settings import AppSettings
from foleystudio.ui.timeline import Timeline
from foleystudio.ui.video_view import VideoView
from foleystudio.ui.worker import GenerationController
from foleystudio.video.timecode import seconds_to_timecode

logger = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mxf")


class SpaceToPlay(QObject):
    """Space plays and pauses wherever the focus is, except where it types a space (a prompt, a
    name): a focused button, spin box or list would otherwise take the key, and a designer hits
    Space without looking where the focus went."""

    def __init__(self, play_action: QAction, parent: QObject) -> None:
        super().__init__(parent)
        self._play = play_action

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.KeyPress or event.key() != Qt.Key.Key_Space:
            return False
        if event.modifiers() != Qt.KeyboardModifier.NoModifier or event.isAutoRepeat():
            return False
        focus = QApplication.focusWidget()
        if focus is None or focus.window() is not self.parent() or _types_text(focus):
            return False
        self._play.trigger()
        return True


def _types_text(widget) -> bool:
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    if isinstance(widget, QLineEdit):
        return not widget.isReadOnly() and not isinstance(widget.parent(), QAbstractSpinBox)
    return False


class MainWindow(QMainWindow):
    def __init__(self, session: Session | None = None, settings: AppSettings | None = None) -> None:
        super().__init__()
        self.session = session or Session(Project())
        self.settings = settings or AppSettings()
        self.files = ProjectFiles(self.session, self, self.settings)
        self.player = Player(self.session, parent=self)
        self.generation = GenerationController(self.session, parent=self)
        self.audition = None  # a reference sound being auditioned (playback.Audition)
        self._in_s: float | None = None
        self._out_s: float | None = None
        self.setObjectName("mainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self._build_views()
        self._build_actions()
        self._build_menus()
        self._connect()
        self.settings.restore_window(self)
        self.space_to_play = SpaceToPlay(self.play_action, self)
        QApplication.instance().installEventFilter(self.space_to_play)
        self._update_title()
        self._update_timecode(self.session.playhead_s)

    # ---- views -----------------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.video_view = VideoView(self.session)
        self.meters = LoudnessMeterPanel()
        self.peak_meter = PeakMeter()
        self.timeline = Timeline(self.session)
        self.curve_editor = CurveEditor(self.session)
        self.layers_panel = LayersPanel(self.session)
        self.prompt_panel = PromptPanel(self.session)
        self.layers_panel.new_layer_steps = self.prompt_panel.recommended_steps
        self.jobs_panel = JobsPanel(self.generation.worker)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self._picture_with_transport())
        meters = QSplitter(Qt.Orientation.Vertical)
        meters.addWidget(self.meters)
        meters.addWidget(self.peak_meter)
        top.addWidget(meters)
        top.setStretchFactor(0, 4)
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(self.timeline)
        lower.addWidget(self.curve_editor)
        self.timeline.setMinimumHeight(200)
        lower.setStretchFactor(0, 3)  # the timeline (all layers) over the selected layer's curves
        lower.setStretchFactor(1, 2)
        centre = QSplitter(Qt.Orientation.Vertical)
        centre.setObjectName("centreSplitter")
        centre.addWidget(top)
        centre.addWidget(lower)
        centre.setStretchFactor(0, 3)
        centre.setStretchFactor(1, 4)
        self.setCentralWidget(centre)
        self._dock("Layers", self.layers_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Prompts and guidance", self.prompt_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Generation jobs", self.jobs_panel, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.statusBar().showMessage("Ready")

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.replace(" ", "") + "Dock")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _picture_with_transport(self) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.video_view, 1)
        bar = QHBoxLayout()
        self.play_button = QPushButton("Play")
        self.play_button.setObjectName("playButton")
        self.play_button.setToolTip("Play / pause (Space)")
        self.loop_button = QToolButton()
        self.loop_button.setText("Loop")
        self.loop_button.setCheckable(True)
        self.loop_button.setToolTip("Loop between the in and out points (I / O set them)")
        self.timecode = QLabel()
        self.timecode.setObjectName("timecode")
        self.timecode.setStyleSheet("font-family: monospace; font-size: 16pt;")
        self.range_label = QLabel()
        bar.addWidget(self.play_button)
        bar.addWidget(self.loop_button)
        bar.addWidget(self.timecode)
        bar.addStretch(1)
        bar.addWidget(self.range_label)
        layout.addLayout(bar)
        return box

    # ---- actions and menus ------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work whatever has focus
        return action

    def _build_actions(self) -> None:
        files = self.files
        self.new_action = self._action("&New Project", files.new_project, QKeySequence.StandardKey.New)
        self.open_action = self._action("&Open Project…", files.open_dialog, QKeySequence.StandardKey.Open)
        self.open_video_action = self._action("Open &Video…", self.open_video_dialog, "Ctrl+Shift+O")
        self.save_action = self._action("&Save", files.save, QKeySequence.StandardKey.Save)
        self.save_as_action = self._action("Save &As…", files.save_as, QKeySequence.StandardKey.SaveAs)
        self.export_action = self._action("&Export Stems…", self.show_export, "Ctrl+E")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        stack = self.session.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Shift+Z")])
        self.generate_action = self._action("&Generate Selected Layer", self.generate_selected, "Ctrl+G")
        self.cancel_action = self._action("&Cancel All Jobs", self.generation.worker.cancel_all, "Ctrl+.")
        self.play_action = self._action("Play / Pause", self.player.toggle, Qt.Key.Key_Space)
        self.reverse_action = self._action("Shuttle Back (J)", lambda: self.player.shuttle(-1.0), Qt.Key.Key_J)
        self.stop_action = self._action("Stop (K)", self.player.pause, Qt.Key.Key_K)
        self.forward_action = self._action("Shuttle Forward (L)", lambda: self.player.shuttle(1.0), Qt.Key.Key_L)
        self.back_frame_action = self._action("Previous Frame", lambda: self.player.step_frames(-1), Qt.Key.Key_Left)
        self.next_frame_action = self._action("Next Frame", lambda: self.player.step_frames(1), Qt.Key.Key_Right)
        self.start_action = self._action("Go to Start", lambda: self.player.seek(0.0), Qt.Key.Key_Home)
        self.in_action = self._action("Set In Point", self.set_in_point, Qt.Key.Key_I)
        self.out_action = self._action("Set Out Point", self.set_out_point, Qt.Key.Key_O)
        self.clear_range_action = self._action("Clear In/Out", self.clear_range, "Alt+X")
        self.loop_action = self._action("Loop In/Out", self.toggle_loop, "Ctrl+L")
        self.loop_action.setCheckable(True)
        self.fit_action = self._action("Zoom to Fit", self.timeline.zoom_to_fit, "Ctrl+0")
        self.reset_curve_action = self._action("Reset Curve", self.curve_editor.reset_curve)
        self.curve_from_file_action = self._action("Curve from Audio File…", self.curve_from_file)
        self.curve_from_video_action = self._action("Predict Curve from Video", self.curve_from_video, "Ctrl+P")
        self.log_action = self._action("Show Log Folder", self.show_log_folder)
        self.about_action = self._action("About FoleyStudio", self.show_about)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (self.new_action, self.open_action):
            file_menu.addAction(action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addAction(self.open_video_action)
        file_menu.addSeparator()
        for action in (self.save_action, self.save_as_action, self.export_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        edit = bar.addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        curve_menu = bar.addMenu("&Curve")
        for action in (self.curve_from_video_action, self.curve_from_file_action, self.reset_curve_action):
            curve_menu.addAction(action)
        layer_menu = bar.addMenu("&Layer")
        for name in ("add_action", "duplicate_action", "rename_action", "delete_action", "move_up_action",
                     "move_down_action"):
            action = getattr(self.layers_panel, name, None)
            if action is not None:
                layer_menu.addAction(action)
        layer_menu.addSeparator()
        layer_menu.addAction(self.generate_action)
        layer_menu.addAction(self.cancel_action)
        transport = bar.addMenu("&Transport")
        for action in (self.play_action, self.reverse_action, self.stop_action, self.forward_action, None,
                       self.back_frame_action, self.next_frame_action, self.start_action, None, self.in_action,
                       self.out_action, self.clear_range_action, self.loop_action):
            transport.addSeparator() if action is None else transport.addAction(action)
        view = bar.addMenu("&View")
        view.addAction(self.fit_action)
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.log_action)
        help_menu.addAction(self.about_action)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_projects()
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)
        for path in recent:
            self.recent_menu.addAction(str(path), lambda checked=False, p=path: self.files.open_path(p))

    # ---- signals ---------------------------------------------------------------------------------
    def _connect(self) -> None:
        session = self.session
        session.dirty_changed.connect(lambda _dirty: self._update_title())
        session.project_replaced.connect(self._update_title)
        session.project_replaced.connect(self.clear_range)
        session.playhead_moved.connect(self._update_timecode)
        self.play_button.clicked.connect(self.player.toggle)
        self.loop_button.toggled.connect(self.loop_action.setChecked)
        self.loop_action.toggled.connect(self._apply_loop)
        self.player.state_changed.connect(lambda playing: self.play_button.setText("Pause" if playing else "Play"))
        self.player.levels.connect(self.meters.on_levels)
        self.player.levels.connect(self.peak_meter.on_levels)
        self.video_view.video_dropped.connect(lambda path: self.files.use_video(Path(path)))
        for source in (self.player, self.timeline, self.curve_editor, self.files, self.layers_panel,
                       self.prompt_panel):
            signal = getattr(source, "status_message", None) or getattr(source, "message", None)
            if signal is not None:
                signal.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.generation.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.generation.error.connect(self.show_error)
        self.prompt_panel.generate_requested.connect(lambda layer_id: self.generate_layer(layer_id))
        if hasattr(self.prompt_panel, "play_reference"):
            self.prompt_panel.play_reference.connect(self._play_reference)
        self._remember_model_and_device()

    def _remember_model_and_device(self) -> None:
        """The model and device a user chose come back next time, if they are still there (a removed
        model or an unplugged GPU leaves the picker on its default)."""
        for key, choose, changed in (("generation/model", self.prompt_panel.set_model, self.prompt_panel.model_changed),
                                     ("generation/device", self.prompt_panel.set_device, self.prompt_panel.device_changed)):
            saved = self.settings.value(key)
            if saved:
                choose(str(saved))
            changed.connect(lambda value, key=key: self.settings.set_value(key, value))

    def _update_title(self) -> None:
        project = self.session.project
        self.setWindowTitle(f"{project.name}[*] — FoleyStudio")
        self.setWindowModified(project.dirty)

    def _update_timecode(self, seconds: float) -> None:
        rate = self.session.project.frame_rate
        self.timecode.setText(seconds_to_timecode(seconds, rate))

    # ---- commands --------------------------------------------------------------------------------
    def generate_selected(self) -> None:
        layer = self.session.selected_layer()
        if layer is None:
            self.statusBar().showMessage("Add or select a layer to generate", 5000)
            return
        self.generate_layer(layer.id)

    def generate_layer(self, layer_id: str):
        """Queue a generation of the layer: over the in/out range when one is set, else the whole video."""
        span = self.in_out()
        start, duration = (0.0, None) if span is None else (span[0], span[1] - span[0])
        return self.generation.generate_layer(layer_id, self.prompt_panel.model() or "default",
                                              self.prompt_panel.device(), start_s=start, duration_s=duration)

    def curve_from_file(self) -> None:
        """Fill the selected layer's curve with the loudness of an audio file (a reference, a temp mix)."""
        if self.session.selected_layer() is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Loudness curve from audio file", "",
                                              "Audio (*.wav *.flac *.aif *.aiff *.ogg *.mp3);;All files (*)")
        if path:
            try:
                self.curve_editor.fill_from_audio_file(path)
            except (UserInputError, MediaError) as error:
                self.show_error(str(error))

    def curve_from_video(self) -> bool:
        """Fill the selected layer's curve with the LUFS predictor's reading of the picture."""
        from foleystudio.engine.builder import load_engine
        from foleystudio.engine.checkpoint import ModelError
        from foleystudio.engine.lufs_predictor import predict_curve

        project = self.session.project
        video = project.resolve(project.video) if project.video is not None else None
        if self.session.selected_layer() is None or video is None:
            self.show_error("Predicting a curve needs a video and a selected layer.")
            return False
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            engine = load_engine(self.prompt_panel.model() or "default", self.prompt_panel.device())
            curve = predict_curve(engine.lufs_predictor, video, 0.0, project.video_duration_s, engine.device)
        except (UserInputError, MediaError, ModelError) as error:
            self.show_error(f"Could not predict the curve: {error}")
            return False
        finally:
            QApplication.restoreOverrideCursor()
        self.curve_editor.fill_from_curve(curve, "Predict curve from video")
        self.statusBar().showMessage(f"Curve predicted from the picture by {engine.model_id}", 8000)
        return True

    def set_in_point(self) -> None:
        self._in_s = self.session.playhead_s
        if self._out_s is not None and self._out_s <= self._in_s:
            self._out_s = None
        self._show_range()

    def set_out_point(self) -> None:
        self._out_s = self.session.playhead_s
        if self._in_s is not None and self._in_s >= self._out_s:
            self._in_s = None
        self._show_range()

    def clear_range(self) -> None:
        self._in_s = self._out_s = None
        self._show_range()

    def in_out(self) -> tuple[float, float] | None:
        if self._in_s is None and self._out_s is None:
            return None
        start = self._in_s or 0.0
        end = self._out_s if self._out_s is not None else self.session.project.video_duration_s
        return (start, end) if end > start else None

    def _show_range(self) -> None:
        span = self.in_out()
        self.timeline.set_loop(span)
        rate = self.session.project.frame_rate
        self.range_label.setText("" if span is None else
                                 f"In {seconds_to_timecode(span[0], rate)}  Out {seconds_to_timecode(span[1], rate)}")
        self._apply_loop(self.loop_action.isChecked())

    def toggle_loop(self) -> None:
        self.loop_button.setChecked(self.loop_action.isChecked())

    def _apply_loop(self, on: bool) -> None:
        self.loop_button.setChecked(on)
        span = self.in_out()
        if on and span is not None:
            self.player.set_loop(*span)
        else:
            self.player.clear_loop()

    def open_video_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", "Video (*.mp4 *.mov *.mkv *.avi *.m4v *.webm *.mxf)")
        if path:
            self.files.use_video(Path(path))

    def show_export(self) -> None:
        dialog = ExportDialog(self.session, self)
        dialog.exec()

    def show_error(self, message: str) -> None:
        logger.warning("shown to the user: %s", message)
        QMessageBox.warning(self, "FoleyStudio", message)

    def show_log_folder(self) -> None:
        QMessageBox.information(self, "Log folder", f"FoleyStudio writes its log to\n{log_dir()}")

    def show_about(self) -> None:
        QMessageBox.about(self, "About FoleyStudio",
                          f"FoleyStudio {__version__}\nFoley authoring with a local generative model.\n"
                          "Everything runs on this computer.")

    def _play_reference(self, path) -> None:
        """Audition the reference sound on its own; the project's playback pauses meanwhile."""
        self.player.pause()
        self._stop_audition()
        try:
            self.audition = Audition(path)
        except (UserInputError, MediaError) as error:
            self.show_error(str(error))
            return
        reason = self.audition.reason
        self.statusBar().showMessage(f"Reference {Path(path).name}" + (f": {reason}" if reason else " playing"), 8000)

    def _stop_audition(self) -> None:
        if self.audition is not None:
            self.audition.close()
            self.audition = None

    # ---- drag and drop ----------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(Path(url.toLocalFile()).suffix.lower() in VIDEO_SUFFIXES + (".foley",) for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() == ".foley":
                self.files.open_path(path)
            elif path.suffix.lower() in VIDEO_SUFFIXES:
                self.files.use_video(path)
            event.acceptProposedAction()
            return

    # ---- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self.files.confirm_discard("closing"):
            event.ignore()
            return
        self.settings.save_window(self)
        self.shutdown()
        event.accept()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.timeline.graphics.setFocus()  # not a text field: the transport keys work at once

    def shutdown(self) -> None:
        """Stop playback, jobs and background threads (also for tests)."""
        QApplication.instance().removeEventFilter(self.space_to_play)
        self._stop_audition()
        self.player.close()
        self.generation.shutdown()
        self.video_view.close()
        self.files.stop()

