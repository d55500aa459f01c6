"""Database access: named SQL queries, query descriptions and their two executors."""

from pgflow.db.executor import Operation, Query, run_async, run_sync
from pgflow.db.queries import query

__all__ = ["Operation", "Query", "query", "run_async", "run_sync"]
