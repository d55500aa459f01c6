"""Scenario 9, fairness between keys: how long a small tenant waits behind a big one's backlog.

Tenant A's jobs (2.5 × N: 20,000 at the full size) are queued in ``bench_job``, then tenant B's
(N / 80: 100), and two worker processes (concurrency 10 each) drain both. B's wait (claimed at
minus queued at, per task) is reported as p50 / p95, with the time the whole drain took, for two
set-ups alternated per repetition: *without fairness*, the flow has no concurrency key and its
queue is claimed first in, first out (B waits behind all of A); *with fairness*, the flow's runs
are keyed by ``tenant`` with a ``max_running_per_key``, so each claim
reads the tenants' queued tasks in turn (pgflow._read_by_key) and B starts with the first
claims. The limit is set far above what the workers run, so only the fair read is measured (a
limit that binds also caps A's throughput: slots are freed when a completion is committed, so
a limited flow of no-op jobs runs at about limit / claim-to-completion time). Waits count from
the enqueue, so both include the workers' start (about a second here).
"""

from __future__ import annotations

import json

import psycopg
from psycopg.types.json import Jsonb

from benchmarks import drain
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.report import Table, cell
from benchmarks.scenarios.flow_control import sizes
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

VARIANTS = {"fifo": "without fairness (no concurrency key)", "keys": "with fairness (key: tenant)"}
PERCENTILES = (50, 95)
PROCESSES = 2
CONCURRENCY = 10  # the worker's default
PER_KEY = 1000  # never reached: the fair read alone (a limit that binds also caps throughput)
KEYED = {"concurrency_key": "tenant", "max_running_per_key": PER_KEY}
UNKEYED = {"concurrency_key": None, "max_running_per_key": None}


def key(variant: str, measure: str) -> str:
    return f"fairness/{variant}/{measure}"


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_fairness")
    pgflow_sys.setup(dsn)
    a_jobs, b_jobs = sizes(s.jobs)
    for rep in range(s.reps):
        for variant in VARIANTS:
            try:
                measured = tenant_b_waits(dsn, variant, a_jobs, b_jobs, s.drain_timeout)
            except Exception as exc:
                bench.failed(f"fairness {variant} rep {rep + 1}", exc)
                continue
            for measure, value in measured.items():
                bench.results.add(key(variant, measure), "s", value)
            bench.log(f"fairness {variant} rep {rep + 1}: B waits p50 {measured['p50']:.3f} s, "
                      f"p95 {measured['p95']:.3f} s; all drained in {measured['drain']:.1f} s")


def tenant_b_waits(dsn: str, variant: str, a_jobs: int, b_jobs: int, timeout: float) -> dict[str, float]:
    """Queue A's backlog then B's, drain both with the workers; B's wait percentiles and the drain time."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q("flow_control_clear_runs"))
        # the key is taken when a run starts: set (or clear) it before the runs are queued
        conn.execute("SELECT pgflow.set_flow_limits('bench_job', %s)",
                     (Jsonb(KEYED if variant == "keys" else UNKEYED),))
    pgflow_sys.enqueue(dsn, a_jobs, "bench_job", json.dumps({"tenant": "A"}))
    pgflow_sys.enqueue(dsn, b_jobs, "bench_job", json.dumps({"tenant": "B"}))
    vacuum_analyze(dsn)
    seconds = drain.timed_drain(pgflow_sys.__name__, dsn, PROCESSES, pgflow_sys.REMAINING_SQL,
                                extra=["--flows", "bench_job", "--concurrency", str(CONCURRENCY)], timeout=timeout)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(q("flow_control_tenant_waits"), {"tenant": "B"}).fetchone()
        conn.execute("SELECT pgflow.set_flow_limits('bench_job', %s)", (Jsonb(UNKEYED),))
    return {"p50": float(row[0]), "p95": float(row[1]), "drain": seconds}


def render(results: Results) -> list[Table]:
    rows = [[label] + [cell(results.get(key(variant, m))) for m in ("p50", "p95", "drain")]
            for variant, label in VARIANTS.items()]
    return [Table(["set-up", "B's wait p50 (s)", "B's wait p95 (s)", "all drained (s)"], rows,
                  f"Tenant B's jobs queued after tenant A's backlog, {PROCESSES} worker processes "
                  f"(max_running_per_key {PER_KEY} with fairness)")]
