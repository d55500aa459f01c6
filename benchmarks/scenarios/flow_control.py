"""Scenario 7, flow control: what a limit costs, and how long a small tenant waits.

*Limits*: the jobs drain of scenario 1 (pgflow-py, N no-op jobs, P worker processes) on two
databases side by side, repetitions interleaved: ``bench_job`` without flow control, and with
``max_running`` set far above what the workers can run (a limit never reached: each claim takes
the flow's lock and counts its running tasks). *Fairness*: tenant A's backlog (2.5 × N jobs) is
queued, then tenant B's (N / 80 jobs), and one worker process drains both; B's wait (claimed at
minus queued at, per task) is reported as p50 / p95 for three set-ups: one shared flow (first
in, first out: B waits behind all of A), one shared flow with B's runs at priority 1, and a flow
per tenant served by the same worker (it reads its queues in turn).
"""

from __future__ import annotations

import json

import psycopg

from benchmarks import drain
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.report import Table, cell, ratio
from benchmarks.scenarios.jobs import drain_jobs
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

LIMITS = {"none": "no flow control", "unreached": "max_running never reached"}
FAIRNESS = {"fifo": "one flow, first in first out", "priority": "one flow, B at priority 1",
            "flows": "a flow per tenant, one worker"}
PERCENTILES = (50, 95)
NEVER_REACHED = 1_000_000


def limit_key(variant: str, processes: int) -> str:
    return f"flow_control/limit/{variant}/{processes}"


def fairness_key(variant: str, percentile: int) -> str:
    return f"flow_control/fairness/{variant}/p{percentile}"


def sizes(jobs: int) -> tuple[int, int]:
    """Tenant A's and tenant B's jobs: 20,000 and 100 at the full size (8,000 jobs per drain)."""
    return jobs * 5 // 2, max(5, jobs // 80)


def run(bench: Bench) -> None:
    s = bench.settings
    dsns = {}
    for variant in LIMITS:
        dsns[variant] = bench.database(f"bench_fc_{variant}")
        pgflow_sys.setup(dsns[variant])
    with psycopg.connect(dsns["unreached"], autocommit=True) as conn:
        conn.execute(q("flow_control_set_limit"), {"flow_slug": "bench_job", "max_running": NEVER_REACHED})
    for rep in range(s.reps):
        for processes in s.processes:
            for variant in LIMITS:
                try:
                    rate = drain_jobs(pgflow_sys, dsns[variant], s.jobs, processes, s.drain_timeout)
                except Exception as exc:
                    bench.failed(f"flow control {variant} x{processes} rep {rep + 1}", exc)
                    continue
                bench.results.add(limit_key(variant, processes), "jobs/s", rate)
                bench.log(f"flow control {variant} x{processes} rep {rep + 1}: {rate:,.0f} jobs/s")
    with psycopg.connect(dsns["unreached"], autocommit=True) as conn:
        in_force = conn.execute(q("flow_control_limit_of"), {"flow_slug": "bench_job"}).fetchone()
    if in_force is None or in_force[0] != NEVER_REACHED:  # the workers' compile must not have reset it
        bench.failed("flow control limit", RuntimeError(f"max_running was not in force after the drains: {in_force}"))
    fairness_dsn = bench.database("bench_fc_fairness")
    pgflow_sys.setup(fairness_dsn)
    a_jobs, b_jobs = sizes(s.jobs)
    for rep in range(s.reps):
        for variant in FAIRNESS:
            try:
                waits = tenant_b_waits(fairness_dsn, variant, a_jobs, b_jobs, s.drain_timeout)
            except Exception as exc:
                bench.failed(f"fairness {variant} rep {rep + 1}", exc)
                continue
            for p in PERCENTILES:
                bench.results.add(fairness_key(variant, p), "s", waits[p])
            bench.log(f"fairness {variant} rep {rep + 1}: B waits p50 {waits[50]:.3f} s, p95 {waits[95]:.3f} s")


def tenant_b_waits(dsn: str, variant: str, a_jobs: int, b_jobs: int, timeout: float) -> dict[int, float]:
    """Queue A's backlog then B's, drain both with one worker process; B's wait percentiles."""
    b_flow = "bench_tenant_b" if variant == "flows" else "bench_job"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q("flow_control_clear_runs"))
    pgflow_sys.enqueue(dsn, a_jobs, "bench_job", json.dumps({"tenant": "A"}))
    pgflow_sys.enqueue(dsn, b_jobs, b_flow, json.dumps({"tenant": "B"}))
    with psycopg.connect(dsn, autocommit=True) as conn:
        if variant == "priority":
            conn.execute(q("flow_control_prioritize_tenant"), {"tenant": "B", "priority": 1})
    vacuum_analyze(dsn)
    drain.timed_drain(pgflow_sys.__name__, dsn, 1, pgflow_sys.REMAINING_SQL,
                      extra=["--flows", "bench_job,bench_tenant_b"], timeout=timeout)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(q("flow_control_tenant_waits"), {"tenant": "B"}).fetchone()
    return {50: float(row[0]), 95: float(row[1])}


def render(results: Results, processes: tuple[int, ...]) -> list[Table]:
    head = ["set-up"] + [f"{p} process{'es' if p > 1 else ''}" for p in processes]
    rows = [[label] + [cell(results.get(limit_key(variant, p))) for p in processes] for variant, label in LIMITS.items()]
    rows.append(["limit never reached / none"] + [
        ratio(results.median(limit_key("unreached", p)), results.median(limit_key("none", p))) for p in processes])
    fair = [[label] + [cell(results.get(fairness_key(variant, p))) for p in PERCENTILES]
            for variant, label in FAIRNESS.items()]
    return [Table(head, rows, "Jobs drained per second with and without a limit (median, min–max)"),
            Table(["set-up", "B's wait p50 (s)", "B's wait p95 (s)"], fair,
                  "Fairness: tenant B's jobs queued after tenant A's backlog, one worker process")]
