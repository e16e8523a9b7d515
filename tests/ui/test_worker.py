"""Background generation: signals in order, takes added undoably, cancel, queue, failures, shutdown."""

import threading

import pytest

from foleystudio.engine.builder import load_engine
from foleystudio.engine.request import GenerationRequest
from foleystudio.project.document import Project
from foleystudio.project.store import save_project
from foleystudio.ui.session import Session
from foleystudio.ui.worker import GenerationController, GenerationJob, GenerationWorker

TINY = "preset:tiny"
WAIT_MS = 20_000  # generous: the machine is shared; a passing run takes well under a second


def tiny_request(**fields):
    fields = {"duration_s": 1.0, "steps": 3, "model": TINY, "device": "cpu", **fields}
    return GenerationRequest(**fields)


def job(name, **fields):
    return GenerationJob(job_id=name, layer_id="layer", request=tiny_request(**fields), label=name)


class Gate:
    """An engine loader whose engines stop inside their first sampling step until `open` is called,
    so a test can act while a job is certainly running."""

    def __init__(self):
        self.reached = threading.Event()
        self._open = threading.Event()
        self.loads = 0

    def open(self):
        self._open.set()

    def __call__(self, model, device):
        self.loads += 1
        engine = load_engine(model, device)
        velocity = engine.generator.velocity

        def held(*args, **kwargs):
            result = velocity(*args, **kwargs)
            if not self.reached.is_set():
                self.reached.set()
                self._open.wait(timeout=10)
            return result

        engine.generator.velocity = held
        return engine


@pytest.fixture
def record():
    """Connects to every signal of a worker and records (signal, *args) in order."""
    events = []

    def connect(worker):
        for name in ("job_started", "progress", "job_finished", "job_failed", "job_cancelled"):
            getattr(worker, name).connect(lambda *args, name=name: events.append((name, *args)))
        return events

    return connect


@pytest.fixture
def make_worker(qtbot):
    workers = []

    def make(**kwargs):
        workers.append(GenerationWorker(**kwargs))
        return workers[-1]

    yield make
    for worker in workers:
        assert worker.shutdown(5000)


def test_progress_arrives_in_order_and_ends_at_total(qtbot, make_worker, record):
    worker = make_worker()
    events = record(worker)
    with qtbot.waitSignal(worker.job_finished, timeout=WAIT_MS) as finished:
        worker.submit(job("a", variations=2))
    assert events[0] == ("job_started", "a")
    assert [e for e in events if e[0] == "progress"] == [("progress", "a", i, 3) for i in (1, 2, 3)]
    job_id, takes = finished.args
    assert job_id == "a" and [take.variation for take in takes] == [0, 1]
    assert takes[0].audio.shape == (2, 44100) and worker.running() is None and worker.pending() == []


def saved_session(tmp_path, **layer_fields):
    project = Project()
    project.update(video_duration_s=1.0)
    layer = project.new_layer("Door", off_screen_prompt="door slam", steps=2, **layer_fields)
    save_project(project, tmp_path / "scene.foley")
    return Session(project), layer


@pytest.fixture
def controller_for(qtbot):
    controllers = []

    def make(session, **worker_kwargs):
        controllers.append(GenerationController(session, GenerationWorker(**worker_kwargs)))
        return controllers[-1]

    yield make
    for controller in controllers:
        assert controller.shutdown(5000)


def test_a_finished_job_adds_one_take_per_variation_in_one_undo_step(qtbot, tmp_path, controller_for):
    session, layer = saved_session(tmp_path, variations=3)
    controller = controller_for(session)
    messages = []
    controller.message.connect(messages.append)
    with qtbot.waitSignal(controller.worker.job_finished, timeout=WAIT_MS):
        controller.generate_layer(layer.id, model=TINY, device="cpu")
    assert [take.name for take in layer.takes] == ["Door 1", "Door 2", "Door 3"]
    folder = tmp_path / "scene Takes"
    assert sorted(p.name for p in folder.iterdir()) == ["Door 1.wav", "Door 2.wav", "Door 3.wav"]
    assert all(session.project.resolve(take.audio).parent == folder for take in layer.takes)
    seeds = [take.parameters["seed"] for take in layer.takes]
    assert seeds == [seeds[0], seeds[0] + 1, seeds[0] + 2]
    assert layer.selected_take_id == layer.takes[-1].id
    assert messages[-1] == "Added Door 1, Door 2, Door 3"
    session.undo_stack.undo()
    assert layer.takes == () and layer.selected_take_id is None
    session.undo_stack.redo()
    assert len(layer.takes) == 3 and layer.selected_take_id == layer.takes[-1].id


def test_cancelling_the_running_job_stops_it_and_adds_nothing(qtbot, tmp_path, controller_for, record):
    session, layer = saved_session(tmp_path, variations=2)
    gate = Gate()
    controller = controller_for(session, engine_loader=gate)
    events = record(controller.worker)
    job_ = controller.generate_layer(layer.id, model=TINY, device="cpu")
    qtbot.waitUntil(gate.reached.is_set, timeout=WAIT_MS)
    assert controller.worker.running() == job_
    with qtbot.waitSignal(controller.worker.job_cancelled, timeout=WAIT_MS):
        assert controller.worker.cancel(job_.job_id)
        gate.open()
    # The sampler stopped at the step boundary after the held step: no further steps, no decode.
    assert [e for e in events if e[0] not in ("job_started", "progress")] == [("job_cancelled", job_.job_id)]
    assert len([e for e in events if e[0] == "progress"]) <= 1
    assert layer.takes == () and not (tmp_path / "scene Takes").exists()
    assert controller.worker.running() is None
    assert controller.shutdown(5000)
    assert not any(thread.name == "foleystudio-generation" for thread in threading.enumerate())


def test_a_cancelled_queued_job_is_dropped_and_jobs_run_one_after_the_other(qtbot, make_worker, record):
    gate = Gate()
    worker = make_worker(engine_loader=gate)
    events = record(worker)
    for name in ("a", "b", "c"):
        worker.submit(job(name))
    assert worker.running().job_id == "a" and [j.job_id for j in worker.pending()] == ["b", "c"]
    qtbot.waitUntil(gate.reached.is_set, timeout=WAIT_MS)
    with qtbot.waitSignal(worker.job_cancelled, timeout=1000):
        assert worker.cancel("b")
    assert [j.job_id for j in worker.pending()] == ["c"]
    assert not worker.cancel("no such job")
    with qtbot.waitSignal(worker.job_finished, timeout=WAIT_MS, check_params_cb=lambda i, takes: i == "c"):
        gate.open()
    order = [(e[0], e[1]) for e in events if e[0] != "progress"]
    assert order == [("job_started", "a"), ("job_cancelled", "b"), ("job_finished", "a"),
                     ("job_started", "c"), ("job_finished", "c")]
    assert gate.loads == 1  # the engine is loaded once per (model, device)


def test_failures_are_reported_clearly_and_the_next_job_still_runs(qtbot, tmp_path, make_worker, record):
    not_audio = tmp_path / "ref.wav"
    not_audio.write_text("not audio")
    worker = make_worker()
    events = record(worker)
    with qtbot.waitSignal(worker.job_finished, timeout=WAIT_MS):
        worker.submit(job("bad ref", reference_audio=not_audio))
        worker.submit(job("bad model", model="nope"))
        worker.submit(job("good"))
    failures = {e[1]: e[2] for e in events if e[0] == "job_failed"}
    assert set(failures) == {"bad ref", "bad model"}
    assert "ref.wav" in failures["bad ref"] and "internal error" not in failures["bad ref"]
    assert failures["bad model"].startswith("unknown model 'nope'")
    assert events[-1][:2] == ("job_finished", "good")


def test_an_unexpected_error_is_an_internal_error_and_the_worker_goes_on(qtbot, make_worker, record):
    def broken_loader(model, device):
        if model == "broken":
            raise RuntimeError("boom")
        return load_engine(model, device)

    worker = make_worker(engine_loader=broken_loader)
    events = record(worker)
    with qtbot.waitSignal(worker.job_finished, timeout=WAIT_MS):
        worker.submit(job("x", model="broken"))
        worker.submit(job("y"))
    (failure,) = [e for e in events if e[0] == "job_failed"]
    assert failure[1] == "x" and "internal error while generating x: RuntimeError: boom" in failure[2]


def test_shutdown_cancels_everything_joins_the_thread_and_refuses_new_jobs(qtbot, make_worker, record):
    gate = Gate()
    worker = make_worker(engine_loader=gate)
    events = record(worker)
    worker.submit(job("a"))
    worker.submit(job("b"))
    qtbot.waitUntil(gate.reached.is_set, timeout=WAIT_MS)
    gate.open()  # shutdown's cancel reaches the sampler at its next step
    assert worker.shutdown(5000)
    assert sorted(e[1] for e in events if e[0] == "job_cancelled") == ["a", "b"]
    assert worker.running() is None and worker.pending() == []
    assert not any(thread.name == "foleystudio-generation" for thread in threading.enumerate())
    with pytest.raises(RuntimeError, match="shut down"):
        worker.submit(job("c"))
    qtbot.wait(50)  # the thread's late report is ignored: no second signal for "a"
    assert sorted(e[1] for e in events if e[0] in ("job_cancelled", "job_finished")) == ["a", "b"]


def test_a_missing_reference_is_an_error_before_anything_is_queued(qtbot, tmp_path, controller_for):
    session, layer = saved_session(tmp_path)
    reference = tmp_path / "gone.wav"
    reference.write_bytes(b"x")
    layer.update(reference_audio=session.project.reference_to(reference))
    reference.unlink()
    controller = controller_for(session)
    with qtbot.waitSignal(controller.error) as error:
        assert controller.generate_layer(layer.id, model=TINY, device="cpu") is None
    assert "reference sound of layer 'Door' is missing" in error.args[0] and "gone.wav" in error.args[0]
    assert controller.worker.pending() == [] and controller.worker.running() is None
