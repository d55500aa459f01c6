"""Shared pieces of the CLI: the root group, database options, output and error handling."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, NoReturn
from uuid import UUID

import click
import psycopg

from pgflow.db import first_line
from pgflow.errors import PgFlowError
from pgflow.textsafe import printable


class PgflowGroup(click.Group):
    """Turns library and connection errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PgFlowError as exc:
            fail(str(exc))
        except psycopg.OperationalError as exc:
            fail(f"cannot reach the database: {first_line(exc)}")
        except psycopg.Error as exc:
            fail(f"database error: {first_line(exc)}")


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(code)


@click.group(cls=PgflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pgflow-py", prog_name="pgflow")
def main_group() -> None:
    """pgflow: workflows, background jobs and cron in PostgreSQL.

    The database is PGFLOW_DATABASE_URL, then DATABASE_URL, else an embedded PostgreSQL
    kept in your user data directory (override with --database-url on each command).
    """
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


database_option = click.option(
    "--database-url", "-d", envvar="PGFLOW_DATABASE_URL", default=None, metavar="URL",
    help="PostgreSQL URL (default: $PGFLOW_DATABASE_URL, $DATABASE_URL, else the embedded server).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def dsn_for(database_url: str | None) -> str:
    from pgflow.db.dsn import resolve_dsn

    return resolve_dsn(database_url, announce=True)


@contextmanager
def connect(database_url: str | None) -> Iterator[psycopg.Connection]:
    with psycopg.connect(dsn_for(database_url)) as conn:
        yield conn


@contextmanager
def client_for(database_url: str | None) -> Iterator[Any]:
    """An open :class:`pgflow.Client` for the command's database, closed afterwards."""
    from pgflow.client import Client

    with Client(dsn_for(database_url), max_size=2) as client:
        yield client


def to_jsonable(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k)) for k in value.__dataclass_fields__ if k != "raw"}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, UUID, Decimal)):
        return str(value) if not isinstance(value, datetime) else value.isoformat()
    return value


def echo_json(value: Any) -> None:
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def echo_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain, aligned text table."""
    text_rows = [["" if c is None else printable(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths))
    click.echo(line.rstrip())
    for row in text_rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    if not text_rows:
        click.echo("(none)")


def parse_json_option(text: str | None, what: str = "--input") -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {text!r}")


Command = Callable[..., Any]
