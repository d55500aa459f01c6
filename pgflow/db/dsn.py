"""Where the database is: an explicit URL, the environment, or the embedded server; and whether
connections to it go through a transaction-mode pooler (PgBouncer, Supabase's pooler).

Behind such a pooler each transaction may run on another server connection, so nothing may rely
on session state: pgflow turns psycopg's server-side prepared statements off
(:func:`connect_options`), keeps its advisory locks transaction-scoped, and LISTENs only on a
direct connection (``PGFLOW_DIRECT_URL``, :func:`listen_conninfo`); without one the worker polls.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pgflow.errors import ConfigurationError, first_line

ENV_VARS = ("PGFLOW_DATABASE_URL", "DATABASE_URL")
DIRECT_URL_VAR = "PGFLOW_DIRECT_URL"
POOLER_VAR = "PGFLOW_POOLER"
# PgBouncer's default port and Supabase's transaction pooler's: taken as a pooler unless PGFLOW_POOLER=off
POOLER_PORTS = frozenset({"6432", "6543"})
_ON = ("transaction", "on", "true", "1", "yes")
_OFF = ("off", "none", "false", "0", "no")


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


def through_pooler(conninfo: str) -> bool:
    """Whether connections to ``conninfo`` go through a transaction-mode pooler.

    The URL of ``PGFLOW_DIRECT_URL`` (same host, port and database) never is.
    ``PGFLOW_POOLER=transaction`` (or ``on``) says so and ``PGFLOW_POOLER=off`` says not;
    otherwise a URL is taken as pooled when ``PGFLOW_DIRECT_URL`` is set (a direct URL only means
    something beside a pooled one) or when its port is PgBouncer's 6432 or Supabase's 6543.
    """
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    setting = os.environ.get(POOLER_VAR, "").strip().lower()
    direct = os.environ.get(DIRECT_URL_VAR)
    if direct and _same_target(conninfo, direct):  # the direct URL itself
        return False
    if setting in _ON:
        return True
    if setting in _OFF:
        return False
    if setting:
        raise ConfigurationError(f"{POOLER_VAR}={setting!r} is not understood: set it to 'transaction' when "
                                 "the database URL goes through a transaction-mode pooler, or 'off' when not")
    if direct:
        return True
    try:
        port = conninfo_to_dict(conninfo).get("port") or os.environ.get("PGPORT")
    except ProgrammingError:
        return False
    return str(port) in POOLER_PORTS


def connect_options(conninfo: str) -> dict[str, Any]:
    """psycopg connection options for ``conninfo``: server-side prepared statements off behind a
    pooler (a statement prepared on one server connection is unknown on the next)."""
    return {"prepare_threshold": None} if through_pooler(conninfo) else {}


def listen_conninfo(conninfo: str) -> str | None:
    """Where to LISTEN for ``conninfo``'s notifications: ``conninfo`` itself unless it goes through
    a pooler; then ``PGFLOW_DIRECT_URL`` (a direct connection), or None when there is none."""
    if not through_pooler(conninfo):
        return conninfo
    direct = os.environ.get(DIRECT_URL_VAR)
    return check_dsn(direct) if direct else None


def _same_target(a: str, b: str) -> bool:
    """Whether two URLs reach the same host, port and database (unreadable ones never do)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    try:
        first, second = conninfo_to_dict(a), conninfo_to_dict(b)
    except ProgrammingError:
        return False
    keys = ("host", "hostaddr", "port", "dbname")
    return all(str(first.get(k) or "") == str(second.get(k) or "") for k in keys)
