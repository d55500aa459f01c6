"""The event hub: one LISTEN connection, fan-out by run / all runs / tasks, reconnect with a gap."""

from __future__ import annotations

import asyncio
import json
import uuid

import psycopg
import pytest

from pgflow.errors import DatabaseUnavailable
from pgflow.events import ALL_RUNS_CHANNEL, ALL_RUNS_STEPS_CHANNEL, RunStartedEvent, StepCompletedEvent, TaskStartedEvent, run_channel
from pgflow.live import EventHub, Gap, RunFinished
from tests.helpers import eventually_async


def emit(url: str, *payloads: dict) -> None:
    """Publish events through the database's own pgflow._emit, committed in one transaction."""
    with psycopg.connect(url) as conn:
        for p in payloads:
            conn.execute("SELECT pgflow._emit(%s::jsonb)", (json.dumps(p),))


NOW = "2026-01-02T03:04:05.5+00:00"


def run_started(run_id) -> dict:
    return {"event_type": "run:started", "run_id": str(run_id), "flow_slug": "f", "status": "started",
            "input": {}, "remaining_steps": 1, "started_at": NOW}


def step_completed(run_id, slug="a") -> dict:
    return {"event_type": "step:completed", "run_id": str(run_id), "flow_slug": "f", "step_slug": slug,
            "status": "completed", "output": 1, "started_at": NOW, "completed_at": NOW,
            "remaining_tasks": 0, "remaining_deps": 0}


def task_started(run_id, slug="a", index=0) -> dict:
    return {"event_type": "task:started", "run_id": str(run_id), "flow_slug": "f", "step_slug": slug,
            "task_index": index, "status": "started", "attempt": 1, "worker_id": None, "started_at": NOW}


async def items(sub, n: int, timeout: float = 5.0) -> list:
    return [await sub.get(timeout=timeout) for _ in range(n)]


async def test_run_subscriber_gets_only_its_run_on_its_own_channel(db_url):
    a, b = uuid.uuid4(), uuid.uuid4()
    async with EventHub(db_url) as hub:
        sub = await hub.subscribe(a)
        assert hub.channels == {run_channel(a)}
        emit(db_url, run_started(b), run_started(a), step_completed(b), step_completed(a))
        got = await items(sub, 2)
        assert [type(e) for e in got] == [RunStartedEvent, StepCompletedEvent]
        assert {e.run_id for e in got} == {a}
        assert sub.get_nowait() is None


async def test_all_runs_and_task_subscribers_share_the_events_channel_without_duplicates(db_url):
    a, b = uuid.uuid4(), uuid.uuid4()
    async with EventHub(db_url) as hub:
        one = await hub.subscribe(a)
        every = await hub.subscribe_all()
        with_tasks = await hub.subscribe_all(tasks=True)
        tasks = await hub.subscribe_tasks()
        assert hub.channels == {ALL_RUNS_CHANNEL}
        emit(db_url, run_started(a), task_started(a), run_started(b), task_started(b, "x"))
        last = run_started(uuid.uuid4())
        emit(db_url, last)  # a marker: once it arrives, everything before it has been delivered
        assert [(type(e), e.run_id) for e in await items(one, 2)] == [(RunStartedEvent, a), (TaskStartedEvent, a)]
        assert [(type(e), e.run_id) for e in await items(every, 3)] == [
            (RunStartedEvent, a), (RunStartedEvent, b), (RunStartedEvent, uuid.UUID(last["run_id"]))]
        assert [type(e) for e in await items(with_tasks, 5)] == [RunStartedEvent, TaskStartedEvent, RunStartedEvent,
                                                                 TaskStartedEvent, RunStartedEvent]
        assert [(e.step_slug, e.run_id) for e in await items(tasks, 2)] == [("a", a), ("x", b)]
        for sub in (one, every, with_tasks, tasks):
            assert sub.get_nowait() is None, sub


async def test_back_to_run_channels_when_the_all_runs_subscriber_leaves(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        one = await hub.subscribe(a)
        every = await hub.subscribe_all()
        await every.close()  # UNLISTEN happens lazily, without making close() wait for it
        await eventually_async(lambda: _async(hub.channels == {run_channel(a)}))
        emit(db_url, run_started(a))
        assert isinstance(await one.get(timeout=5), RunStartedEvent)


async def test_more_runs_than_the_channel_limit_use_the_events_channel(db_url):
    runs = [uuid.uuid4() for _ in range(3)]
    async with EventHub(db_url, max_run_channels=2) as hub:
        subs = [await hub.subscribe(r) for r in runs]
        assert hub.channels == {ALL_RUNS_CHANNEL}
        emit(db_url, *[step_completed(r, f"s{i}") for i, r in enumerate(runs)])
        for i, (r, sub) in enumerate(zip(runs, subs)):
            event = await sub.get(timeout=5)
            assert (event.run_id, event.step_slug) == (r, f"s{i}")
            assert sub.get_nowait() is None


async def test_a_finished_run_is_followed_by_run_finished_with_the_failed_step(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        sub = await hub.subscribe(a)
        emit(db_url, {"event_type": "run:failed", "run_id": str(a), "flow_slug": "f", "status": "failed",
                      "error_message": "boom", "failed_step_slug": "charge", "failed_at": NOW})
        failed, finished = await items(sub, 2)
        assert failed.event_type == "run:failed"
        assert isinstance(finished, RunFinished)
        assert (finished.outcome, finished.failed_steps, finished.error_message) == ("failed", ("charge",), "boom")


async def test_an_unreadable_payload_is_skipped(db_url, caplog):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        sub = await hub.subscribe(a)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (run_channel(a), '{"event_type": "nonsense"}'))
        emit(db_url, run_started(a))
        assert isinstance(await sub.get(timeout=5), RunStartedEvent)
    assert "unreadable event" in caplog.text


async def test_a_slow_subscriber_gets_a_gap_instead_of_silently_losing_events(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        sub = await hub.subscribe(a, maxsize=3)
        emit(db_url, *[step_completed(a, f"s{i}") for i in range(5)])
        await eventually_async(lambda: _async(sub.overflows == 1))
        gap = await sub.get(timeout=5)
        assert isinstance(gap, Gap) and gap.reason == "overflow"
        await eventually_async(lambda: _async(sub._queue and sub._queue[-1].step_slug == "s4"))


async def test_terminated_connection_reconnects_and_announces_a_gap(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url, reconnect_delay=0.05) as hub:
        sub = await hub.subscribe(a)
        old_pid = hub.backend_pid
        with psycopg.connect(db_url, autocommit=True) as conn:
            assert conn.execute("SELECT pg_terminate_backend(%s)", (old_pid,)).fetchone()[0]
        gap = await sub.get(timeout=10)
        assert isinstance(gap, Gap) and gap.reason == "reconnected"
        assert gap.since is not None and gap.resumed_at >= gap.since
        assert hub.backend_pid not in (None, old_pid) and hub.reconnects == 1
        assert hub.channels == {run_channel(a)}
        emit(db_url, run_started(a))
        assert isinstance(await sub.get(timeout=5), RunStartedEvent)


async def test_shared_hub_is_one_per_database_and_closes_with_its_last_subscriber(db_url):
    hub = EventHub.shared(db_url)
    assert EventHub.shared(db_url) is hub
    first = await hub.subscribe(uuid.uuid4())
    second = await hub.subscribe_all()
    pid = hub.backend_pid
    await first.close()
    assert hub.backend_pid == pid
    await second.close()
    assert hub.backend_pid is None and second.closed
    assert EventHub.shared(db_url) is hub
    again = await hub.subscribe(uuid.uuid4())  # connects again
    assert hub.backend_pid not in (None, pid)
    await again.close()


async def test_closing_the_hub_ends_iteration(db_url):
    hub = EventHub(db_url)
    sub = await hub.subscribe(uuid.uuid4())
    await hub.close()
    assert [item async for item in sub] == []


async def _async(value):
    return value


async def test_no_event_is_lost_or_doubled_while_channels_change_under_load(db_url):
    a = uuid.uuid4()
    count = 300

    async def emit_all():
        async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
            for first in range(0, count, 10):  # ten per transaction: they arrive as one batch
                async with conn.transaction():
                    for n in range(first, first + 10):
                        payload = {**step_completed(a, f"s{n}"), "output": n}
                        await conn.execute("SELECT pgflow._emit(%s::jsonb)", (json.dumps(payload),))

    async with EventHub(db_url, max_run_channels=1000) as hub:
        steady = await hub.subscribe(a)
        emitter = asyncio.ensure_future(emit_all())
        churn = 0
        while not emitter.done() and churn < 200:  # LISTEN/UNLISTEN other runs meanwhile
            other = await hub.subscribe(uuid.uuid4())
            await other.close()
            churn += 1
        await emitter
        got = [(await steady.get(timeout=10)).output for _ in range(count)]
        assert got == list(range(count))
        assert steady.get_nowait() is None
        assert churn > 2


async def test_an_unreachable_database_fails_the_subscribe_at_once():
    hub = EventHub("postgresql://pgflow@127.0.0.1:1/nowhere?connect_timeout=2", subscribe_timeout=30)
    with pytest.raises(DatabaseUnavailable, match="cannot reach the database"):
        await hub.subscribe(uuid.uuid4())
    await hub.close()


async def test_closing_the_hub_leaves_none_of_its_tasks_pending(db_url):
    def others() -> list:
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    hub = EventHub(db_url)
    await hub.subscribe(uuid.uuid4())  # the first subscription wakes the hub before it listens
    assert others(), "the hub runs tasks while subscribed"
    await hub.close()
    assert others() == []  # a pending Event.wait() left here is "Task was destroyed but it is pending"


async def test_a_run_subscription_iteration_ends_after_run_finished(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        async with await hub.subscribe(a) as sub:
            emit(db_url, run_started(a), {"event_type": "run:completed", "run_id": str(a), "flow_slug": "f",
                                          "status": "completed", "output": {}, "completed_at": NOW})

            async def collect() -> list:
                return [item async for item in sub]

            got = await asyncio.wait_for(collect(), timeout=10)  # the realtime guide's loop ends by itself
        assert [type(i).__name__ for i in got] == ["RunStartedEvent", "RunCompletedEvent", "RunFinished"]
        assert sub.closed and run_channel(a) not in hub._wanted_channels()  # it left the hub


async def test_subscribers_without_task_events_are_not_sent_any(db_url):
    """The overview (all runs, no tasks) and a run followed without tasks LISTEN on the channels
    without task events: the database sends this process none of a map's task events."""
    a, b = uuid.uuid4(), uuid.uuid4()
    async with EventHub(db_url) as hub:
        one = await hub.subscribe(a, tasks=False)
        assert hub.channels == {run_channel(a, tasks=False)}
        every = await hub.subscribe_all()
        assert hub.channels == {ALL_RUNS_STEPS_CHANNEL}
        with psycopg.connect(db_url) as conn:
            followed = {r[0] for r in conn.execute("SELECT channel FROM pgflow.subscribers WHERE pid = %s",
                                                   (hub.backend_pid,))}
        assert followed == {ALL_RUNS_STEPS_CHANNEL}
        seen: list[str] = []
        hub._dispatch = lambda notify, dispatch=hub._dispatch: (seen.append(notify.payload), dispatch(notify))[1]
        emit(db_url, run_started(a), *(task_started(a, index=i) for i in range(50)), step_completed(a),
             run_started(b), task_started(b))
        assert [type(e) for e in await items(one, 2)] == [RunStartedEvent, StepCompletedEvent]
        assert [type(e) for e in await items(every, 3)] == [RunStartedEvent, StepCompletedEvent, RunStartedEvent]
        assert not any('"task:' in payload for payload in seen)
        assert one.get_nowait() is None and every.get_nowait() is None


async def test_a_run_followed_with_and_without_tasks_gets_each_event_once(db_url):
    a = uuid.uuid4()
    async with EventHub(db_url) as hub:
        bare = await hub.subscribe(a, tasks=False)
        full = await hub.subscribe(a)
        every = await hub.subscribe_all()
        assert hub.channels == {run_channel(a), ALL_RUNS_STEPS_CHANNEL}
        emit(db_url, run_started(a), task_started(a), step_completed(a))
        assert [type(e) for e in await items(full, 3)] == [RunStartedEvent, TaskStartedEvent, StepCompletedEvent]
        assert [type(e) for e in await items(bare, 2)] == [RunStartedEvent, StepCompletedEvent]
        assert [type(e) for e in await items(every, 2)] == [RunStartedEvent, StepCompletedEvent]
        emit(db_url, step_completed(a, "sentinel"))  # committed later: whatever came twice comes before it
        for sub in (bare, full, every):
            (following,) = await items(sub, 1)
            assert getattr(following, "step_slug", None) == "sentinel", (sub, following)
