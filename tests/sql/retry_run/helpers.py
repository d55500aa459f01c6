"""Calls of pgflow.retry_run for its behaviour tests."""

from __future__ import annotations

import uuid

import psycopg

from tests.sql.helpers import scalar


def retry_run(conn: psycopg.Connection, run_id: uuid.UUID) -> uuid.UUID:
    """Retry a run; the new run's id."""
    return scalar(conn, "SELECT run_id FROM pgflow.retry_run(%s)", (run_id,))
