"""EventsService delivery, isolation of failures, unsubscribe, threads, and the EventRecorder."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from greenroom.core.errors import ConflictError, InputError
from greenroom.core.services.events import Event, EventRecorder, EventsService


def test_publish_delivers_to_topic_subscribers_only() -> None:
    events = EventsService()
    received: list[Event] = []
    events.subscribe("catalog.entity.updated", received.append, subscriber_id="search")
    events.publish("catalog.entity.updated", {"entityRef": "component:default/a"})
    events.publish("other.topic", {"x": 1})
    assert len(received) == 1
    event = received[0]
    assert event.topic == "catalog.entity.updated"
    assert event.payload == {"entityRef": "component:default/a"}
    assert event.published_at.tzinfo is UTC and event.published_at <= datetime.now(UTC)
    assert event.id


def test_subscribe_to_several_topics() -> None:
    events = EventsService()
    with EventRecorder(events, "a") as recorder_a:
        topics: list[str] = []
        events.subscribe(["a", "b"], lambda event: topics.append(event.topic), subscriber_id="multi")
        events.publish("a", {})
        events.publish("b", {})
        assert topics == ["a", "b"]
        assert len(recorder_a.events) == 1


def test_failing_subscriber_does_not_stop_others(caplog: pytest.LogCaptureFixture) -> None:
    events = EventsService()
    received: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    events.subscribe("t", lambda event: received.append("first"), subscriber_id="first")
    events.subscribe("t", broken, subscriber_id="broken")
    events.subscribe("t", lambda event: received.append("last"), subscriber_id="last")
    events.publish("t", {})
    assert received == ["first", "last"]
    assert 'subscriber "broken" failed on topic "t"' in caplog.text
    assert "boom" in caplog.text


def test_unsubscribe_stops_delivery_and_frees_the_id() -> None:
    events = EventsService()
    received: list[Event] = []
    subscription = events.subscribe("t", received.append, subscriber_id="s")
    subscription.unsubscribe()
    subscription.unsubscribe()
    events.publish("t", {})
    assert received == []
    assert events.subscriber_count("t") == 0
    events.subscribe("t", received.append, subscriber_id="s")
    events.publish("t", {})
    assert len(received) == 1


def test_duplicate_subscriber_id_is_conflict() -> None:
    events = EventsService()
    events.subscribe("t", lambda event: None, subscriber_id="s")
    with pytest.raises(ConflictError):
        events.subscribe("u", lambda event: None, subscriber_id="s")


def test_payload_is_a_read_only_snapshot() -> None:
    events = EventsService()
    payload = {"items": [1]}
    with EventRecorder(events, "t") as recorder:
        events.publish("t", payload)
        payload["items"].append(2)
        recorded = recorder.payloads[0]
        assert recorded == {"items": [1]}
        with pytest.raises(TypeError):
            recorded["new"] = 1  # type: ignore[index]


def test_handler_may_unsubscribe_and_publish_during_delivery() -> None:
    events = EventsService()
    received: list[str] = []

    def once(event: Event) -> None:
        received.append(event.topic)
        subscription.unsubscribe()
        events.publish("follow-up", {})

    subscription = events.subscribe("t", once, subscriber_id="once")
    with EventRecorder(events, "follow-up") as follow_up:
        events.publish("t", {})
        events.publish("t", {})
        assert received == ["t"]
        assert len(follow_up.events) == 1


def test_invalid_arguments_are_input_errors() -> None:
    events = EventsService()
    with pytest.raises(InputError):
        events.publish("", {})
    with pytest.raises(InputError):
        events.publish("t", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        events.subscribe([], lambda event: None, subscriber_id="s")
    with pytest.raises(InputError):
        events.subscribe("t", lambda event: None, subscriber_id="")


def test_concurrent_publishers_and_recorder_wait() -> None:
    events = EventsService()
    with EventRecorder(events, "t") as recorder:

        def publish_many(thread_index: int) -> None:
            for index in range(100):
                events.publish("t", {"thread": thread_index, "index": index})

        threads = [threading.Thread(target=publish_many, args=(index,)) for index in range(8)]
        for thread in threads:
            thread.start()
        recorded = recorder.wait_for(800, timeout=10)
        for thread in threads:
            thread.join()
        assert len({(event.payload["thread"], event.payload["index"]) for event in recorded}) == 800
        assert len({event.id for event in recorded}) == 800


def test_recorder_wait_times_out() -> None:
    with EventRecorder(EventsService(), "t") as recorder, pytest.raises(TimeoutError):
        recorder.wait_for(1, timeout=0.05)
