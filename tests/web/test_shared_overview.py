"""What keeps the overview fast while a big map drains: its count of waiting runs does not read
the queued tasks of a run that is being worked on or that a worker can work on now, and one
reading serves every viewer until a run event says the overview changed."""

from __future__ import annotations

import re
from typing import Any

import httpx
import psycopg

import pgflow
from pgflow.db.queries import query
from pgflow.web.app import create_app
from pgflow.web.dashboard import WATCH_IDLE
from tests.helpers import eventually_async
from tests.web.conftest import html_text

wide = pgflow.Flow("overview_wide_map")


@wide.map(slug="item")
def item(value: int) -> int:
    return value


def _task_rows_read(conn: psycopg.Connection[Any], sql: str) -> int:
    """Rows of step_tasks that ``sql`` read, in the functions it calls too (this transaction's stats)."""
    with conn.transaction():
        conn.execute(sql)
        row = conn.execute("SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables "
                           "WHERE schemaname = 'pgflow' AND relname = 'step_tasks'").fetchone()
    assert row is not None
    return int(row[0])


def test_the_running_count_does_not_read_the_queued_tasks_of_a_run_being_worked_on(db_url: str) -> None:
    with pgflow.Client(db_url) as client:
        client.compile(wide)
        run_id = client.start_flow(wide, list(range(10_000)))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("ANALYZE pgflow.step_tasks")
        # no worker has taken a task yet: all 10,000 are queued and visible; one visible message answers
        assert conn.execute(query("dashboard_running_count")).fetchone() == (1, 0)
        read_unclaimed = _task_rows_read(conn, query("dashboard_running_count"))
        # a worker has taken one task (as start_tasks marks it); the other 9,999 stay queued, visible
        worker = conn.execute("INSERT INTO pgflow.workers (worker_id, queue_name, function_name) "
                              "VALUES (gen_random_uuid(), 'overview_wide_map', 'test') RETURNING worker_id").fetchone()
        assert worker is not None
        conn.execute("UPDATE pgflow.step_tasks SET status = 'started', started_at = now(), attempts_count = 1, "
                     "last_worker_id = %s WHERE run_id = %s AND task_index = 0", (worker[0], run_id))
        conn.execute("ANALYZE pgflow.step_tasks")
        conn.execute("ANALYZE pgflow.runs")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query("dashboard_running_count")))
        counts = conn.execute(query("dashboard_running_count")).fetchone()
        read = _task_rows_read(conn, query("dashboard_running_count"))
        # what it replaced: every started run's queued tasks, their messages looked up one by one
        read_before = _task_rows_read(conn, "SELECT count(*) FROM pgflow._waiting_runs(NULL)")
    assert counts == (1, 0)  # running, not waiting
    assert "step_tasks" in plan and "Seq Scan on step_tasks" not in plan, plan
    assert read < 10 and read_unclaimed < 10 and read_before >= 10_000, (read, read_unclaimed, read_before)


def _running(text: str) -> int:
    found = re.search(r'data-testid="metric-running">(\d+)<', text)
    assert found is not None, text[:2000]
    return int(found.group(1))


async def test_viewers_share_one_reading_of_the_overview_until_a_run_event(db_url: str) -> None:
    with pgflow.Client(db_url) as client:
        client.compile(wide)
    app = create_app(db_url, timezone="UTC", overview_cache_ttl=3600.0)  # only an event may end the sharing here
    dash = app.state.dashboard
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            assert _running(html_text(await web.get("/"))) == 0
            with psycopg.connect(db_url, autocommit=True) as conn:  # a run that announces nothing
                conn.execute("INSERT INTO pgflow.runs (flow_slug, status, input, remaining_steps) "
                             "VALUES ('overview_wide_map', 'started', '[]', 1)")
            assert _running(html_text(await web.get("/"))) == 0  # the first reading, not a second one
            assert _running(html_text(await web.get("/?window=1h"))) == 1  # another window reads its own
            with pgflow.Client(db_url) as client:
                client.start_flow(wide, [1, 2])  # run:started and step:started reach the dashboard's hub

            async def read_again() -> bool:
                assert _running(html_text(await web.get("/"))) == 2
                return True

            await eventually_async(read_again, timeout=30, message="a run event ends the shared reading")
    finally:
        await dash.close()


async def test_a_reading_past_its_time_answers_once_more_while_the_next_one_is_read(db_url: str) -> None:
    app = create_app(db_url, live=False, overview_cache_ttl=60.0)
    dash = app.state.dashboard
    readings: list[int] = []

    async def read() -> int:
        readings.append(len(readings) + 1)
        return readings[-1]

    def age(seconds: float) -> None:  # the shared reading started that long ago
        loop, started, generation, future = dash._cache["k"]
        dash._cache["k"] = (loop, started - seconds, generation, future)

    try:
        assert await dash.cached("k", read) == 1
        assert await dash.cached("k", read) == 1 and readings == [1]  # shared
        age(90)  # past cache_ttl, within twice it: answered at once, renewed behind the answer
        assert await dash.cached("k", read) == 1
        await dash._renewing["k"]
        assert await dash.cached("k", read) == 2 and readings == [1, 2]
        age(150)  # past twice cache_ttl: too old to answer with, the request waits for a new reading
        assert await dash.cached("k", read) == 3 and not dash._renewing
    finally:
        await dash.close()


async def test_the_dashboard_follows_run_events_only_while_the_overview_is_read(db_url: str) -> None:
    # while subscribed, the database sends this process every event of every run: an idle
    # dashboard lets go of it
    app = create_app(db_url, timezone="UTC")
    dash = app.state.dashboard
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            await web.get("/")
            watch = dash._watch
            assert watch is not None and not watch.closed
            dash._stop_watch_if_idle()  # read a moment ago: it stays
            assert dash._watch is watch
            dash._last_read -= WATCH_IDLE  # nobody has asked for a minute
            dash._stop_watch_if_idle()
            assert dash._watch is None and not dash._cache
            await dash._closing
            assert watch.closed
            await web.get("/")  # the next request follows events again
            assert dash._watch is not None and not dash._watch.closed
    finally:
        await dash.close()
