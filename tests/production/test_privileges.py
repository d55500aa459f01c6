"""Least privilege: install as a role that is no superuser; a worker, a client and the dashboard run
as roles given only what they need (pgflow db grant ROLE --as KIND), and each is refused the rest;
no pgflow function is executable by PUBLIC (the SECURITY DEFINER ones included)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

import pgflow
from pgflow import migrate
from pgflow.db import run_sync
from pgflow.web import create_app
from tests.integration.worker.conftest import finished, running

REFUSED = psycopg.errors.InsufficientPrivilege


def as_role(url: str, role: str) -> str:
    return make_conninfo(url, user=role)


@pytest.fixture
def roles(db_url: str, pg_admin_url: str) -> Iterator[dict[str, str]]:
    """Fresh login roles (no superuser), dropped with what they were granted afterwards."""
    names = {kind: f"pgflow_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("worker", "client", "dashboard", "reader")}
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        for name in names.values():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(name)))
    try:
        yield names
    finally:
        with psycopg.connect(db_url, autocommit=True) as conn:
            for name in names.values():
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            for name in names.values():
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def grant(url: str, role: str, kind: str) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        run_sync(conn, migrate.grant(role, kind))


def refused(url: str, statement: str, params: tuple[object, ...] = ()) -> bool:
    with psycopg.connect(url) as conn:
        try:
            conn.execute(statement, params)
        except REFUSED:
            return True
        finally:
            conn.rollback()
    return False


def make_flow() -> pgflow.Flow:
    flow = pgflow.Flow("least_privilege")

    @flow.step
    def double(input):
        return input["x"] * 2

    return flow


def test_install_as_a_role_that_owns_only_the_pgflow_and_pgmq_schemas(empty_db_url, pg_admin_url):
    installer = f"pgflow_owner_{uuid.uuid4().hex[:8]}"
    dbname = conninfo_to_dict(empty_db_url)["dbname"]
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(sql.Identifier(installer)))
        admin.execute(sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(sql.Identifier(dbname), sql.Identifier(installer)))
    try:
        with psycopg.connect(as_role(empty_db_url, installer)) as conn, conn.transaction():
            run_sync(conn, migrate.install())
        with psycopg.connect(empty_db_url) as conn:
            owners = dict(conn.execute(
                "SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname IN ('pgflow', 'pgmq')"
            ).fetchall())
            public_can = conn.execute(
                "SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'pgflow'::regnamespace "
                "AND has_function_privilege('public', p.oid, 'EXECUTE')").fetchone()[0]
        assert owners == {"pgflow": installer, "pgmq": installer}
        assert public_can == 0
        with psycopg.connect(as_role(empty_db_url, installer)) as conn:
            assert run_sync(conn, migrate.status()).ok
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(installer)))
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(installer)))
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(installer)))


def test_a_role_with_only_usage_cannot_start_runs_through_security_definer_functions(db_url, roles):
    # the probe of the issue: USAGE on the schema (what a reporting role gets) was enough to start a
    # run of any flow as the owner, through start_flow_with_states (SECURITY DEFINER)
    flow = make_flow()
    with pgflow.Client(db_url) as client:
        client.compile(flow)
    reader = roles["reader"]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA pgflow, pgmq TO {}").format(sql.Identifier(reader)))
    url = as_role(db_url, reader)
    assert refused(url, "SELECT pgflow.start_flow_with_states('least_privilege', '{\"x\": 1}')")
    assert refused(url, "SELECT pgflow.get_run_with_states(gen_random_uuid())")
    assert refused(url, "SELECT pgflow.requeue_stalled_tasks()")


async def test_worker_client_and_dashboard_run_as_their_roles_and_are_refused_the_rest(db_url, roles):
    flow = make_flow()
    with pgflow.Client(db_url) as owner:  # flows are compiled by the installing role (a deploy step)
        owner.compile(flow)
    done = subprocess.run([sys.executable, "-m", "pgflow", "db", "grant", roles["worker"], "--as", "worker",
                           "--database-url", db_url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"granted {roles['worker']} what a worker needs"
    grant(db_url, roles["client"], "client")
    grant(db_url, roles["dashboard"], "dashboard")
    worker_url, client_url, dashboard_url = (as_role(db_url, roles[k]) for k in ("worker", "client", "dashboard"))

    async with pgflow.AsyncClient(client_url) as client:
        async with running(worker_url, [flow]):
            run = await finished(client, await client.start_flow(flow, {"x": 21}))
    assert run.status == "completed" and run.output == {"double": 42}

    app = create_app(dashboard_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            overview = await web.get("/")
            page = await web.get(f"/runs/{run.run_id}")
    finally:
        await app.state.dashboard.close()
    assert overview.status_code == 200 and page.status_code == 200
    assert "least_privilege" in page.text

    # the dashboard reads, and cannot start, change or delete anything
    assert refused(dashboard_url, "SELECT pgflow.start_flow('least_privilege', '{\"x\": 1}')")
    assert refused(dashboard_url, "SELECT pgflow.start_flow_with_states('least_privilege', '{\"x\": 1}')")
    assert refused(dashboard_url, "UPDATE pgflow.runs SET status = 'failed'")
    assert refused(dashboard_url, "SELECT pgmq.send('least_privilege', '{}')")
    # the client starts runs, and cannot delete data or run the worker's sweep
    assert not refused(client_url, "SELECT pgflow.start_flow('least_privilege', '{\"x\": 1}')")
    assert refused(client_url, "DELETE FROM pgflow.runs")
    assert refused(client_url, "SELECT pgflow.requeue_stalled_tasks()")
    # nobody but the owner changes the schema
    for url in (worker_url, client_url, dashboard_url):
        assert refused(url, "CREATE TABLE pgflow.intruder (id int)")
        assert refused(url, "DROP TABLE pgflow.runs")
        assert refused(url, "ALTER TABLE pgflow.runs ADD COLUMN intruder int")


def test_granting_a_missing_role_or_kind_says_what_to_do(db_url):
    with pytest.raises(pgflow.ConfigurationError, match="there is no role 'nobody_here': create it first"):
        grant(db_url, "nobody_here", "worker")
    with pytest.raises(pgflow.ConfigurationError, match="unknown kind of role 'admin': use one of worker, client"):
        grant(db_url, "postgres", "admin")


def test_a_typescript_worker_runs_its_sql_sequence_as_a_worker_role(db_url, roles):
    # the TypeScript worker's exact calls (tests/compat): verify its flow, register, read, start,
    # complete, heartbeat, stop; the flow compiled by the owner in the deploy
    from tests.compat import flows
    from tests.compat.ts_worker import TsWorkerSql, work

    flow, handlers = flows.map_flow("TsRole", step_queues=False)
    with pgflow.Client(db_url) as owner:
        owner.compile(flow)
    grant(db_url, roles["worker"], "worker")
    with psycopg.connect(as_role(db_url, roles["worker"]), autocommit=True) as ts_conn, \
            pgflow.Client(db_url) as client:
        worker = TsWorkerSql(ts_conn, flow.slug, flow.shape())
        assert worker.start()["status"] == "verified"
        run_id = client.start_flow(flow, [1, 2, 3])
        work([worker], handlers, lambda: client.get_run(run_id).finished)
        assert worker.heartbeat() is False  # the UPDATE went through; not told to stop
        worker.stop()
        run = client.get_run_with_states(run_id)
    assert run.status == "completed" and run.output == {"total": 14}
