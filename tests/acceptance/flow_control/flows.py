"""Flows served by ``pgflow worker`` processes in the flow-control tests. Each handler counts
itself in the probe table while it runs (``running``, and the highest value seen, ``peak``), in
the database: the workers are separate processes."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import psycopg

import pgflow

PROBE_TABLE = """
CREATE TABLE IF NOT EXISTS probe (
    flow text PRIMARY KEY, running int NOT NULL DEFAULT 0, peak int NOT NULL DEFAULT 0,
    started int NOT NULL DEFAULT 0, finished int NOT NULL DEFAULT 0)
"""

_local = threading.local()


def _conn() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(os.environ["PGFLOW_DATABASE_URL"], autocommit=True)
    return conn


def probe(flow: str, seconds: float) -> None:
    """Count this handler as running in ``flow`` for ``seconds``."""
    conn = _conn()
    conn.execute("UPDATE probe SET running = running + 1, peak = greatest(peak, running + 1), "
                 "started = started + 1 WHERE flow = %s", (flow,))
    try:
        time.sleep(seconds)
    finally:
        conn.execute("UPDATE probe SET running = running - 1, finished = finished + 1 WHERE flow = %s", (flow,))


# at most 3 tasks at once across every worker; the item is how long a task takes
limited = pgflow.Flow("limited", max_running=3, max_attempts=3, timeout=3)


@limited.map
def work(item: float) -> None:
    probe("limited", item)


# no limit: paused and resumed; 50 ms a job, so that at concurrency 2 the 300 jobs take ~7 s and
# many are still queued when the pause comes (instant jobs could all run while they are enqueued)
pausable = pgflow.Job("pausable", max_attempts=1)


@pausable.perform
def tick(input: dict[str, Any]) -> None:
    probe("pausable", 0.05)


# at most 20 starts a second across every worker
rated = pgflow.Job("rated", rate_limit=(20, 1.0), max_attempts=1)


@rated.perform
def call_api(input: dict[str, Any]) -> None:
    return None


# at most 1 task running per customer across every worker; the probe row is "keyed:<customer>"
keyed = pgflow.Job("keyed", concurrency_key="customer", max_running_per_key=1, max_attempts=3, timeout=5)


@keyed.perform
def import_one(input: dict[str, Any]) -> None:
    probe(f"keyed:{input.get('customer') or ''}", input.get("seconds", 0.01))


# fairness between keys: tenant a's long backlog, tenant b's few queued after it
fair = pgflow.Job("fair", concurrency_key="tenant", max_running_per_key=2, max_attempts=1, timeout=5)


@fair.perform
def fair_task(input: dict[str, Any]) -> None:
    time.sleep(0.02)


# fairness between flows: one worker serves both; "bulk" has a long backlog, "small" a few queued after
bulk = pgflow.Job("bulk", max_attempts=1)
small = pgflow.Job("small", max_attempts=1)


@bulk.perform
def bulk_task(input: dict[str, Any]) -> None:
    time.sleep(0.01)


@small.perform
def small_task(input: dict[str, Any]) -> None:
    time.sleep(0.01)


# a killed worker's key slot: one task per customer, short timeout (requeued after 3 s + 30 s)
keyed_victim = pgflow.Job("keyed_victim", concurrency_key="customer", max_running_per_key=1, max_attempts=3,
                          timeout=3)


@keyed_victim.perform
def slow_import(input: dict[str, Any]) -> None:
    probe(f"victim:{input['customer']}", input["seconds"])


# at most 5 starts a second per tenant across every worker (GCRA per key)
key_rated = pgflow.Job("key_rated", concurrency_key="tenant", rate_limit_per_key=(5, 1.0), max_attempts=1)


@key_rated.perform
def call_tenant_api(input: dict[str, Any]) -> None:
    return None
