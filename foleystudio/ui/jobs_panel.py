"""The generation queue as the user sees it: one row per queued or running job.

Each row shows the job's label, a progress bar (busy until the first step of a running job, empty
while queued) and a Cancel button. The panel holds no state of its own beyond its widgets: on
``queue_changed`` it rebuilds the rows from the worker's `running()` and `pending()` (keeping the
rows of jobs still there, so a bar does not flicker), and ``progress`` moves the running job's bar.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from foleystudio.ui.worker import GenerationJob, GenerationWorker

logger = logging.getLogger(__name__)

EMPTY_TEXT = "No generations queued"


class JobRow(QWidget):
    """One job: label, progress bar, Cancel button."""

    def __init__(self, job: GenerationJob, worker: GenerationWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job_id = job.job_id
        self.setObjectName(f"job-{job.job_id}")
        self.label = QLabel(job.label, self)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip(f"Stop generating {job.label}")
        self.cancel_button.clicked.connect(lambda: self._cancel(worker))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.set_queued()

    def _cancel(self, worker: GenerationWorker) -> None:
        # A running job stops at its next step: until then the row says so and cannot be clicked again.
        self.cancel_button.setEnabled(False)
        self.bar.setFormat("cancelling")
        worker.cancel(self.job_id)

    def set_queued(self) -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setFormat("queued")

    def set_running(self) -> None:
        if self.bar.format() == "queued":
            self.bar.setRange(0, 0)  # busy: loading the model and encoding conditions come first
            self.bar.setFormat("starting")

    def set_progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(done)
        self.bar.setFormat("step %v of %m")


class JobsPanel(QWidget):
    """Lists the worker's running job first, then the queued ones."""

    def __init__(self, worker: GenerationWorker, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._worker = worker
        self._rows: dict[str, JobRow] = {}
        self.empty_label = QLabel(EMPTY_TEXT, self)
        self._layout = QVBoxLayout(self)
        self._layout.addWidget(self.empty_label)
        self._layout.addStretch(1)
        worker.queue_changed.connect(self._sync)
        worker.progress.connect(self._on_progress)
        self._sync()

    def row(self, job_id: str) -> JobRow | None:
        return self._rows.get(job_id)

    def rows(self) -> list[JobRow]:
        """The rows in display order."""
        return [self._layout.itemAt(i).widget() for i in range(self._layout.count())
                if isinstance(self._layout.itemAt(i).widget(), JobRow)]

    def _sync(self) -> None:
        running = self._worker.running()
        jobs = ([running] if running is not None else []) + self._worker.pending()
        wanted = {job.job_id for job in jobs}
        for job_id in [job_id for job_id in self._rows if job_id not in wanted]:
            row = self._rows.pop(job_id)
            self._layout.removeWidget(row)
            row.deleteLater()
        for position, job in enumerate(jobs):
            row = self._rows.get(job.job_id)
            if row is None:
                row = self._rows[job.job_id] = JobRow(job, self._worker, self)
            if self._layout.indexOf(row) != position:
                self._layout.removeWidget(row)  # inserting a widget already in the layout warns
                self._layout.insertWidget(position, row)
            if running is not None and job.job_id == running.job_id:
                row.set_running()
        self.empty_label.setVisible(not jobs)

    def _on_progress(self, job_id: str, done: int, total: int) -> None:
        row = self._rows.get(job_id)
        if row is not None:
            row.set_progress(done, total)
