"""Where the database is: an explicit URL, the environment, or the embedded server."""

from __future__ import annotations

import os
import sys

ENV_VARS = ("PGFLOW_DATABASE_URL", "DATABASE_URL")


def configured_dsn() -> str | None:
    """The URL from the environment (``PGFLOW_DATABASE_URL`` first, then ``DATABASE_URL``)."""
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            return value
    return None


def resolve_dsn(dsn: str | None = None, *, announce: bool = False) -> str:
    """The URL to use: ``dsn`` if given, else the environment, else the embedded server.

    With ``announce`` the embedded server's location is printed to stderr, so a person
    running a command knows where their data lives.
    """
    if dsn:
        return dsn
    found = configured_dsn()
    if found:
        return found
    from pgflow.db import embedded

    url = embedded.start()
    if announce:
        print(f"pgflow: using the embedded PostgreSQL in {embedded.data_dir()} ({url})", file=sys.stderr)
    return url
