"""``pgflow db``: install, status, check and print the schema; grant roles."""

from __future__ import annotations

import click

from pgflow import migrate
from pgflow.cli.common import connect, database_option, echo_json, echo_table, fail, json_option, main_group
from pgflow.db import run_sync


@main_group.group()
def db() -> None:
    """Install and inspect the pgflow schema."""


@db.command()
@database_option
@click.option("--pgmq", type=click.Choice(["auto", "extension", "sql", "none"]), default="auto", show_default=True,
              help="How to install pgmq when it is missing.")
def install(database_url: str | None, pgmq: str) -> None:
    """Apply missing migrations (idempotent; safe to run from several deploys at once)."""
    with connect(database_url) as conn:
        with conn.transaction():
            applied = run_sync(conn, migrate.install(pgmq=pgmq))
        st = run_sync(conn, migrate.status())
    if applied:
        for m in applied:
            click.echo(f"applied {m.version:04d}_{m.name}")
    else:
        click.echo("schema is up to date; nothing to apply")
    click.echo(f"pgmq {st.pgmq_version} ({st.pgmq_source})")


@db.command()
@database_option
@json_option
def status(database_url: str | None, as_json: bool) -> None:
    """Applied migrations, pgmq version, and what is missing."""
    with connect(database_url) as conn:
        st = run_sync(conn, migrate.status())
    if as_json:
        echo_json({
            "applied": st.applied,
            "pending": [f"{m.version:04d}_{m.name}" for m in st.pending],
            "pgmq_version": st.pgmq_version,
            "pgmq_source": st.pgmq_source,
            "problems": st.problems,
        })
        return
    click.echo(f"pgmq: {st.pgmq_version or 'missing'}" + (f" ({st.pgmq_source})" if st.pgmq_source else ""))
    echo_table([(f"{r['version']:04d}", r["name"], r["applied_at"]) for r in st.applied], ["version", "migration", "applied at"])
    for m in st.pending:
        click.echo(f"pending: {m.version:04d}_{m.name}")
    for p in st.problems:
        click.echo(f"problem: {p}")


@db.command()
@database_option
def check(database_url: str | None) -> None:
    """Exit non-zero with a list of problems when the schema is incomplete or drifted."""
    with connect(database_url) as conn:
        st = run_sync(conn, migrate.status())
    if st.ok:
        click.echo("ok: pgflow schema is complete and unchanged")
        return
    click.echo("the pgflow schema has problems:", err=True)
    for p in st.problems:
        click.echo(f"  - {p}", err=True)
    fail("run `pgflow db install` to apply missing migrations; drifted objects were changed by hand", code=2)


@db.command()
@database_option
@click.argument("role")
@click.option("--as", "kind", type=click.Choice(list(migrate.GRANT_KINDS)), required=True,
              help="worker: every row and function, no DDL; client: read, start and change runs (no DELETE); "
                   "dashboard: read only.")
def grant(database_url: str | None, role: str, kind: str) -> None:
    """Grant an existing ROLE what a worker, a client or the dashboard needs (run as the installing role)."""
    from pgflow.errors import PgFlowError

    try:
        with connect(database_url) as conn:
            with conn.transaction():
                run_sync(conn, migrate.grant(role, kind))
    except PgFlowError as exc:
        fail(str(exc))
    click.echo(f"granted {role} what a {kind} needs")


@db.command()
@database_option
@click.option("--tcp", is_flag=True,
              help="The embedded server's URL over TCP (127.0.0.1), for Node clients and containers; "
                   "makes the server listen there from now on.")
@click.option("--port", type=click.IntRange(1024, 65535), default=None, metavar="PORT",
              help="The TCP port with --tcp (default: the one chosen before, else 54329).")
def url(database_url: str | None, tcp: bool, port: int | None) -> None:
    """Print the database URL the commands use (the embedded server's socket URL by default)."""
    from pgflow.db import embedded
    from pgflow.db.dsn import configured_dsn

    given = database_url or configured_dsn()
    if given:
        if tcp:
            fail("--tcp is for the embedded server; the database is configured by --database-url, "
                 "PGFLOW_DATABASE_URL or DATABASE_URL: give that URL to the other clients")
        click.echo(given)
        return
    if not tcp:
        click.echo(embedded.start())
        return
    click.echo(embedded.enable_tcp(port or embedded.tcp_port() or DEFAULT_TCP_PORT))


DEFAULT_TCP_PORT = 54329


@db.command("sql")
@click.option("--pgmq", type=click.Choice(["sql", "extension", "none"]), default="sql", show_default=True,
              help="Include pgmq's SQL install, CREATE EXTENSION, or nothing.")
def sql_command(pgmq: str) -> None:
    """Print the complete install SQL (for Alembic, Django or psql)."""
    click.echo(migrate.install_sql(pgmq=pgmq), nl=False)


@db.group("server")
def server() -> None:
    """The embedded PostgreSQL (used when no database URL is configured): status, start, stop."""


@server.command("status")
@json_option
def server_status(as_json: bool) -> None:
    """Whether the embedded server runs, where its data lives, and its URL."""
    from pgflow.db import embedded
    from pgflow.db.dsn import configured_dsn

    found = embedded.server_status()
    if as_json:
        echo_json(found)
        return
    click.echo(f"embedded PostgreSQL: {'running (pid ' + str(found['pid']) + ')' if found['running'] else 'stopped'}")
    click.echo(f"  data  {found['data_dir']}" + ("" if found["exists"] else " (not created yet)"))
    if found["running"]:
        click.echo(f"  url   {found['url']}")
    if found["tcp_port"] is not None:
        click.echo(f"  tcp   {embedded.tcp_url(found['tcp_port'])}")
    if configured_dsn():
        click.echo("  (not in use: PGFLOW_DATABASE_URL or DATABASE_URL is set)")


@server.command("start")
def server_start() -> None:
    """Start the embedded server (creating it on first use) and print its URL."""
    from pgflow.db import embedded

    click.echo(embedded.start())


@server.command("stop")
def server_stop() -> None:
    """Stop the embedded server; its data stays (delete the data directory to remove it)."""
    from pgflow.db import embedded

    stopped = embedded.stop()
    where = embedded.data_dir()
    click.echo(f"embedded PostgreSQL stopped ({where})" if stopped else f"embedded PostgreSQL is not running ({where})")
