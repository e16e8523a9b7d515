"""The jobs panel lists running and queued generations, shows progress and cancels from its buttons."""

import pytest
from PySide6.QtCore import Qt

from foleystudio.ui.jobs_panel import EMPTY_TEXT, JobsPanel
from foleystudio.ui.worker import GenerationWorker
from tests.ui.test_worker import WAIT_MS, Gate, job


@pytest.fixture
def gated(qtbot):
    gate = Gate()
    worker = GenerationWorker(engine_loader=gate)
    panel = JobsPanel(worker)
    qtbot.addWidget(panel)
    panel.show()
    yield gate, worker, panel
    gate.open()
    assert worker.shutdown(5000)


def labels(panel):
    return [row.label.text() for row in panel.rows()]


def test_rows_follow_the_queue_and_the_running_bar_fills(qtbot, gated):
    gate, worker, panel = gated
    assert labels(panel) == [] and panel.empty_label.text() == EMPTY_TEXT and panel.empty_label.isVisible()
    worker.submit(job("Steps"))
    worker.submit(job("Rain"))
    assert labels(panel) == ["Steps", "Rain"]
    assert panel.row("Rain").bar.format() == "queued" and panel.row("Steps").bar.maximum() == 0  # busy
    qtbot.waitUntil(gate.reached.is_set, timeout=WAIT_MS)
    bars = []
    worker.progress.connect(lambda job_id, i, total: bars.append((job_id, panel.row(job_id).bar.value(),
                                                                   panel.row(job_id).bar.maximum())))
    with qtbot.waitSignal(worker.job_started, timeout=WAIT_MS, check_params_cb=lambda job_id: job_id == "Rain"):
        gate.open()
    assert bars == [("Steps", 1, 3), ("Steps", 2, 3), ("Steps", 3, 3)]
    assert labels(panel) == ["Rain"]
    assert not panel.empty_label.isVisible()
    qtbot.waitUntil(lambda: labels(panel) == [] and panel.empty_label.isVisible(), timeout=WAIT_MS)


def test_cancel_buttons_drop_a_queued_job_and_stop_the_running_one(qtbot, gated):
    gate, worker, panel = gated
    for name in ("Steps", "Rain", "Door"):
        worker.submit(job(name))
    qtbot.waitUntil(gate.reached.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.job_cancelled, timeout=1000, check_params_cb=lambda job_id: job_id == "Rain"):
        qtbot.mouseClick(panel.row("Rain").cancel_button, Qt.MouseButton.LeftButton)
    assert labels(panel) == ["Steps", "Door"] and [j.job_id for j in worker.pending()] == ["Door"]
    with qtbot.waitSignal(worker.job_cancelled, timeout=WAIT_MS, check_params_cb=lambda job_id: job_id == "Steps"):
        qtbot.mouseClick(panel.row("Steps").cancel_button, Qt.MouseButton.LeftButton)
        row = panel.row("Steps")
        assert row.bar.format() == "cancelling" and not row.cancel_button.isEnabled()
        gate.open()
    assert labels(panel) in (["Door"], [])
    qtbot.waitUntil(lambda: labels(panel) == [], timeout=WAIT_MS)
