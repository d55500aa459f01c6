"""Every caller of the data layer gets the same ``db.query`` telemetry span: the clients, the
dashboard's store, the CLI's migrations, the worker and its scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

import pgflow
from pgflow import migrate, telemetry
from pgflow.db import Database, drive_async, run_sync
from pgflow.ops import flows as flow_ops
from pgflow.web.store import Store
from tests.integration.worker.conftest import finished, running

Recorded = list[tuple[str, dict[str, Any], dict[str, Any]]]


@pytest.fixture
def spans() -> Iterator[Recorded]:
    seen: Recorded = []
    telemetry.attach("test-db-query", "db.query.*", lambda e, m, md: seen.append((e, dict(m), dict(md))))
    yield seen
    telemetry.detach("test-db-query")


def ended(spans: Recorded, query: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """The stop/exception events of the spans of ``query``, each checked against its start."""
    starts = {md["span_id"]: md for e, _, md in spans if e == "db.query.start"}
    found = [(e, ms, md) for e, ms, md in spans if e != "db.query.start" and md["query"] == query]
    for _, ms, md in found:
        assert starts[md["span_id"]]["query"] == query and ms["duration"] >= 0
    return found


def test_the_sync_client_emits_one_span_per_operation(db_url: str, spans: Recorded) -> None:
    with pgflow.Client(db_url) as client:
        client.list_flows()
    assert [e for e, _, _ in ended(spans, "list_flows")] == ["db.query.stop"]


async def test_the_async_client_emits_the_span_and_its_failure(db_url: str, spans: Recorded) -> None:
    async with pgflow.AsyncClient(db_url) as client:
        await client.list_flows()
        with pytest.raises(pgflow.FlowNotFound):
            await client.start_flow("no_such_flow", {})
    assert [e for e, _, _ in ended(spans, "list_flows")] == ["db.query.stop"]
    ((event, _, metadata),) = ended(spans, "start_flow")
    assert event == "db.query.exception" and "FlowNotFound" in metadata["error"]


async def test_the_dashboard_store_emits_the_span(db_url: str, spans: Recorded) -> None:
    store = Store(db_url)
    try:
        assert await store.has_table("pgflow.runs")
    finally:
        await store.close()
    assert [e for e, _, _ in ended(spans, "dashboard_table_exists")] == ["db.query.stop"]
    assert ended(spans, "dashboard_session_setup")  # the pool's own setup of each connection


def test_the_migrations_emit_the_span(db_url: str, spans: Recorded) -> None:
    with psycopg.connect(db_url) as conn:
        assert run_sync(conn, migrate.status()).ok
    assert [e for e, _, _ in ended(spans, "status")] == ["db.query.stop"]


async def test_the_worker_emits_the_span(db_url: str, spans: Recorded) -> None:
    flow = pgflow.Flow("spanned")

    @flow.step
    def only(input: Any) -> int:
        return 1

    async with pgflow.AsyncClient(db_url) as client, running(db_url, [flow]):
        await finished(client, await client.start_flow(flow, {}))
    queries = {md["query"] for e, _, md in spans if e == "db.query.stop"}
    assert {"worker_register", "compile_flow spanned", "worker_claim_tasks"} <= queries, queries
    assert any(q.startswith("worker_report") for q in queries), queries


async def test_an_operation_driven_inside_a_worker_call_is_part_of_that_calls_span(
        db_url: str, spans: Recorded) -> None:
    database = Database(db_url, size=1)
    try:
        await database.call("outer", lambda conn: drive_async(conn, flow_ops.list_flows()))
    finally:
        await database.close()
    assert [e for e, _, _ in ended(spans, "outer")] == ["db.query.stop"]
    assert not ended(spans, "list_flows")
