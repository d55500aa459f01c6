"""Forward pgflow's events to a pub/sub you already run (Redis, NATS, websockets, ...).

Two sources, one shape of message, the same topics:

* :class:`PubSubBridge` forwards the **worker's telemetry** (:mod:`pgflow.telemetry`: task
  start/stop/exception, run completed/failed, worker start/stop...) of the workers in this
  process. It is a telemetry handler: ``bridge(event_name, measurements, metadata)``.
* :func:`forward_events` forwards the **database's events** (run/step/task, from any worker in
  any language) that this process's :class:`~pgflow.live.EventHub` receives.

Each message goes to ``<prefix>:all`` and, when it concerns a run, to ``<prefix>:run:<run_id>``
(an index view subscribes to the first, a run's page to the second) by calling
``publish(topic, message)``. ``publish`` may be a plain function or a coroutine function (it is
then scheduled on the running event loop). A ``publish`` that raises is logged and never breaks
the worker or the hub. Messages are JSON-ready dicts:

    telemetry:  {"source": "telemetry", "event": "task.stop", "measurements": {...}, "metadata": {...}}
    database:   {"source": "database", "event": "step:completed", "payload": {...event payload...}}

    import pgflow
    from pgflow.live.bridge import PubSubBridge

    bridge = PubSubBridge(lambda topic, message: redis.publish(topic, json.dumps(message))).attach()
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pgflow import telemetry
from pgflow.events import Event
from pgflow.live.hub import EventHub
from pgflow.live.markers import Gap, Item
from pgflow.live.state import jsonable
from pgflow.live.subscription import Subscription

log = logging.getLogger("pgflow.live")

Publish = Callable[[str, dict[str, Any]], Any]

DEFAULT_TELEMETRY = ("task.*", "run.*", "worker.*")


class _Publisher:
    """Calls ``publish`` for each topic, schedules coroutines, and logs (never raises) failures."""

    def __init__(self, publish: Publish, prefix: str) -> None:
        self.publish = publish
        self.prefix = prefix
        self.failures = 0
        self._pending: set[asyncio.Future[Any]] = set()

    def topics(self, run_id: Any) -> list[str]:
        topics = [f"{self.prefix}:all"]
        if run_id is not None:
            topics.append(f"{self.prefix}:run:{run_id}")
        return topics

    def send(self, run_id: Any, message: dict[str, Any]) -> None:
        for topic in self.topics(run_id):
            try:
                result = self.publish(topic, message)
                if inspect.isawaitable(result):
                    future = asyncio.ensure_future(result)
                    self._pending.add(future)
                    future.add_done_callback(self._done)
            except Exception:
                self._failed()

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            self._failed(future.exception())

    def _failed(self, exc: BaseException | None = None) -> None:
        self.failures += 1
        if self.failures == 1 or self.failures % 1000 == 0:  # do not flood the log
            log.warning("pgflow pub/sub bridge: publishing failed (%d so far)", self.failures,
                        exc_info=exc if exc is not None else True)


class PubSubBridge:
    """A telemetry handler that publishes worker events to your pub/sub; see the module docstring."""

    def __init__(self, publish: Publish, *, prefix: str = "pgflow",
                 events: Iterable[str] = DEFAULT_TELEMETRY, handler_id: str = "pgflow.pubsub") -> None:
        self.events = tuple(events)
        self.handler_id = handler_id
        self._publisher = _Publisher(publish, prefix)

    @property
    def failures(self) -> int:
        """How many publish calls failed."""
        return self._publisher.failures

    def __call__(self, event_name: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
        message = {"source": "telemetry", "event": event_name,
                   "measurements": jsonable(dict(measurements)), "metadata": jsonable(dict(metadata))}
        self._publisher.send(metadata.get("run_id"), message)

    def attach(self) -> PubSubBridge:
        """Receive the worker's telemetry (``telemetry.attach`` under ``handler_id``)."""
        telemetry.attach(self.handler_id, self.events, self)
        return self

    def detach(self) -> None:
        telemetry.detach(self.handler_id)


async def forward_events(hub: EventHub, publish: Publish, *, prefix: str = "pgflow",
                         tasks: bool = True) -> Subscription:
    """Publish every database event this process's hub receives; close the returned
    subscription to stop. A hub gap is published as ``{"source": "database", "event": "gap"}``
    on ``<prefix>:all`` so downstream consumers know to reload."""
    publisher = _Publisher(publish, prefix)

    def forward(item: Item) -> None:
        if isinstance(item, Gap):
            publisher.send(None, {"source": "database", "event": "gap", "payload": item.raw})
        elif isinstance(item, Event):
            publisher.send(item.run_id, {"source": "database", "event": item.event_type,
                                         "payload": jsonable(item.raw)})

    return await hub.subscribe_all(tasks=tasks, callback=forward)
