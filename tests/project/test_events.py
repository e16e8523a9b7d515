"""The Event class: order, disconnect, failing listeners."""

import logging

import pytest

from foleystudio.project import Event


def test_listeners_run_in_connection_order_with_the_payload():
    event = Event("test")
    calls = []
    event.connect(lambda payload: calls.append(("first", payload)))
    event.connect(lambda payload: calls.append(("second", payload)))
    event.emit(42)
    assert calls == [("first", 42), ("second", 42)]


def test_connect_twice_calls_once_and_disconnect_reports_whether_connected():
    event = Event("test")
    calls = []
    listener = calls.append
    assert event.connect(listener) is listener
    event.connect(listener)
    assert len(event) == 1
    event.emit("a")
    assert event.disconnect(listener) is True
    assert event.disconnect(listener) is False
    event.emit("b")
    assert calls == ["a"]


def test_a_failing_listener_is_logged_and_does_not_stop_the_others(caplog):
    event = Event("layer.changed")
    calls = []

    def broken(payload):
        raise RuntimeError("view bug")

    event.connect(broken)
    event.connect(calls.append)
    with caplog.at_level(logging.ERROR, logger="foleystudio.project.events"):
        event.emit("payload")
    assert calls == ["payload"]
    assert "layer.changed" in caplog.text and "view bug" in caplog.text


def test_listeners_may_disconnect_while_being_notified():
    event = Event("test")
    calls = []

    def once(payload):
        calls.append(("once", payload))
        event.disconnect(once)

    event.connect(once)
    event.connect(lambda payload: calls.append(("always", payload)))
    event.emit(1)
    event.emit(2)
    assert calls == [("once", 1), ("always", 1), ("always", 2)]


def test_connect_refuses_what_cannot_be_called():
    with pytest.raises(TypeError, match="callable"):
        Event("test").connect("not a function")
