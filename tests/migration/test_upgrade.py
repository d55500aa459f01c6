"""Upgrading a populated database from the first release's schema (0001 + 0002) to the current one.

The old database is filled through the old SQL interface (three-argument ``start_tasks``, the
two-argument ``ensure_flow_compiled`` call) with runs in every state, then ``migrate.install()``
upgrades it: nothing is lost, the task-lifecycle repairs are made, the queue names are filled in,
and a Python worker finishes the runs that were still going. A database whose flows break the
new slug rules is refused as a whole, with a message that names the flow and says what to do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import dict_row

import pgflow
from pgflow import migrate
from pgflow.db import run_sync
from tests.integration.worker.conftest import finished, running

OLD_RELEASE = 2  # 0001_initial + 0002_one_event_contract
WORKER = "00000000-0000-4000-8000-0000000000aa"


def seq_flow() -> pgflow.Flow:
    flow = pgflow.Flow("upg_seq", max_attempts=1)

    @flow.step
    def a(input):
        return input["n"] + 1

    @flow.step(depends_on=[a])
    def b(deps):
        return deps["a"] * 2

    return flow


def map_flow() -> pgflow.Flow:
    flow = pgflow.Flow("upg_map", max_attempts=1)

    @flow.map
    def items(item):
        return item * 10

    @flow.step(depends_on=[items])
    def total(deps):
        return sum(deps["items"])

    return flow


def skip_flow() -> pgflow.Flow:
    flow = pgflow.Flow("upg_skip", max_attempts=1)

    @flow.map(when_exhausted="skip")
    def probe(item):
        return item

    @flow.step(depends_on=[probe])
    def after(deps):
        return {"probe": deps.get("probe")}

    return flow


def fail_flow() -> pgflow.Flow:
    flow = pgflow.Flow("upg_fail", max_attempts=1)

    @flow.step
    def x(input):
        return 1

    @flow.step
    def y(input):
        return 2

    @flow.step
    def z(input):
        return 3

    return flow


FLOWS = (seq_flow, map_flow, skip_flow, fail_flow)


# ---------------------------------------------------------------------- the old interface


class OldSql:
    """The SQL interface of the first release, as a worker of that time called it."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def one(self, query: str, *params: Any) -> Any:
        row = self.conn.execute(query, params).fetchone()
        return None if row is None else row[0]

    def compile(self, flow: pgflow.Flow) -> None:
        result = self.one("SELECT pgflow.ensure_flow_compiled(%s, %s::jsonb)", flow.slug, json.dumps(flow.shape()))
        assert result["status"] == "compiled", result

    def start(self, slug: str, flow_input: Any) -> UUID:
        run_id: UUID = self.one("SELECT run_id FROM pgflow.start_flow(%s, %s::jsonb)", slug, json.dumps(flow_input))
        return run_id

    def claim(self, slug: str, run_id: UUID, *tasks: tuple[str, int]) -> None:
        msg_ids = [self.one("SELECT message_id FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = %s "
                            "AND task_index = %s", run_id, step, index) for step, index in tasks]
        claimed = self.conn.execute("SELECT * FROM pgflow.start_tasks(%s, %s::bigint[], %s::uuid)",
                                    (slug, msg_ids, WORKER)).fetchall()
        assert len(claimed) == len(tasks)

    def complete(self, run_id: UUID, step: str, index: int, output: Any) -> None:
        self.conn.execute("SELECT pgflow.complete_task(%s, %s, %s, %s::jsonb)", (run_id, step, index, json.dumps(output)))

    def fail(self, run_id: UUID, step: str, index: int, error: str) -> None:
        self.conn.execute("SELECT pgflow.fail_task(%s, %s, %s, %s)", (run_id, step, index, error))


@pytest.fixture
def old_db(empty_db_url: str) -> Iterator[str]:
    """A database installed by the first release (migrations 0001 and 0002 only)."""
    with psycopg.connect(empty_db_url) as conn:
        with conn.transaction():
            applied = run_sync(conn, migrate.install(up_to=OLD_RELEASE))
    assert [m.version for m in applied] == [1, 2]
    yield empty_db_url


def upgrade(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        with conn.transaction():
            return [m.version for m in run_sync(conn, migrate.install())]


def ledger(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM pgflow.schema_migrations ORDER BY version")]


def snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """What must survive the upgrade: every row's identity, state and data, and every message."""
    cur = conn.cursor(row_factory=dict_row)
    out: dict[str, Any] = {}
    out["runs"] = cur.execute("SELECT run_id, flow_slug, status, input, output, remaining_steps "
                              "FROM pgflow.runs ORDER BY run_id").fetchall()
    out["step_states"] = cur.execute(
        "SELECT run_id, step_slug, status, remaining_tasks, remaining_deps, initial_tasks, output "
        "FROM pgflow.step_states ORDER BY run_id, step_slug").fetchall()
    out["tasks"] = cur.execute(
        "SELECT run_id, step_slug, task_index, message_id, attempts_count, output, error_message "
        "FROM pgflow.step_tasks ORDER BY run_id, step_slug, task_index").fetchall()
    out["messages"] = {
        slug: cur.execute(f"SELECT msg_id, vt, message FROM pgmq.q_{slug} ORDER BY msg_id").fetchall()  # noqa: S608
        for slug in ("upg_seq", "upg_map", "upg_skip", "upg_fail")}
    return out


def task_status(conn: psycopg.Connection[Any], run_id: UUID) -> dict[tuple[str, int], str]:
    rows = conn.execute("SELECT step_slug, task_index, status FROM pgflow.step_tasks WHERE run_id = %s", (run_id,))
    return {(r[0], r[1]): r[2] for r in rows}


def populate(sql: OldSql) -> dict[str, UUID]:
    """Runs in every state; returns them by name."""
    for make in FLOWS:
        sql.compile(make())
    sql.conn.execute("INSERT INTO pgflow.workers (queue_name, worker_id, function_name) VALUES ('upg_seq', %s, 'old')",
                     (WORKER,))
    runs: dict[str, UUID] = {}
    # completed run
    runs["done"] = sql.start("upg_seq", {"n": 1})
    sql.claim("upg_seq", runs["done"], ("a", 0))
    sql.complete(runs["done"], "a", 0, 2)
    sql.claim("upg_seq", runs["done"], ("b", 0))
    sql.complete(runs["done"], "b", 0, 4)
    # started run: a completed, b in flight (its worker reports after the upgrade)
    runs["in_flight"] = sql.start("upg_seq", {"n": 2})
    sql.claim("upg_seq", runs["in_flight"], ("a", 0))
    sql.complete(runs["in_flight"], "a", 0, 3)
    sql.claim("upg_seq", runs["in_flight"], ("b", 0))
    # started run: a queued, b created
    runs["queued"] = sql.start("upg_seq", {"n": 5})
    # a run due in an hour (a delayed message)
    runs["delayed"] = sql.one("SELECT run_id FROM pgflow.start_flow_at('upg_seq', '{\"n\": 7}'::jsonb, "
                              "now() + interval '1 hour')")
    # a map with several tasks: completed, started, queued
    runs["map"] = sql.start("upg_map", [1, 2, 3])
    sql.claim("upg_map", runs["map"], ("items", 0), ("items", 1))
    sql.complete(runs["map"], "items", 0, 10)
    # a skipped step whose other tasks were still started (the old engine left them so)
    runs["skipped"] = sql.start("upg_skip", [1, 2, 3])
    sql.claim("upg_skip", runs["skipped"], ("probe", 0), ("probe", 1), ("probe", 2))
    sql.fail(runs["skipped"], "probe", 1, "probe failed")
    # a failed run whose other tasks were still started or queued
    runs["failed"] = sql.start("upg_fail", {})
    sql.claim("upg_fail", runs["failed"], ("x", 0), ("y", 0))
    sql.fail(runs["failed"], "x", 0, "x failed")
    return runs


def test_a_populated_database_upgrades_with_nothing_lost(old_db: str) -> None:
    with psycopg.connect(old_db, autocommit=True) as conn:
        runs = populate(OldSql(conn))
        # the old engine's leftovers the upgrade repairs
        assert task_status(conn, runs["skipped"]) == {
            ("probe", 0): "started", ("probe", 1): "failed", ("probe", 2): "started", ("after", 0): "queued"}
        assert task_status(conn, runs["failed"]) == {("x", 0): "failed", ("y", 0): "started", ("z", 0): "queued"}
        before = snapshot(conn)
        states = {r["step_slug"] + "@" + str(r["run_id"]): r["status"] for r in before["step_states"]}
        assert set(states.values()) == {"created", "started", "completed", "failed", "skipped"}

    assert upgrade(old_db) == [v for v in ledger_after_upgrade() if v > OLD_RELEASE]

    with psycopg.connect(old_db, autocommit=True) as conn:
        after = snapshot(conn)
        assert after == before  # rows, outputs, errors, message ids and messages unchanged
        assert task_status(conn, runs["skipped"]) == {
            ("probe", 0): "skipped", ("probe", 1): "failed", ("probe", 2): "skipped", ("after", 0): "queued"}
        assert task_status(conn, runs["failed"]) == {("x", 0): "failed", ("y", 0): "cancelled", ("z", 0): "cancelled"}
        assert conn.execute("SELECT DISTINCT status FROM pgflow.step_tasks WHERE run_id = %s",
                            (runs["done"],)).fetchall() == [("completed",)]
        assert conn.execute("SELECT count(*) FROM pgflow.step_tasks WHERE queue_name IS DISTINCT FROM lower(flow_slug)"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pgflow.steps WHERE queue_name IS DISTINCT FROM lower(flow_slug)"
                            ).fetchone() == (0,)
        assert conn.execute("SELECT DISTINCT queue_mode FROM pgflow.flows").fetchall() == [("flow",)]
        status = run_sync(conn, migrate.status())
        assert status.ok, status.problems
        # the worker that had b in flight reports after the upgrade; so does the map's
        OldSql(conn).complete(runs["in_flight"], "b", 0, 6)
        OldSql(conn).complete(runs["map"], "items", 1, 20)


async def test_a_python_worker_finishes_the_runs_started_before_the_upgrade(old_db: str) -> None:
    with psycopg.connect(old_db, autocommit=True) as conn:
        runs = populate(OldSql(conn))
    upgrade(old_db)
    with psycopg.connect(old_db, autocommit=True) as conn:  # the in-flight tasks report late
        OldSql(conn).complete(runs["in_flight"], "b", 0, 6)
        OldSql(conn).complete(runs["map"], "items", 1, 20)

    async with pgflow.AsyncClient(old_db) as client:
        async with running(old_db, [make() for make in FLOWS]):
            outcomes = {name: await finished(client, runs[name])
                        for name in ("done", "in_flight", "queued", "map", "skipped", "failed")}
        delayed = await client.get_run_with_states(runs["delayed"])

    assert {name: (run.status, run.output) for name, run in outcomes.items()} == {
        "done": ("completed", {"b": 4}),
        "in_flight": ("completed", {"b": 6}),
        "queued": ("completed", {"b": 12}),
        "map": ("completed", {"total": 60}),
        "skipped": ("completed", {"after": {"probe": None}}),
        "failed": ("failed", None),
    }
    assert delayed.status == "started" and delayed.step_states[0].tasks[0].status == "queued"


def ledger_after_upgrade() -> list[int]:
    return [m.version for m in migrate.migrations()]


# ---------------------------------------------------------------------- refusals


def add_old_flow(conn: psycopg.Connection[Any], slug: str) -> None:
    conn.execute("SELECT pgflow.create_flow(%s)", (slug,))
    conn.execute("SELECT pgflow.add_step(%s, 'only')", (slug,))


@pytest.mark.parametrize("slugs, named", [
    pytest.param(["Orders", "orders"], ["Orders", "orders"], id="case-only-duplicates"),
    pytest.param(["_x"], ["_x"], id="leading-underscore"),
    pytest.param(["a__b"], ["a__b"], id="double-underscore"),
])
def test_conflicting_slugs_refuse_the_upgrade_as_a_whole(old_db: str, slugs: list[str], named: list[str]) -> None:
    with psycopg.connect(old_db, autocommit=True) as conn:
        add_old_flow(conn, "fine")
        for slug in slugs:
            add_old_flow(conn, slug)
        conn.execute("SELECT pgflow.start_flow('fine', '{}'::jsonb)")

    with pytest.raises(Exception) as refused:  # noqa: PT011 - the database's error, as install raises it
        upgrade(old_db)

    message = str(refused.value)
    assert all(f"'{slug}'" in message for slug in named), message
    assert "delete_flow_and_data" in message  # says what to do
    assert ledger(old_db) == [1, 2]  # nothing applied
    with psycopg.connect(old_db) as conn:
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'pgflow' AND table_name = 'flows'")}
        assert "queue_mode" not in columns
        assert conn.execute("SELECT count(*) FROM pgflow.runs").fetchone() == (1,)
