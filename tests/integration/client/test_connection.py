"""Connections: URL, caller-owned pools, open/close and context managers, install, errors."""

from __future__ import annotations

import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pgflow
from pgflow.client import AsyncClient, Client

from .conftest import two_step_flow

UNREACHABLE = "postgresql://pgflow@127.0.0.1:1/nowhere?connect_timeout=2"


def test_sync_context_manager_opens_and_closes(db_url: str) -> None:
    with Client(db_url) as client:
        assert client.list_flows() == []
    with pytest.raises(pgflow.ConfigurationError, match="closed"):
        client.list_flows()


def test_sync_client_opens_on_first_use(db_url: str) -> None:
    client = Client(db_url)
    try:
        assert client.flow_exists("x") is False
    finally:
        client.close()


async def test_async_context_manager_opens_and_closes(db_url: str) -> None:
    async with AsyncClient(db_url) as client:
        assert await client.list_flows() == []
    with pytest.raises(pgflow.ConfigurationError, match="closed"):
        await client.list_flows()


def test_a_pool_passed_in_is_used_and_left_open(db_url: str) -> None:
    with ConnectionPool(db_url, min_size=1, max_size=2, open=True) as pool:  # not autocommit
        with Client(pool=pool) as client:
            flow = two_step_flow()
            client.compile(flow)
            run_id = client.start_flow(flow, {"n": 1})
        assert not pool.closed
        with pool.connection() as conn:
            assert conn.execute("SELECT status FROM pgflow.runs WHERE run_id = %s", (run_id,)).fetchone() == ("started",)


async def test_an_async_pool_passed_in_is_used_and_left_open(db_url: str) -> None:
    async with AsyncConnectionPool(db_url, min_size=1, max_size=2, open=False) as pool:
        async with AsyncClient(pool=pool) as client:
            await client.compile(two_step_flow("pooled"))
            assert await client.flow_exists("pooled")
        assert not pool.closed


async def test_the_wrong_kind_of_pool_or_both_sources_are_refused(db_url: str) -> None:
    with pytest.raises(pgflow.ConfigurationError, match="AsyncConnectionPool"):
        AsyncClient(pool=ConnectionPool(db_url, open=False))
    with pytest.raises(pgflow.ConfigurationError, match="not both"):
        Client(db_url, pool=ConnectionPool(db_url, open=False))


def test_unreachable_database_raises_database_unavailable() -> None:
    client = Client(UNREACHABLE)
    with pytest.raises(pgflow.DatabaseUnavailable, match="cannot reach the database"):
        client.list_flows()
    client.close()


async def test_unreachable_database_raises_database_unavailable_async() -> None:
    client = AsyncClient(UNREACHABLE)
    # the URL was passed, not set in the environment: the message says which to check
    with pytest.raises(pgflow.DatabaseUnavailable, match="that the database URL you passed points at it"):
        await client.list_flows()
    await client.close()


def test_missing_schema_says_to_install_and_install_fixes_it(empty_db_url: str) -> None:
    with Client(empty_db_url) as client:
        with pytest.raises(pgflow.SchemaError, match="pgflow db install"):
            client.list_flows()
        applied = client.install()
        assert applied and applied[0].startswith("0001_")
        assert client.install() == []
        assert client.list_flows() == []


async def test_install_async_is_idempotent(empty_db_url: str) -> None:
    async with AsyncClient(empty_db_url) as client:
        assert await client.install()
        assert await client.install() == []
