"""The data layer: named SQL queries, operations and the two drivers that run them, the pools.

Import the data layer's names from here (``from pgflow.db import Query, drive_sync``).
"""

from pgflow.db.driver import ClientOperation, Snapshot, WaitForEvent, drive_async, drive_sync, listen, unlisten
from pgflow.db.errors import first_line, translate_error
from pgflow.db.executor import Operation, Query, run_async, run_sync
from pgflow.db.queries import query

__all__ = [
    "ClientOperation",
    "Operation",
    "Query",
    "Snapshot",
    "WaitForEvent",
    "drive_async",
    "drive_sync",
    "first_line",
    "listen",
    "query",
    "run_async",
    "run_sync",
    "translate_error",
    "unlisten",
]
