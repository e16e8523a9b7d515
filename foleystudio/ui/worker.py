"""Background generation: the one bridge between the engine's step generator and Qt.

`GenerationWorker` runs `GenerationJob` s one at a time on one background thread it owns, and
reports them with Qt signals that are always emitted on the GUI thread:

* ``job_started(job_id)``, ``progress(job_id, i, total)`` (steps done over all windows of the take),
  then exactly one of ``job_finished(job_id, generated_takes)``, ``job_failed(job_id, message)``,
  ``job_cancelled(job_id)``; ``queue_changed()`` whenever `pending` / `running` change.

Design choices:

* The GUI thread is the scheduler. Its `pending` queue and `running` job are touched only on the
  GUI thread; the background thread is handed one job at a time (with that job's cancel
  ``threading.Event``) through a thread-safe queue and sends back what happened through a private
  signal with a queued connection. So the public signals, `pending()` and `running()` always agree
  with each other, slots connected to them run on the GUI thread (lambdas included), and the
  background thread never touches widgets, the session or the project.
* Cancelling a queued job drops it at once. Cancelling the running job sets its event: the sampler
  polls it at every step and raises `GenerationCancelled` before decoding. A job whose event is set
  is reported cancelled even if its thread finished in the meantime, so a cancel is always honoured.
* Engines are loaded on the background thread, the first time a (model, device) pair is asked
  for, and cached: loading takes seconds for a real model and can fail (an unknown model, a broken
  model folder), which is reported as that job's failure; the next job still runs.
* The background thread is a Python ``threading.Thread`` rather than a ``QThread``: a QThread that
  runs Python code (every log record asks for ``threading.current_thread()``) leaves a
  ``threading._DummyThread`` registered for the life of the process on Python 3.11 (always "alive",
  cannot be joined), so the test suite's leftover-thread check fails on it after every run. A plain
  thread joins for real; Qt adopts it for signal delivery like any other thread. There is still
  exactly one, started with the first job and joined by `shutdown`.
* The engine's modules are imported with this module, on the GUI thread at start-up, never first
  on the worker thread: importing them (torch, scipy, PyAV extension modules) holds the GIL for
  over 100 ms at a time, which froze the GUI thread during the first generation of a session.
* `UserInputError` (and its `MediaError` / `ModelError`) carry a message fit for the user; anything
  else is an internal error: logged with its traceback, reported with the log file's path.

`GenerationController` is the GUI-thread helper that connects the worker to a `Session`: it builds
the request from a layer (`foleystudio.generation`), queues it, and when takes come back writes
their files and adds them to the layer as one undoable step (the last variation selected).
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot

from foleystudio.engine.builder import load_engine
from foleystudio.engine.pipeline import generate, take_plan
from foleystudio.engine.request import GenerationRequest
from foleystudio.engine.sampler import GenerationCancelled
from foleystudio.errors import UserInputError
from foleystudio.generation import next_seed, request_for_layer, takes_from_generated
from foleystudio.ui.commands import AddTake
from foleystudio.ui.session import Session

logger = logging.getLogger(__name__)

DEFAULT_SHUTDOWN_MS = 10_000
_STOP = object()  # put on the job queue to end the background thread


@dataclass(frozen=True)
class GenerationJob:
    """One generation to run: ``request`` for layer ``layer_id``, shown as ``label``.

    ``start_s`` is where the takes start on the project's timeline (recorded with each take).
    """

    job_id: str
    layer_id: str
    request: GenerationRequest
    label: str
    start_s: float = 0.0


def new_job_id() -> str:
    return uuid.uuid4().hex


def log_file() -> Path | None:
    """The log file our logging set-up writes to (`foleystudio.logs.setup_logging`), if any."""
    for handler in logging.getLogger("foleystudio").handlers:
        if getattr(handler, "_foleystudio", False) and getattr(handler, "baseFilename", None):
            return Path(handler.baseFilename)
    return None


class GenerationWorker(QObject):
    """Runs generation jobs one at a time on one background thread; see the module docstring."""

    job_started = Signal(str)
    progress = Signal(str, int, int)
    job_finished = Signal(str, object)  # job id, list[GeneratedTake]
    job_failed = Signal(str, str)
    job_cancelled = Signal(str)
    queue_changed = Signal()

    # From the background thread to the GUI thread: (job id, kind, payload).
    _report = Signal(str, str, object)

    def __init__(self, parent: QObject | None = None,
                 engine_loader: Callable[[str, str], object] = load_engine) -> None:
        super().__init__(parent)
        self._load_engine = engine_loader
        self._engines: dict[tuple[str, str], object] = {}  # background thread only
        self._pending: deque[GenerationJob] = deque()
        self._running: GenerationJob | None = None
        self._cancel_event: threading.Event | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._report.connect(self._on_report, Qt.ConnectionType.QueuedConnection)

    # ---- the queue (GUI thread) -------------------------------------------------------------------
    def submit(self, job: GenerationJob) -> None:
        """Queue ``job``; it runs after the jobs before it."""
        if self._closed:
            raise RuntimeError("the generation worker has been shut down")
        if not isinstance(job, GenerationJob):
            raise TypeError(f"submit takes a GenerationJob, got {type(job).__name__}")
        if self._find(job.job_id) is not None:
            raise ValueError(f"a job with id {job.job_id!r} is already queued or running")
        self._pending.append(job)
        logger.info("queued generation %s (%s)", job.job_id, job.label)
        self.queue_changed.emit()
        self._dispatch()

    def pending(self) -> list[GenerationJob]:
        """Queued jobs, next first (not the running one)."""
        return list(self._pending)

    def running(self) -> GenerationJob | None:
        return self._running

    def cancel(self, job_id: str) -> bool:
        """Drop a queued job, or stop the running one at its next step; False for an unknown id."""
        for job in self._pending:
            if job.job_id == job_id:
                self._pending.remove(job)
                logger.info("cancelled queued generation %s", job_id)
                self.job_cancelled.emit(job_id)
                self.queue_changed.emit()
                return True
        if self._running is not None and self._running.job_id == job_id:
            logger.info("cancelling running generation %s", job_id)
            self._cancel_event.set()
            return True
        return False

    def cancel_all(self) -> None:
        for job in [*self._pending, *([self._running] if self._running else [])]:
            self.cancel(job.job_id)

    def shutdown(self, timeout_ms: int = DEFAULT_SHUTDOWN_MS) -> bool:
        """Cancel everything and join the background thread (call before the app exits).

        Returns whether the thread ended within ``timeout_ms``. Later `submit` calls raise.
        """
        self.cancel_all()
        self._closed = True
        thread, self._thread = self._thread, None
        stopped = True
        if thread is not None:
            self._inbox.put(_STOP)
            thread.join(timeout_ms / 1000.0)
            stopped = not thread.is_alive()
            if stopped:
                logger.info("generation thread stopped")
            else:
                logger.error("the generation thread did not stop within %d ms", timeout_ms)
        if self._running is not None:
            # Its report from the thread is still queued (or never comes): end it here, so every
            # job has had its last signal when shutdown returns. The late report is then ignored.
            job_id, self._running, self._cancel_event = self._running.job_id, None, None
            self.job_cancelled.emit(job_id)
            self.queue_changed.emit()
        return stopped

    def _find(self, job_id: str) -> GenerationJob | None:
        jobs = [*self._pending, *([self._running] if self._running else [])]
        return next((job for job in jobs if job.job_id == job_id), None)

    def _dispatch(self) -> None:
        """Hand the next queued job to the background thread when it is idle."""
        if self._closed or self._running is not None or not self._pending:
            return
        job = self._pending.popleft()
        self._running, self._cancel_event = job, threading.Event()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="foleystudio-generation", daemon=True)
            self._thread.start()
        self._inbox.put((job, self._cancel_event))
        self.job_started.emit(job.job_id)
        self.queue_changed.emit()

    @Slot(str, str, object)
    def _on_report(self, job_id: str, kind: str, payload) -> None:
        job = self._running
        if job is None or job.job_id != job_id:
            return  # a report that arrived after shutdown dropped the job
        if kind == "progress":
            self.progress.emit(job_id, *payload)
            return
        if kind == "finished" and self._cancel_event.is_set():
            kind = "cancelled"  # the user cancelled while the last step or decoding ran
        self._running, self._cancel_event = None, None
        if kind == "finished":
            self.job_finished.emit(job_id, payload)
        elif kind == "failed":
            self.job_failed.emit(job_id, payload)
        else:
            self.job_cancelled.emit(job_id)
        self.queue_changed.emit()
        self._dispatch()

    # ---- the background thread ---------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            job, cancel = item
            kind, payload = self._run(job, cancel)
            self._report.emit(job.job_id, kind, payload)

    def _run(self, job: GenerationJob, cancel: threading.Event) -> tuple[str, object]:
        request = job.request
        try:
            if cancel.is_set():
                return "cancelled", None
            engine = self._engine(request.model, request.device)
            windows = len(take_plan(engine, request.duration_s).windows)
            total = windows * request.steps
            steps = generate(engine, request, cancel=cancel)
            for done in itertools.count(1):
                try:
                    next(steps)
                except StopIteration as finished:
                    logger.info("generation %s finished", job.job_id)
                    return "finished", list(finished.value)
                self._report.emit(job.job_id, "progress", (min(done, total), total))
        except GenerationCancelled:
            logger.info("generation %s cancelled", job.job_id)
            return "cancelled", None
        except UserInputError as error:
            logger.info("generation %s failed: %s", job.job_id, error)
            return "failed", str(error)
        except Exception as error:  # noqa: BLE001 - a bug must not end the thread or the app
            logger.exception("internal error while generating %s (%s)", job.job_id, job.label)
            where = log_file()
            details = f"; details in {where}" if where else ""
            return "failed", f"internal error while generating {job.label}: {type(error).__name__}: {error}{details}"

    def _engine(self, model: str, device: str):
        key = (model, device)
        if key not in self._engines:
            logger.info("loading model %s on %s", model, device)
            self._engines[key] = self._load_engine(model, device)
        return self._engines[key]


class GenerationController(QObject):
    """Generates a session's layers in the background and adds the takes (GUI thread).

    Signals: ``message(str)`` for the status bar, ``error(str)`` for an error dialog.
    """

    message = Signal(str)
    error = Signal(str)

    def __init__(self, session: Session, worker: GenerationWorker | None = None,
                 parent: QObject | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self.worker = worker if worker is not None else GenerationWorker(self)
        self._rng = rng if rng is not None else np.random.default_rng()
        self._jobs: dict[str, tuple[GenerationJob, object]] = {}  # job id -> (job, its project)
        self.worker.job_started.connect(self._on_started)
        self.worker.job_finished.connect(self._on_finished)
        self.worker.job_failed.connect(self._on_failed)
        self.worker.job_cancelled.connect(self._on_cancelled)
        session.project_replaced.connect(self._on_project_replaced)

    def generate_layer(self, layer_id: str, model: str = "default", device: str = "auto",
                       start_s: float = 0.0, duration_s: float | None = None) -> GenerationJob | None:
        """Queue a generation of the layer; returns its job, or None (``error`` says why)."""
        project = self._session.project
        try:
            layer = project.layer(layer_id)
            request = request_for_layer(project, layer, model=model, device=device, start_s=start_s,
                                        duration_s=duration_s, seed=next_seed(layer, self._rng))
        except UserInputError as problem:
            self.error.emit(str(problem))
            return None
        count = f"{request.variations} takes" if request.variations > 1 else "1 take"
        job = GenerationJob(new_job_id(), layer_id, request, f"{layer.name} ({count})", start_s)
        self._jobs[job.job_id] = (job, project)
        self.worker.submit(job)
        self.message.emit(f"Queued {job.label}")
        return job

    def shutdown(self, timeout_ms: int = DEFAULT_SHUTDOWN_MS) -> bool:
        return self.worker.shutdown(timeout_ms)

    def _on_started(self, job_id: str) -> None:
        if job_id in self._jobs:
            self.message.emit(f"Generating {self._jobs[job_id][0].label}")

    def _on_finished(self, job_id: str, generated: list) -> None:
        job, project = self._jobs.pop(job_id, (None, None))
        if job is None:
            return
        if project is not self._session.project:
            self.message.emit(f"Discarded {job.label}: its project was closed")
            return
        try:
            layer = project.layer(job.layer_id)
        except UserInputError:
            self.message.emit(f"Discarded {job.label}: its layer was deleted")
            return
        try:
            takes = takes_from_generated(project, layer, generated, start_s=job.start_s)
        except UserInputError as problem:
            self.error.emit(f"The takes of {job.label} could not be saved: {problem}")
            return
        stack = self._session.undo_stack
        stack.beginMacro(f"Generate {layer.name}")
        for index, take in enumerate(takes):
            self._session.push(AddTake(project, layer.id, take, select=index == len(takes) - 1))
        stack.endMacro()
        self.message.emit(f"Added {', '.join(take.name for take in takes)}")

    def _on_failed(self, job_id: str, text: str) -> None:
        job, _ = self._jobs.pop(job_id, (None, None))
        if job is not None:
            self.error.emit(f"Generating {job.label} failed: {text}")

    def _on_cancelled(self, job_id: str) -> None:
        job, _ = self._jobs.pop(job_id, (None, None))
        if job is not None:
            self.message.emit(f"Cancelled {job.label}")

    def _on_project_replaced(self) -> None:
        # Takes for a project that is no longer open have nowhere to go.
        self.worker.cancel_all()
