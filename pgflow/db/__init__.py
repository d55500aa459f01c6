"""The data layer: named SQL queries, operations, the plan and the two drivers that run them,
error translation, the ``db.query`` span and the connection pools.

Import the data layer's names from here (``from pgflow.db import Query, drive_sync``).
"""

from pgflow.db.driver import drive_async, drive_sync, run_async, run_sync
from pgflow.db.errors import translate_error
from pgflow.errors import first_line
from pgflow.db.operation import ClientOperation, Operation, Query, Snapshot, WaitForEvent, listen, unlisten
from pgflow.db.pools import (
    MAX_BACKOFF,
    Database,
    Stopped,
    connect_args,
    connect_args_sync,
    is_transient,
    libpq_conninfo,
    new_pool,
)
from pgflow.db.queries import query

__all__ = [
    "MAX_BACKOFF",
    "ClientOperation",
    "Database",
    "Operation",
    "Query",
    "Snapshot",
    "Stopped",
    "WaitForEvent",
    "drive_async",
    "drive_sync",
    "connect_args",
    "connect_args_sync",
    "first_line",
    "is_transient",
    "libpq_conninfo",
    "listen",
    "new_pool",
    "query",
    "run_async",
    "run_sync",
    "translate_error",
    "unlisten",
]
