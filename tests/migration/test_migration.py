"""The migrations and the declared schema describe the same database."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
import sys
from pathlib import Path

import psycopg
import pytest

from pgflow import migrate
from pgflow.db import Query, run_sync

ROOT = Path(__file__).resolve().parents[2]


def _catalog(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return run_sync(conn, migrate.catalog())


def test_migrations_give_the_declared_schema(empty_db_url: str, db_url: str) -> None:
    # db_url was installed through the migrations; build the declared schema from its files
    with psycopg.connect(empty_db_url) as conn:
        conn.execute(migrate.pgmq_sql())
        conn.execute(migrate.declared_schema_sql())
        conn.commit()
    declared = _catalog(empty_db_url)
    migrated = _catalog(db_url)
    assert declared, "the declared schema created no objects"
    assert sorted(set(declared) ^ set(migrated)) == []
    assert {k for k in declared if declared[k] != migrated[k]} == set()


def test_initial_migration_is_frozen() -> None:
    # installed databases ran the released 0001 (its checksum is in their ledger): changes go
    # into new migrations, and the test above proves they add up to the declared schema
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_migration.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_install_twice_changes_nothing(db_url: str) -> None:
    before = _catalog(db_url)
    with psycopg.connect(db_url) as conn:
        with conn.transaction():
            applied = run_sync(conn, migrate.install())
        status = run_sync(conn, migrate.status())
    assert applied == []
    assert _catalog(db_url) == before
    assert status.ok, status.problems


def test_check_reports_a_function_changed_by_hand(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("CREATE OR REPLACE FUNCTION pgflow.is_local() RETURNS boolean LANGUAGE sql AS 'SELECT true'")
        conn.commit()
        status = run_sync(conn, migrate.status())
    assert not status.ok
    assert any("is_local" in p and "changed" in p for p in status.problems), status.problems


def test_install_into_a_database_with_pgmq_already_installed_as_sql(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        conn.execute(migrate.pgmq_sql())
        conn.execute("SELECT pgmq.create('existing_queue')")
        conn.commit()
        with conn.transaction():
            run_sync(conn, migrate.install())
        assert conn.execute("SELECT count(*) FROM pgmq.list_queues() WHERE queue_name = 'existing_queue'").fetchone()[0] == 1
        assert run_sync(conn, migrate.status()).ok


def test_pgmq_is_installed_when_missing(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url) as conn:
        assert run_sync(conn, Query.scalar("ledger_exists")) is False
        with conn.transaction():
            applied = run_sync(conn, migrate.install())
        assert [m.version for m in applied] == [m.version for m in migrate.migrations()]
        offered = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq')").fetchone()[0]
        version, source = run_sync(conn, migrate.pgmq_state())
    assert source == ("extension" if offered else "sql")


@pytest.fixture
def pgmq_extension_offered(empty_db_url: str) -> Iterator[str]:
    """Make the server offer pgmq as an extension, built from the SQL the pgmq package ships.

    pgmq is a pure-SQL extension, so a control file plus its install script is the real thing.
    Only possible on a test server whose share dir is ours to write (embedded, or PGFLOW_TEST_PG's); the files are
    removed afterwards so other tests see a server without the extension.
    """
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgmq')").fetchone()[0]:
            yield empty_db_url
            return
        sharedir = conn.execute("SELECT setting FROM pg_config WHERE name = 'SHAREDIR'").fetchone()[0]
    ext_dir = Path(sharedir) / "extension"
    assert os.access(ext_dir, os.W_OK), (
        "the pgmq-as-extension test needs a test server whose share dir is ours (the embedded one, or "
        "PGFLOW_TEST_PG's), or a server that offers the pgmq extension"
    )
    version = migrate.pgmq_bundled_version()
    files = [ext_dir / f"pgmq--{version}.sql", ext_dir / "pgmq.control"]
    files[0].write_text(migrate.pgmq_sql())
    files[1].write_text(
        f"comment = 'pgmq (built from the pgmq package SQL for tests)'\n"
        f"default_version = '{version}'\nrelocatable = false\nschema = 'pgmq'\n"
    )
    try:
        yield empty_db_url
    finally:
        for f in files:
            f.unlink(missing_ok=True)


def test_install_into_a_database_with_pgmq_as_an_extension(pgmq_extension_offered: str) -> None:
    with psycopg.connect(pgmq_extension_offered) as conn:
        conn.execute("CREATE EXTENSION pgmq")
        conn.execute("SELECT pgmq.create('existing_queue')")
        conn.commit()
        with conn.transaction():
            run_sync(conn, migrate.install())
        version, source = run_sync(conn, migrate.pgmq_state())
        assert source == "extension"
        assert version == migrate.pgmq_bundled_version()
        assert run_sync(conn, migrate.status()).ok
        # the engine works on the extension's pgmq
        conn.execute("SELECT pgflow.create_flow('ext_flow')")
        conn.execute("SELECT pgflow.add_step('ext_flow', 'only')")
        conn.execute("SELECT pgflow.start_flow('ext_flow', '{}'::jsonb)")
        assert conn.execute("SELECT count(*) FROM pgmq.q_ext_flow").fetchone()[0] == 1


def test_install_creates_the_extension_when_the_server_offers_it(pgmq_extension_offered: str) -> None:
    with psycopg.connect(pgmq_extension_offered) as conn:
        with conn.transaction():
            run_sync(conn, migrate.install())
        assert run_sync(conn, migrate.pgmq_state())[1] == "extension"
