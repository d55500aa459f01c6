"""Fixtures for in-process worker tests: a client, a running worker, waiting for runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

import pgflow
from tests.helpers import eventually_async

# fast settings for tests; each test overrides what it exercises
FAST = {"heartbeat_interval": 0.5, "shutdown_timeout": 5.0, "notify_fallback_interval": 1.0}


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[pgflow.AsyncClient]:
    async with pgflow.AsyncClient(db_url) as c:
        yield c


@asynccontextmanager
async def running(db_url: str, flows: list[Any], **options: Any) -> AsyncIterator[pgflow.Worker]:
    """A started worker, stopped (and checked to have stopped) on exit."""
    worker = pgflow.Worker(db_url, flows, **{**FAST, **options})
    await worker.start()
    try:
        yield worker
    finally:
        await worker.stop()
        assert worker.state == "stopped"


async def finished(client: pgflow.AsyncClient, run_id: UUID, timeout: float = 30.0) -> pgflow.Run:
    """The run once it completed or failed, with its step states and tasks."""

    async def check() -> pgflow.Run | None:
        run = await client.get_run_with_states(run_id)
        return run if run.finished else None

    return await eventually_async(check, timeout=timeout, interval=0.05, message=f"run {run_id} finishes")


async def rows(db_url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql, params)
        return await cur.fetchall() if cur.description else []
