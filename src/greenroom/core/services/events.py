"""In-process publish/subscribe between plugins (Backstage's `events` service, without a broker).

Delivery is synchronous so a publisher knows its subscribers have seen the event when
`publish` returns; one faulty subscriber is logged and skipped so it cannot silence the rest.
Handlers run outside the lock, so they may publish, subscribe or unsubscribe themselves.
"""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType, TracebackType
from typing import Any

from greenroom.core.errors import ConflictError, InputError

logger = logging.getLogger(__name__)

EventHandler = Callable[["Event"], None]


@dataclass(frozen=True)
class Event:
    """One published event; `payload` is a private read-only copy shared by all subscribers."""

    topic: str
    payload: Mapping[str, Any]
    published_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Subscription:
    """Handle returned by `subscribe`; `unsubscribe()` is idempotent."""

    def __init__(
        self, service: EventsService, subscriber_id: str, topics: tuple[str, ...], handler: EventHandler
    ) -> None:
        self.subscriber_id = subscriber_id
        self.topics = topics
        self.handler = handler
        self._service = service
        self._active = True

    @property
    def active(self) -> bool:
        return self._active

    def unsubscribe(self) -> None:
        self._service._remove(self)
        self._active = False


def _validate_topic(topic: Any) -> str:
    if not isinstance(topic, str) or not topic.strip():
        raise InputError(f"event topic must be a non-empty string, got {topic!r}")
    return topic


class EventsService:
    """Topic-based pub/sub; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_topic: dict[str, list[Subscription]] = {}
        self._by_subscriber_id: dict[str, Subscription] = {}

    def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Deliver to every current subscriber of `topic`, in subscription order."""
        _validate_topic(topic)
        if not isinstance(payload, Mapping):
            raise InputError(f"event payload must be a mapping, got {type(payload).__name__}")
        event = Event(topic=topic, payload=MappingProxyType(copy.deepcopy(dict(payload))))
        with self._lock:
            subscriptions = list(self._by_topic.get(topic, ()))
        for subscription in subscriptions:
            if not subscription.active:
                continue
            try:
                subscription.handler(event)
            except Exception:
                logger.exception(
                    'events: subscriber "%s" failed on topic "%s" (event %s)',
                    subscription.subscriber_id,
                    topic,
                    event.id,
                )

    def subscribe(
        self, topics: Sequence[str] | str, handler: EventHandler, *, subscriber_id: str
    ) -> Subscription:
        """Register `handler` for `topics`; `subscriber_id` must be unique among active subscriptions."""
        topic_list = (topics,) if isinstance(topics, str) else tuple(topics)
        if not topic_list:
            raise InputError("subscribe needs at least one topic")
        for topic in topic_list:
            _validate_topic(topic)
        if not isinstance(subscriber_id, str) or not subscriber_id:
            raise InputError("subscriber_id must be a non-empty string")
        if not callable(handler):
            raise InputError("event handler must be callable")
        subscription = Subscription(self, subscriber_id, tuple(dict.fromkeys(topic_list)), handler)
        with self._lock:
            if subscriber_id in self._by_subscriber_id:
                raise ConflictError(f'an events subscriber with id "{subscriber_id}" is already subscribed')
            self._by_subscriber_id[subscriber_id] = subscription
            for topic in subscription.topics:
                self._by_topic.setdefault(topic, []).append(subscription)
        return subscription

    def subscriber_count(self, topic: str) -> int:
        with self._lock:
            return len(self._by_topic.get(topic, ()))

    def _remove(self, subscription: Subscription) -> None:
        with self._lock:
            if self._by_subscriber_id.get(subscription.subscriber_id) is subscription:
                del self._by_subscriber_id[subscription.subscriber_id]
            for topic in subscription.topics:
                remaining = [s for s in self._by_topic.get(topic, ()) if s is not subscription]
                if remaining:
                    self._by_topic[topic] = remaining
                else:
                    self._by_topic.pop(topic, None)


class EventRecorder:
    """Test helper: records events of one topic and lets a test wait for asynchronous publishers."""

    def __init__(self, events: EventsService, topic: str, *, subscriber_id: str | None = None) -> None:
        self.events: list[Event] = []
        self._condition = threading.Condition()
        self._subscription = events.subscribe(
            topic, self._record, subscriber_id=subscriber_id or f"event-recorder-{uuid.uuid4().hex}"
        )

    def _record(self, event: Event) -> None:
        with self._condition:
            self.events.append(event)
            self._condition.notify_all()

    @property
    def payloads(self) -> list[Mapping[str, Any]]:
        with self._condition:
            return [event.payload for event in self.events]

    def wait_for(self, count: int, *, timeout: float = 5.0) -> list[Event]:
        """Block until `count` events were recorded; raises TimeoutError otherwise."""
        with self._condition:
            if not self._condition.wait_for(lambda: len(self.events) >= count, timeout=timeout):
                raise TimeoutError(f"expected {count} events, got {len(self.events)} within {timeout}s")
            return list(self.events)

    def close(self) -> None:
        self._subscription.unsubscribe()

    def __enter__(self) -> EventRecorder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
