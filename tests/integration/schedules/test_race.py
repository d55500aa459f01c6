"""Several schedulers at once, and schedulers that stop or crash across a tick."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import psycopg
import pytest

from pgflow.db import drive_async, drive_sync
from pgflow.ops.schedules import fire_next_due, schedule
from pgflow.worker.scheduler import tick, tick_sync

from tests.helpers import eventually

from .conftest import at, compile_all, make_job, scheduled_runs, ticks


async def race(db_url: str, times: list, schedulers: int = 3) -> None:
    """``schedulers`` connections call tick() for each time, all at once, in shuffled order."""
    conns = [await psycopg.AsyncConnection.connect(db_url, autocommit=True) for _ in range(schedulers)]
    try:
        for now in times:
            order = random.sample(conns, len(conns))
            await asyncio.gather(*(tick(c, now) for c in order))
    finally:
        for c in conns:
            await c.close()


async def test_three_schedulers_start_one_run_per_tick(sconn, db_url):
    compile_all(sconn, make_job("other_job"))
    drive_sync(sconn, schedule("tick_job", "* * * * *", now=at("2024-05-01T10:00:30")))
    drive_sync(sconn, schedule("other_job", "*/2 * * * *", now=at("2024-05-01T10:00:30")))
    start = at("2024-05-01T10:01:00")
    # every scheduler polls every 5 s of simulated time for five minutes
    await race(db_url, [start + timedelta(seconds=s) for s in range(0, 300, 5)])
    assert ticks(sconn, "tick_job") == [start + timedelta(minutes=m) for m in range(5)]
    assert ticks(sconn, "other_job") == [at("2024-05-01T10:02"), at("2024-05-01T10:04")]
    runs = sconn.execute("SELECT count(*) FROM pgflow.runs").fetchone()[0]
    assert runs == 7  # no run without a marker, no marker without a run


async def test_three_schedulers_with_many_due_schedules(sconn, db_url):
    for i in range(12):
        drive_sync(sconn, schedule("tick_job", "* * * * *", slug=f"s{i}", now=at("2024-05-01T10:00:30")))
    await race(db_url, [at("2024-05-01T10:01:00.1"), at("2024-05-01T10:01:00.2"), at("2024-05-01T10:02:00.1")])
    marked = scheduled_runs(sconn)
    assert len(marked) == 24
    assert sorted({(slug, tick_at) for slug, tick_at, _, _ in marked}) == sorted(
        (f"s{i}", at(t)) for i in range(12) for t in ("2024-05-01T10:01", "2024-05-01T10:02"))


def test_all_schedulers_down_across_a_tick_then_restarted(sconn, db_url):
    drive_sync(sconn, schedule("tick_job", "*/10 * * * *", now=at("2024-05-01T09:55")))
    tick_sync(sconn, at("2024-05-01T10:00:01"))
    # every scheduler stops before 10:10 and three new ones come up at 10:13
    asyncio.run(race(db_url, [at("2024-05-01T10:13"), at("2024-05-01T10:13:05")]))
    asyncio.run(race(db_url, [at("2024-05-01T10:20:01")]))
    assert scheduled_runs(sconn) == [
        ("tick_job", at("2024-05-01T10:00"), None, "tick"),
        ("tick_job", at("2024-05-01T10:10"), None, "tick"),  # late, but not a catch-up of several ticks
        ("tick_job", at("2024-05-01T10:20"), None, "tick"),
    ]


def test_a_scheduler_that_dies_mid_tick_leaves_the_tick_to_another(sconn, db_url):
    drive_sync(sconn, schedule("tick_job", "* * * * *", now=at("2024-05-01T10:00:30")))
    dying = psycopg.connect(db_url)  # not autocommit: the claim's transaction stays open
    claimed = None
    op = fire_next_due(at("2024-05-01T10:01:01"))
    query = next(op)
    with dying.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query.text, query.params)
        claimed = cur.fetchone()
    assert claimed["schedule_slug"] == "tick_job"
    # while it holds the row, the others skip it instead of waiting
    assert tick_sync(sconn, at("2024-05-01T10:01:02")) == []
    dying.close()  # the process dies: the server rolls its transaction back, releasing the lock
    [fired] = eventually(lambda: tick_sync(sconn, at("2024-05-01T10:01:03")), message="the lock is released")
    assert fired.tick_at == at("2024-05-01T10:01") and ticks(sconn) == [at("2024-05-01T10:01")]


@pytest.mark.parametrize("schedulers", [3])
async def test_minutely_job_five_minutes_three_schedulers_fast(sconn, db_url, schedulers):
    """The fast twin of scripts/check_schedule_minutely.py: five simulated minutes, jittered polls."""
    drive_sync(sconn, schedule("tick_job", "* * * * *", now=at("2024-05-01T10:00:30")))
    rng = random.Random(7)
    start = at("2024-05-01T10:01:00")
    polls = sorted(start + timedelta(seconds=rng.uniform(0, 300)) for _ in range(120))
    conns = [await psycopg.AsyncConnection.connect(db_url, autocommit=True) for _ in range(schedulers)]
    try:
        for now in polls:
            await asyncio.gather(*(drive_async(c, fire_next_due(now)) for c in conns))
    finally:
        for c in conns:
            await c.close()
    assert ticks(sconn) == [start + timedelta(minutes=m) for m in range(5)]
