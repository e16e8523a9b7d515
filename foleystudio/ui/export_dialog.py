"""The Export dialog: choose where and how, see every file that will be written, export, read the report.

A view over ``foleystudio.export``: every change of a field re-plans (``plan_export``) and the table
lists the plan -- file name (editable per file; the plan sanitises and de-duplicates what is typed
and the cell shows the name that will really be used), what it holds, and whether it is new or
will replace a file. Export asks before replacing anything, writes, and shows each file's
integrated loudness and true peak in the table.

Design choices:

* **Settings go back into the project only when the user exports** (``project.update(export=...)``):
  browsing options and cancelling leaves the document untouched. This is a plain document edit
  (the project becomes dirty, autosave picks it up), not an undo step: export settings are not
  part of the sound, and undoing a "setting" the user never saw change would be confusing.
  The chosen file names are not stored; they are per export.
* **Nothing modal in tests.** The questions and error boxes go through three attributes a test
  replaces: ``confirm_overwrite(paths) -> bool``, ``show_error(message)``, ``choose_folder(start)
  -> str`` ("" when cancelled). No exception escapes ``export()``: user errors show their message,
  anything else is logged with its traceback and shown as an internal error.
* **The export runs on the GUI thread**, with a progress bar kept painted between files (user
  input is excluded meanwhile, so nothing re-enters). Stems of ordinary scenes take well under a
  second each; a background worker would be the way for very long projects.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

from PySide6.QtCore import QEventLoop, QRegularExpression, Qt
from PySide6.QtGui import QGuiApplication, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from foleystudio.errors import UserInputError
from foleystudio.export import (
    ExportPlan,
    ExportReport,
    existing_files,
    missing_sources,
    plan_export,
    write_export,
)
from foleystudio.project.document import Project
from foleystudio.project.settings import (
    SUPPORTED_BIT_DEPTHS,
    SUPPORTED_SAMPLE_RATES,
    ExportSettings,
    StemNaming,
)
from foleystudio.video.timecode import seconds_to_timecode

logger = logging.getLogger(__name__)

COLUMNS = ("File", "Holds", "Status", "Integrated (LUFS)", "True peak (dBTP)", "Duration")
NAME, HOLDS, STATUS, LOUDNESS, PEAK, DURATION = range(len(COLUMNS))
STATUS_NEW = "new"
STATUS_EXISTS = "exists \u2014 will be replaced"
STATUS_WRITTEN = "written"
STATUS_REPLACED = "replaced"
_BIT_DEPTH_LABELS = {16: "16-bit PCM", 24: "24-bit PCM", 32: "32-bit float"}
_NAMING_LABELS = {StemNaming.UCS: "UCS (CatID_FXName_CreatorID_SourceID)", StemNaming.LAYER_NAME: "Layer name"}
_UCS_ID_PATTERN = QRegularExpression("[A-Za-z0-9-]{0,32}")


def _number(value: float | None, digits: int = 1) -> str:
    return "silent" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


class ExportDialog(QDialog):
    """Export stems, mixdown and review video of a session's (or a bare project's) project."""

    def __init__(self, session_or_project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        if isinstance(session_or_project, Project):
            self._session, self.project = None, session_or_project
        else:
            self._session, self.project = session_or_project, session_or_project.project
            self._session.edited.connect(self._on_input_changed)
        self.plan: ExportPlan | None = None
        self.report: ExportReport | None = None
        self._names: dict[str, str] = {}
        # Replaceable (tests; an embedding app): see the module docstring.
        self.confirm_overwrite = self._ask_overwrite
        self.show_error = self._show_error_box
        self.choose_folder = self._folder_dialog
        self._build()
        self._load(self.project.export)
        self._connect()
        self.refresh()

    # ---- construction ---------------------------------------------------------------------------
    def _build(self) -> None:
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Folder to export into")
        self.browse_button = QPushButton("Browse\u2026")
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)
        self.rate_combo = QComboBox()
        for rate in SUPPORTED_SAMPLE_RATES:
            self.rate_combo.addItem(f"{rate / 1000:g} kHz", rate)
        self.depth_combo = QComboBox()
        for depth in SUPPORTED_BIT_DEPTHS:
            self.depth_combo.addItem(_BIT_DEPTH_LABELS.get(depth, f"{depth}-bit"), depth)
        self.naming_combo = QComboBox()
        for naming, label in _NAMING_LABELS.items():
            self.naming_combo.addItem(label, naming)
        self.creator_edit, self.source_edit = QLineEdit(), QLineEdit()
        for edit in (self.creator_edit, self.source_edit):
            edit.setValidator(QRegularExpressionValidator(_UCS_ID_PATTERN, edit))
        self.creator_edit.setPlaceholderText("your initials or company (optional)")
        self.mixdown_check = QCheckBox("Mixdown (the layers as heard: mute and solo apply)")
        self.review_check = QCheckBox("Review MP4 (the picture with the mixdown)")
        if self.project.video is None:
            self.review_check.setEnabled(False)
            self.review_check.setToolTip("The project has no video.")
        form = QFormLayout()
        form.addRow("Folder", folder_row)
        form.addRow("Sample rate", self.rate_combo)
        form.addRow("Format", self.depth_combo)
        form.addRow("Names", self.naming_combo)
        form.addRow("UCS CreatorID", self.creator_edit)
        form.addRow("UCS SourceID", self.source_edit)
        form.addRow("", self.mixdown_check)
        form.addRow("", self.review_check)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (HOLDS, STATUS, LOUDNESS, PEAK, DURATION):  # numbers and short words: fit them
            self.table.horizontalHeader().setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.timecode_label = QLabel()
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.addButton(self.export_button, QDialogButtonBox.ButtonRole.ActionRole)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.timecode_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.buttons)
        self.resize(980, 480)

    def _load(self, settings: ExportSettings) -> None:
        if self.project.folder is not None:
            self.folder_edit.setText(str(self.project.folder / f"{self.project.name} Export"))
        self.rate_combo.setCurrentIndex(self.rate_combo.findData(settings.sample_rate))
        self.depth_combo.setCurrentIndex(self.depth_combo.findData(settings.bit_depth))
        self.naming_combo.setCurrentIndex(self.naming_combo.findData(settings.stem_naming))
        self.creator_edit.setText(settings.creator_id)
        self.source_edit.setText(settings.source_id)
        self.mixdown_check.setChecked(settings.mixdown)
        self.review_check.setChecked(settings.review_video and self.project.video is not None)

    def _connect(self) -> None:
        self.browse_button.clicked.connect(self._browse)
        self.export_button.clicked.connect(self.export)
        self.buttons.rejected.connect(self.reject)
        for edit in (self.folder_edit, self.creator_edit, self.source_edit):
            edit.textChanged.connect(self._on_input_changed)
        for combo in (self.rate_combo, self.depth_combo, self.naming_combo):
            combo.currentIndexChanged.connect(self._on_input_changed)
        for check in (self.mixdown_check, self.review_check):
            check.toggled.connect(self._on_input_changed)
        self.table.itemChanged.connect(self._on_name_edited)

    # ---- reading the fields ---------------------------------------------------------------------
    def settings(self) -> ExportSettings:
        """The settings the fields show."""
        return ExportSettings(
            sample_rate=self.rate_combo.currentData(),
            bit_depth=self.depth_combo.currentData(),
            stem_naming=self.naming_combo.currentData(),
            creator_id=self.creator_edit.text(),
            source_id=self.source_edit.text(),
            mixdown=self.mixdown_check.isChecked(),
            review_video=self.review_check.isChecked() and self.review_check.isEnabled(),
        )

    def _on_input_changed(self, *_args) -> None:
        self.report = None  # the report describes the files as they were, not as now planned
        self.refresh()

    def _on_name_edited(self, item: QTableWidgetItem) -> None:
        if item.column() != NAME:
            return
        self._names[item.data(Qt.ItemDataRole.UserRole)] = item.text()
        self._on_input_changed()

    def _browse(self) -> None:
        folder = self.choose_folder(self.folder_edit.text() or str(Path.home()))
        if folder:
            self.folder_edit.setText(folder)

    def _folder_dialog(self, start: str) -> str:
        return QFileDialog.getExistingDirectory(self, "Export into", start)

    # ---- the plan and the table -----------------------------------------------------------------
    def refresh(self) -> None:
        """Re-plan from the fields and show the plan (and the last report, if it still applies)."""
        self.plan = None
        problem = ""
        try:
            self.plan = plan_export(self.project, self.folder_edit.text().strip(), self.settings(), self._names)
        except UserInputError as error:
            problem = str(error)
        self._fill_table()
        if self.plan is not None:
            problem = self._plan_notes(self.plan)
        self.message_label.setText(problem)
        self.export_button.setEnabled(self.plan is not None and bool(self.plan.stems))

    def _plan_notes(self, plan: ExportPlan) -> str:
        reference = plan.time_reference_samples / plan.settings.sample_rate
        self.timecode_label.setText(
            f"BWF time reference: {seconds_to_timecode(reference, self.project.frame_rate)} "
            f"({plan.time_reference_samples} samples)"
        )
        notes = missing_sources(plan)
        if not plan.stems:
            notes.insert(0, "No layer has a selected take: nothing to export.")
        if plan.skipped:
            notes.append("Without a take, not exported: " + ", ".join(plan.skipped))
        return "\n".join(notes)

    def _fill_table(self) -> None:
        items = self.plan.items if self.plan is not None else ()
        existing = set(existing_files(self.plan)) if self.plan is not None else set()
        written = {f.path: f for f in self.report.files} if self.report is not None else {}
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(items))
            for row, item in enumerate(items):
                exported = written.get(item.path)
                if exported is not None:
                    status = STATUS_REPLACED if exported.replaced else STATUS_WRITTEN
                    numbers = (_number(exported.integrated_lufs), _number(exported.true_peak_dbtp),
                               f"{exported.duration_s:.2f} s")
                else:
                    status = STATUS_EXISTS if item.path in existing else STATUS_NEW
                    numbers = ("", "", "")
                texts = (item.name, item.label, status, *numbers)
                for column, text in enumerate(texts):
                    self._set_cell(row, column, text, item.key)
        finally:
            self.table.blockSignals(False)

    def _set_cell(self, row: int, column: int, text: str, key: str) -> None:
        cell = self.table.item(row, column)
        if cell is None:
            cell = QTableWidgetItem()
            self.table.setItem(row, column, cell)
        cell.setText(text)
        cell.setData(Qt.ItemDataRole.UserRole, key)
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if column == NAME:
            flags |= Qt.ItemFlag.ItemIsEditable
            cell.setToolTip("Double-click to rename this file")
        if column in (LOUDNESS, PEAK, DURATION):
            cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        cell.setFlags(flags)

    # ---- exporting ------------------------------------------------------------------------------
    def export(self) -> ExportReport | None:
        """Write the plan (asking before replacing files); the report, or None if not exported."""
        try:
            return self._export()
        except UserInputError as error:
            self.show_error(str(error))
        except Exception as error:  # the dialog must survive any failure; the log has the traceback
            logger.exception("export failed")
            self.show_error(f"Export failed (internal error): {error}")
        finally:
            self.progress_bar.setVisible(False)
        return None

    def _export(self) -> ExportReport | None:
        self.refresh()
        if self.plan is None:
            raise UserInputError(self.message_label.text() or "choose a folder to export into")
        existing = existing_files(self.plan)
        if existing and not self.confirm_overwrite(existing):
            return None
        settings = self.plan.settings
        self.progress_bar.setRange(0, len(self.plan.items))
        self.progress_bar.setVisible(True)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            report = write_export(self.plan, overwrite=bool(existing), progress=self._progress)
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.project.update(export=settings)  # may re-plan through the session's edited signal
        self.report = report
        self.refresh()
        self.message_label.setText(f"Exported {len(report.files)} files to {report.folder}." + _peak_warning(report))
        return report

    def _progress(self, done: int, total: int, item) -> None:
        self.progress_bar.setValue(done)
        self.progress_bar.setFormat(f"{done}/{total}: {item.name}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    # ---- message boxes (replaced in tests) ------------------------------------------------------
    def _ask_overwrite(self, paths: list[Path]) -> bool:
        listed = "\n".join(path.name for path in paths[:12]) + ("\n\u2026" if len(paths) > 12 else "")
        answer = QMessageBox.question(
            self,
            "Replace files?",
            f"{len(paths)} file(s) already exist in {paths[0].parent}:\n\n{listed}\n\nReplace them?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _show_error_box(self, message: str) -> None:
        QMessageBox.warning(self, "Export", message)


# Generated takes are limited to this; a file above it (after resampling, or in a mixdown of
# several layers) deserves a look before delivery. Said, never silently fixed: stems stay as made.
DELIVERY_CEILING_DBTP = -1.0


def _peak_warning(report) -> str:
    hot = [item.path.name for item in report.files
           if item.true_peak_dbtp is not None and item.true_peak_dbtp > DELIVERY_CEILING_DBTP + 0.05]
    if not hot:
        return ""
    return f" {len(hot)} above {DELIVERY_CEILING_DBTP:g} dBTP: {', '.join(hot)}."
