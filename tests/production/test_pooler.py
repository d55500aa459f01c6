"""Behind a real PgBouncer in transaction pooling mode: client, worker (notified over a direct
connection, or polling without one), schedules and the dashboard's queries work; prepared
statements are off; a pooled URL without a direct one is said once, and live events fail clearly."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

import pgflow
from pgflow import events
from pgflow.db.dsn import connect_options, listen_conninfo, through_pooler
from tests.integration.worker.conftest import finished, running
from tests.conftest import create_database, drop_database, url_for
from tests.production.pgbouncer import PgBouncer


@pytest.fixture
def db_url(pg_admin_url: str, template_url: str) -> Iterator[str]:
    """A direct URL to a fresh installed database (these tests put the pooler in front themselves)."""
    name = create_database(pg_admin_url)
    try:
        yield url_for(pg_admin_url, name)
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def pooled_url(db_url: str, session_pooler: PgBouncer, monkeypatch: pytest.MonkeyPatch) -> str:
    """``db_url``'s database through the pooler, declared as pooled (PGFLOW_POOLER), no direct URL."""
    monkeypatch.setenv("PGFLOW_POOLER", "transaction")
    monkeypatch.delenv("PGFLOW_DIRECT_URL", raising=False)
    return session_pooler.url(conninfo_to_dict(db_url)["dbname"])


def test_the_pooler_shares_server_connections_per_transaction(pooled_url):
    # the set-up is real transaction pooling: two clients, each holding a transaction open, need two
    # server connections; once both commit, the next transaction of either may run on the other's
    with psycopg.connect(pooled_url, **connect_options(pooled_url)) as a, \
            psycopg.connect(pooled_url, **connect_options(pooled_url)) as b:
        pid_a = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        pid_b = b.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pid_a != pid_b
        a.commit()
        b.commit()
        seen = {b.execute("SELECT pg_backend_pid()").fetchone()[0]}
        b.commit()
        assert seen <= {pid_a, pid_b}


def test_a_pooled_url_is_recognised(monkeypatch):
    monkeypatch.delenv("PGFLOW_POOLER", raising=False)
    monkeypatch.delenv("PGFLOW_DIRECT_URL", raising=False)
    assert through_pooler("postgresql://u@db.example:6543/postgres")  # Supabase's transaction pooler
    assert through_pooler("host=db port=6432 dbname=app")  # PgBouncer's default port
    assert not through_pooler("postgresql://u@db.example:5432/postgres")
    assert listen_conninfo("host=db port=5432 dbname=app") == "host=db port=5432 dbname=app"
    assert listen_conninfo("host=db port=6432 dbname=app") is None
    monkeypatch.setenv("PGFLOW_DIRECT_URL", "host=db port=5432 dbname=app")
    assert through_pooler("host=db port=5433 dbname=app")
    assert listen_conninfo("host=db port=5433 dbname=app") == "host=db port=5432 dbname=app"
    assert not through_pooler("postgresql://u:secret@db:5432/app")  # the direct URL itself
    monkeypatch.setenv("PGFLOW_POOLER", "transaction")
    assert not through_pooler("host=db port=5432 dbname=app user=u")
    monkeypatch.setenv("PGFLOW_POOLER", "off")
    assert not through_pooler("host=db port=6432 dbname=app")
    assert connect_options("host=db port=6432 dbname=app") == {}
    monkeypatch.setenv("PGFLOW_POOLER", "sometimes")
    with pytest.raises(pgflow.ConfigurationError, match="PGFLOW_POOLER='sometimes'.*'transaction'"):
        through_pooler("host=db")


def test_the_client_repeats_its_queries_without_prepared_statements(pooled_url):
    flow = pgflow.Flow("pooled_client")

    @flow.step
    def only(input):
        return input

    # psycopg prepares a statement on its 5th execution; through a transaction pooler the next
    # execution may land on a server connection that never saw it ("prepared statement does not exist")
    with pgflow.Client(pooled_url, max_size=2) as client:
        client.compile(flow)
        run_ids = [client.start_flow(flow, {"n": n}) for n in range(30)]
        runs = [client.get_run(run_id) for run_id in run_ids]
    assert [run.status for run in runs] == ["started"] * 30


async def test_a_worker_behind_the_pooler_without_a_direct_url_polls_and_says_so(pooled_url, caplog):
    flow = pgflow.Flow("pooled_polling")

    @flow.step
    def double(input):
        return input["x"] * 2

    caplog.set_level(logging.WARNING, logger="pgflow.worker")
    async with pgflow.AsyncClient(pooled_url) as client:
        async with running(pooled_url, [flow]) as worker:
            assert worker.config.signal == "polling" and worker.listener is None
            runs = [await finished(client, await client.start_flow(flow, {"x": x})) for x in range(8)]
    assert [run.output for run in runs] == [{"double": x * 2} for x in range(8)]
    said = [r.getMessage() for r in caplog.records if "connection pooler" in r.getMessage()]
    assert said == ["the database URL goes through a connection pooler, where LISTEN does not work: polling "
                    "for new tasks instead; set PGFLOW_DIRECT_URL to a direct connection to be notified"]


async def test_a_worker_behind_the_pooler_listens_on_the_direct_url(pooled_url, db_url, monkeypatch):
    monkeypatch.setenv("PGFLOW_DIRECT_URL", db_url)
    flow = pgflow.Flow("pooled_notify")

    @flow.step
    def double(input):
        return input["x"] * 2

    async with pgflow.AsyncClient(pooled_url) as client:
        # the fallback poll is an hour: only a notification can wake the worker in time
        async with running(pooled_url, [flow], notify_fallback_interval=3600, max_poll_interval=3600) as worker:
            assert worker.config.signal == "notify"
            await worker.listener.connected.wait()
            run = await finished(client, await client.start_flow(flow, {"x": 21}), timeout=30)
    assert run.output == {"double": 42}


async def test_waiting_for_a_run_through_the_pooler_uses_the_direct_url(pooled_url, db_url, monkeypatch):
    monkeypatch.setenv("PGFLOW_DIRECT_URL", db_url)
    flow = pgflow.Flow("pooled_subscribe")

    @flow.step
    def echo(input):
        return input

    run_id = uuid.uuid4()
    async with pgflow.AsyncClient(pooled_url) as client:
        async with running(pooled_url, [flow]):
            async with client.subscribe(run_id) as subscription:  # listening before the run starts
                await client.start_flow(flow, {"a": 1}, run_id=run_id)
                seen = await asyncio.wait_for(_collect(subscription), 30)
    assert isinstance(seen[-1], events.RunCompletedEvent)


async def _collect(subscription) -> list[events.Event]:
    return [event async for event in subscription]  # ends after run:completed / run:failed


async def test_live_events_without_a_direct_url_fail_clearly(pooled_url):
    flow = pgflow.Flow("pooled_live")

    @flow.step
    def echo(input):
        return input

    async with pgflow.AsyncClient(pooled_url) as client:
        await client.compile(flow)
        run_id = await client.start_flow(flow, {})
        with pytest.raises(pgflow.PgFlowError, match="LISTEN, which does not work through a transaction-mode "
                           "connection pooler: set PGFLOW_DIRECT_URL to a direct connection"):
            async with client.subscribe(run_id) as subscription:
                await asyncio.wait_for(_collect(subscription), 30)


def test_schedules_through_the_pooler(pooled_url):
    job = pgflow.Job("pooled_job")

    @job.perform
    def work(input):
        return input

    with pgflow.Client(pooled_url) as client:
        client.compile(job)
        for n in range(8):  # more than psycopg's prepare threshold
            client.schedule(job, "*/5 * * * *", {"n": n}, slug=f"every_five_{n}")
        assert len(client.list_schedules()) == 8


def test_start_flow_sync_through_the_pooler_says_how_to_wait_instead_of_timing_out(pooled_url):
    flow = pgflow.Flow("pooled_sync")

    @flow.step
    def echo(input):
        return input

    with pgflow.Client(pooled_url) as client:
        client.compile(flow)
        with pytest.raises(pgflow.ConfigurationError, match="needs LISTEN, which does not work through a "
                           "transaction-mode connection pooler; the run was started: follow it with "
                           r"client.subscribe\(run_id\)"):
            client.start_flow_sync(flow, {}, timeout=600)
        assert [run.status for run in client.list_runs(flow="pooled_sync")] == ["started"]


async def test_the_dashboard_through_the_pooler_leaves_no_session_state_behind(pooled_url):
    import httpx

    from pgflow.web import create_app

    flow = pgflow.Flow("pooled_dashboard")

    @flow.step
    def echo(input):
        return input

    async with pgflow.AsyncClient(pooled_url) as client:
        await client.compile(flow)
        run_id = await client.start_flow(flow, {})
    app = create_app(pooled_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            pages = [await web.get(path) for path in ("/", f"/runs/{run_id}", "/", "/runs")]
    finally:
        await app.state.dashboard.close()
    assert [page.status_code for page in pages] == [200, 200, 200, 200]
    # its connections' session settings would have reached whoever gets those server connections next
    with psycopg.connect(pooled_url, autocommit=True, **connect_options(pooled_url)) as conn:
        seen = {conn.execute("SHOW default_transaction_read_only").fetchone()[0] for _ in range(10)}
    assert seen == {"off"}


async def test_the_sse_stream_through_the_pooler_follows_a_run_on_the_direct_url(pooled_url, db_url, monkeypatch):
    import httpx

    from pgflow.web.sse import event_stream
    from tests.live.sse_client import Message, messages, serving

    monkeypatch.setenv("PGFLOW_DIRECT_URL", db_url)
    flow = pgflow.Flow("pooled_sse")

    @flow.step
    def double(input):
        return input["x"] * 2

    async with pgflow.AsyncClient(pooled_url) as client:
        await client.compile(flow)
        run_id = await client.start_flow(flow, {"x": 4})
        async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=30) as http:
            async with http.stream("GET", f"{base}/runs/{run_id}") as response:
                assert response.status_code == 200
                stream = messages(response)
                got = [await asyncio.wait_for(stream.__anext__(), 30)]
                async with running(pooled_url, [flow]):
                    while not (isinstance(got[-1], Message) and got[-1].event == "run:finished"):
                        got.append(await asyncio.wait_for(stream.__anext__(), 30))
    seen = [m for m in got if isinstance(m, Message)]
    assert (seen[0].event, seen[0].data["reason"]) == ("snapshot", "initial")
    assert "run:completed" in [m.event for m in seen]
    assert seen[-2].data["run"]["output"] == {"double": 8} and seen[-1].data["outcome"] == "completed"


async def test_the_sse_streams_through_the_pooler_without_a_direct_url_say_what_to_set(pooled_url):
    import httpx

    from pgflow.web.sse import event_stream
    from tests.live.sse_client import serving

    flow = pgflow.Flow("pooled_sse_503")

    @flow.step
    def echo(input):
        return input

    async with pgflow.AsyncClient(pooled_url) as client:
        await client.compile(flow)
        run_id = await client.start_flow(flow, {})
        async with serving(event_stream(client)) as base, httpx.AsyncClient(timeout=30) as http:
            answers = [await http.get(f"{base}/runs/{run_id}"), await http.get(f"{base}/runs")]
    assert [a.status_code for a in answers] == [503, 503]
    assert all("set PGFLOW_DIRECT_URL to a direct connection" in a.json()["error"] for a in answers)
