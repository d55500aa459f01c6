"""Where the database is: an explicit URL, the environment, or the embedded server."""

from __future__ import annotations

import os
import sys

from pgflow.errors import ConfigurationError, first_line

ENV_VARS = ("PGFLOW_DATABASE_URL", "DATABASE_URL")


def configured_dsn() -> str | None:
    """The URL from the environment (``PGFLOW_DATABASE_URL`` first, then ``DATABASE_URL``)."""
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def dsn_source(dsn: str | None = None) -> str:
    """Where the database URL comes from, for messages: the variable that holds it (the one the
    user actually set), else the URL passed to the call or command."""
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value and (dsn is None or value == dsn):
            return var
    return "the database URL you passed"


def check_dsn(dsn: str) -> str:
    """``dsn`` if libpq can parse it; ConfigurationError naming its source when it cannot."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        conninfo_to_dict(dsn)
    except ProgrammingError as exc:
        reason = first_line(exc) if str(exc).strip() else "unreadable"
        raise ConfigurationError(
            f"{dsn_source(dsn)} is not a valid PostgreSQL URL ({reason}); write it as "
            f"postgresql://user:password@host:5432/dbname") from None
    return dsn


def resolve_dsn(dsn: str | None = None, *, announce: bool = False) -> str:
    """The URL to use: ``dsn`` if given, else the environment, else the embedded server.

    With ``announce`` the embedded server's location is printed to stderr, so a person
    running a command knows where their data lives (the CLI does so once per terminal session,
    and on every command with ``pgflow -v``).
    """
    if dsn:
        return check_dsn(dsn)
    found = configured_dsn()
    if found:
        return check_dsn(found)
    from pgflow.db import embedded

    url = embedded.start()
    if announce:
        print(f"pgflow: using the embedded PostgreSQL in {embedded.data_dir()} ({url})", file=sys.stderr)
    return url
