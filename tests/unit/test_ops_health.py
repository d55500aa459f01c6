"""pgflow.ops.health stepped without a database: one row per worker process, judged by its heartbeat."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import pytest

from pgflow.errors import ConfigurationError
from pgflow.ops import health as health_ops
from tests.unit.ops_steps import first, play, query

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def worker_row(name: str, age: float, stopped: bool = False) -> dict[str, object]:
    return {"function_name": name, "queues": ["a", "b"], "worker_ids": [UUID(int=1), UUID(int=2)],
            "started_at": T0, "last_heartbeat_at": T0, "heartbeat_age": age, "tasks_in_flight": 3,
            "deprecated_at": None, "stopped_at": T0 if stopped else None}


def test_health_check_judges_each_worker_by_its_heartbeat_and_leaves_out_stopped_ones() -> None:
    rows = [worker_row("fresh", 1.0), worker_row("slow", 20.0), worker_row("silent", 61.0),
            worker_row("gone", 0.5, stopped=True)]
    steps, workers = play(health_ops.health_check(), rows)
    assert query(steps[0], "worker_health", "all", commits=True) == {"window": health_ops.WINDOW}
    assert [(w.name, w.health) for w in workers] == [("fresh", "healthy"), ("slow", "stale"), ("silent", "dead")]
    assert workers[0].flows == ("a", "b") and workers[0].worker_ids == (UUID(int=1), UUID(int=2))
    assert workers[0].tasks_in_flight == 3


def test_health_check_lists_stopped_workers_as_dead_when_asked() -> None:
    _, workers = play(health_ops.health_check(5, 10, include_stopped=True), [worker_row("gone", 0.5, stopped=True)])
    assert [(w.name, w.health) for w in workers] == [("gone", "dead")]


@pytest.mark.parametrize(("stale_after", "dead_after"), [(0, 10), (20, 10), (-1, 5)])
def test_health_check_refuses_thresholds_out_of_order(stale_after: float, dead_after: float) -> None:
    with pytest.raises(ConfigurationError, match="0 < stale_after <= dead_after"):
        first(health_ops.health_check(stale_after, dead_after))
