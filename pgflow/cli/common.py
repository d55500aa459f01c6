"""Shared pieces of the CLI: the root group, database options, output and error handling."""

from __future__ import annotations

import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
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
            from pgflow.db.dsn import dsn_source

            fail(f"cannot reach the database: {first_line(exc)}; check that PostgreSQL is running and that "
                 f"{dsn_source()} points at it")
        except psycopg.Error as exc:
            fail(f"database error: {first_line(exc)}")


def echo_error(message: str) -> None:
    """``error: <message>`` on stderr, control characters escaped; red on a terminal (click drops
    the colour when stderr is piped)."""
    click.echo(click.style("error:", fg="red", bold=True) + f" {printable(message)}", err=True)


def fail(message: str, code: int = 1) -> NoReturn:
    echo_error(message)
    sys.exit(code)


_OPTIONS = {"verbose": False}


@click.group(cls=PgflowGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pgflow-py", prog_name="pgflow")
@click.option("--verbose", "-v", is_flag=True,
              help="Say which database is used on every command (else once per terminal session).")
def main_group(verbose: bool = False) -> None:
    """pgflow: workflows, background jobs and cron in PostgreSQL.

    The database is PGFLOW_DATABASE_URL, then DATABASE_URL, else an embedded PostgreSQL
    kept in your user data directory (override with --database-url on each command;
    `pgflow db server status|stop|start` manages the embedded one).
    """
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    _OPTIONS["verbose"] = verbose


database_option = click.option(
    "--database-url", "-d", envvar="PGFLOW_DATABASE_URL", default=None, metavar="URL",
    help="PostgreSQL URL (default: $PGFLOW_DATABASE_URL, $DATABASE_URL, else the embedded server).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def dsn_for(database_url: str | None) -> str:
    from pgflow.db.dsn import resolve_dsn

    from pgflow.db.dsn import configured_dsn

    embedded = not database_url and not configured_dsn()
    return resolve_dsn(database_url, announce=embedded and (_OPTIONS["verbose"] or _first_in_terminal_session()))


def _first_in_terminal_session() -> bool:
    """True once per terminal session (the shell's session id), so that the embedded server's
    location is said once, not on every command; never when stderr is not a terminal."""
    if not sys.stderr.isatty() or not hasattr(os, "getsid"):
        return False
    import platformdirs

    marker = Path(platformdirs.user_cache_dir("pgflow-py")) / "sessions" / str(os.getsid(0))
    if marker.exists():
        return False
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # cannot remember: say it every time rather than never
    return True


@contextmanager
def connect(database_url: str | None) -> Iterator[psycopg.Connection]:
    from pgflow.db.dsn import connect_options

    dsn = dsn_for(database_url)
    with psycopg.connect(dsn, **connect_options(dsn)) as conn:
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
    if isinstance(value, timedelta):  # e.g. Run.idempotency_ttl
        return value.total_seconds()
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


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str, option: str, default_unit: str) -> timedelta:
    """``90``, ``90s``, ``15m``, ``12h``, ``7d``, ``2w`` (a bare number is in ``default_unit``)."""
    match = DURATION.match(text)
    if not match:
        fail(f"{option} {text!r} is not a duration; write a number with a unit: 90s, 15m, 12h, 7d or 2w")
    unit = _UNITS[match[2] or default_unit]
    try:
        return timedelta(**{unit: float(match[1])})
    except OverflowError:
        fail(f"{option} {text!r} is out of range; the longest duration is 999999999d")


def parse_json_option(text: str | None, what: str = "--input") -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {text!r}")
    except RecursionError:
        fail(f"{what} is nested too deeply to read; flatten it (store deep structures as a string)")


Command = Callable[..., Any]
