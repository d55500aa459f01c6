"""Pools given as conninfo/kwargs callables: pgflow's own connections (event hub, dashboard) follow them."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pgflow
from pgflow.client import AsyncClient, Client
from pgflow.web.store import conninfo_of

from .conftest import two_step_flow


def _dbname(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


async def test_subscribe_follows_an_async_pools_conninfo_and_kwargs_functions(db_url: str, pg_admin_url: str) -> None:
    # the conninfo alone names the maintenance database; the kwargs function overrides it
    async def conninfo() -> str:
        return pg_admin_url

    async def kwargs() -> dict[str, Any]:
        return {"dbname": _dbname(db_url)}

    flow = two_step_flow()
    async with AsyncConnectionPool(conninfo, kwargs=kwargs, min_size=1, max_size=2, open=False) as pool:
        async with AsyncClient(pool=pool) as client:
            await client.compile(flow)
            run_id = uuid.uuid4()
            async with client.subscribe(run_id) as events:
                await client.start_flow(flow, {"n": 1}, run_id=run_id)
                first = await asyncio.wait_for(anext(aiter(events)), timeout=30)
    assert (first.event_type, first.run_id) == ("run:started", run_id)


def test_the_dashboard_connects_where_a_sync_pools_functions_point(db_url: str, pg_admin_url: str) -> None:
    pool = ConnectionPool(lambda: pg_admin_url, kwargs=lambda: {"dbname": _dbname(db_url), "autocommit": True},
                          open=False)
    conninfo = conninfo_of(Client(pool=pool))
    assert conninfo is not None
    with psycopg.connect(conninfo) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (_dbname(db_url),)


def test_pool_settings_pgflow_cannot_use_raise_configuration_error(db_url: str) -> None:
    async def conninfo() -> str:
        return db_url

    with pytest.raises(pgflow.ConfigurationError, match="async function.*pass the database URL"):
        conninfo_of(AsyncClient(pool=AsyncConnectionPool(conninfo, open=False)))
    not_a_string: Any = lambda: 5432  # noqa: E731
    with pytest.raises(pgflow.ConfigurationError, match="conninfo gave a int, expected a connection string"):
        conninfo_of(Client(pool=ConnectionPool(not_a_string, open=False)))
