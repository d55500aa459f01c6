"""``pgflow db sql``: the printed install script, applied the way psql would apply it."""

from __future__ import annotations

import psycopg

from pgflow import migrate
from pgflow.db import run_sync


def test_the_install_script_installs_the_schema_and_a_second_run_changes_nothing(empty_db_url: str) -> None:
    script = migrate.install_sql(pgmq="sql")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(script)
        status = run_sync(conn, migrate.status())
        assert [r["version"] for r in status.applied] == [m.version for m in migrate.migrations()]
        assert status.pending == [] and status.problems == []
        conn.execute(script)
        assert run_sync(conn, migrate.status()).applied == status.applied
        conn.execute("SELECT pgflow.create_flow('installed_by_script')")
        conn.execute("SELECT pgmq.send('installed_by_script', '{}')")  # the flow's queue, in pgmq
