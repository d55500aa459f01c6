"""``health_check``: the workers registered in the database and how alive they look.

A worker process registers one ``pgflow.workers`` row per queue it serves, all inserted together
(so they share ``function_name`` and ``started_at``); here they are grouped back into one
:class:`WorkerHealth` per process. TypeScript and Elixir workers appear too (one queue each).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pgflow.db import Operation, Query
from pgflow.errors import ConfigurationError

HEALTHY, STALE, DEAD = "healthy", "stale", "dead"
WINDOW = 3600.0  # seconds: workers silent for longer are not listed


@dataclass(frozen=True)
class WorkerHealth:
    """One worker process as the database sees it.

    ``health`` is ``healthy`` (heartbeat within ``stale_after`` seconds), ``stale`` (older), or
    ``dead`` (stopped, or no heartbeat for ``dead_after`` seconds: its unfinished tasks are
    requeued by the stalled-task sweeper once their timeout + 30 s has passed).
    """

    name: str
    flows: tuple[str, ...]
    worker_ids: tuple[UUID, ...]
    health: str
    started_at: datetime
    last_heartbeat_at: datetime
    heartbeat_age: float  # seconds since the last heartbeat
    tasks_in_flight: int
    deprecated_at: datetime | None = None
    stopped_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any], stale_after: float, dead_after: float) -> WorkerHealth:
        age = float(row["heartbeat_age"])
        health = DEAD if row["stopped_at"] is not None or age > dead_after else STALE if age > stale_after else HEALTHY
        return cls(
            name=row["function_name"], flows=tuple(row["queues"]), worker_ids=tuple(row["worker_ids"]),
            health=health, started_at=row["started_at"], last_heartbeat_at=row["last_heartbeat_at"],
            heartbeat_age=age, tasks_in_flight=int(row["tasks_in_flight"]),
            deprecated_at=row["deprecated_at"], stopped_at=row["stopped_at"],
        )


def health_check(stale_after: float = 15.0, dead_after: float = 60.0, *,
                 include_stopped: bool = False) -> Operation[list[WorkerHealth]]:
    """The workers seen in the last hour, one per process, newest first: name, flows served,
    last heartbeat and health (``healthy``, ``stale`` after ``stale_after`` s without a
    heartbeat, ``dead`` after ``dead_after`` s or once stopped; stopped ones only with
    ``include_stopped``)."""
    if not 0 < stale_after <= dead_after:
        raise ConfigurationError(
            f"health_check needs 0 < stale_after <= dead_after, got stale_after={stale_after}, dead_after={dead_after}"
        )
    found = yield Query.all("worker_health", window=WINDOW).and_commit()
    workers = [WorkerHealth.from_row(row, stale_after, dead_after) for row in found]
    return [w for w in workers if include_stopped or w.stopped_at is None]
