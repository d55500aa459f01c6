"""Scenario 2, flows: a 3-step chain and a diamond (runs/s, tasks/s), and one map step of 10,000
items (seconds from ``start_flow`` to the run completed), with pgflow-py's worker processes.

Chains and diamonds: runs started beforehand, then drained like the jobs (worker defaults:
batch_size 10, max_concurrency 10, async no-op handlers). The map: workers running, one
``start_flow`` with a 10,000-element array, the clock stops when the run is completed; measured
with the worker defaults and with a larger batch (batch_size = max_concurrency = 50). Before it,
as before each drain, the database is vacuumed and analyzed: statistics taken while nothing is
queued, as autovacuum leaves them between bursts (they once made every claim of a large map
scan all its queued tasks), and no dead rows of the previous drains for autovacuum to start on
during the measurement.
"""

from __future__ import annotations

import time

import psycopg

from benchmarks import drain
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.flows import TASKS_PER_RUN
from benchmarks.report import Table, cell
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

MODULE = pgflow_sys.__name__
DEFAULT_BATCH = 10  # pgflow.Worker's batch_size and max_concurrency
SHAPES = {"bench_chain": "3-step chain (a → b → c)", "bench_diamond": "diamond (a → b, c → d)"}


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_flows")
    pgflow_sys.setup(dsn)
    for rep in range(s.reps):
        for processes in s.processes:
            for slug, runs in (("bench_chain", s.chain_runs), ("bench_diamond", s.diamond_runs)):
                try:
                    rate = drain_runs(dsn, slug, runs, processes, s.drain_timeout)
                except Exception as exc:
                    bench.failed(f"flows {slug} x{processes} rep {rep + 1}", exc)
                    continue
                bench.results.add(f"flows/{slug}/{processes}/runs", "runs/s", rate)
                bench.results.add(f"flows/{slug}/{processes}/tasks", "tasks/s", rate * TASKS_PER_RUN[slug])
                bench.log(f"flows {slug} x{processes} rep {rep + 1}: {rate:,.0f} runs/s")
            for batch in s.map_batches:
                try:
                    seconds = map_run(dsn, s.map_items, processes, s.drain_timeout, batch)
                except Exception as exc:
                    bench.failed(f"flows map batch {batch} x{processes} rep {rep + 1}", exc)
                    continue
                bench.results.add(map_key(processes, batch), "s", seconds)
                bench.log(f"flows map of {s.map_items} batch {batch} x{processes} rep {rep + 1}: {seconds:.2f} s")


def map_key(processes: int, batch: int) -> str:
    return f"flows/map/{processes}" if batch == DEFAULT_BATCH else f"flows/map/{processes}/batch{batch}"


def drain_runs(dsn: str, slug: str, runs: int, processes: int, timeout: float) -> float:
    pgflow_sys.enqueue(dsn, runs, slug)
    vacuum_analyze(dsn)
    seconds = drain.timed_drain(MODULE, dsn, processes, pgflow_sys.REMAINING_SQL,
                                extra=["--flows", slug], timeout=timeout)
    return runs / seconds


def map_run(dsn: str, items: int, processes: int, timeout: float, batch: int = 10, module: str = MODULE) -> float:
    """Seconds from the start of ``start_flow`` (10,000 items) to the run completed, workers running
    with ``batch_size`` and ``max_concurrency`` = ``batch`` (``module``: another driver's workers).
    The tables are vacuumed and analyzed first, as before the drains (see the module docstring)."""
    vacuum_analyze(dsn)
    procs = drain.start_workers(module, dsn, processes,
                                ["--flows", "bench_map", "--batch", str(batch), "--concurrency", str(batch)])
    try:
        drain.go(procs)
        with psycopg.connect(dsn, autocommit=True) as conn:
            start = time.perf_counter()
            conn.execute(q("pgflow_start_runs"), {"n": 1, "flow_slug": "bench_map", "input": list_json(items)})
            started = time.perf_counter() - start
        return started + drain.wait_until_drained(dsn, pgflow_sys.REMAINING_SQL, timeout)
    finally:
        drain.stop(procs)


def list_json(items: int) -> str:
    return "[" + ",".join(str(i) for i in range(items)) + "]"


def render(results: Results, processes: tuple[int, ...]) -> list[Table]:
    head = ["flow"] + [f"{p} process{'es' if p > 1 else ''}" for p in processes]
    rows = []
    for slug, label in SHAPES.items():
        rows.append([f"{label}: runs/s"] + [cell(results.get(f"flows/{slug}/{p}/runs")) for p in processes])
        rows.append([f"{label}: tasks/s"] + [cell(results.get(f"flows/{slug}/{p}/tasks")) for p in processes])
    rows.append(["jobs (1 task per run): tasks/s"] + [cell(results.get(f"jobs/pgflow-py/{p}")) for p in processes])
    settings = results.meta.get("settings", {})
    items = settings.get("map_items", 10_000)
    for batch in settings.get("map_batches", [DEFAULT_BATCH]):
        label = "worker defaults" if batch == DEFAULT_BATCH else f"batch_size = max_concurrency = {batch}"
        rows.append([f"map of {items:,} items, {label}: seconds to complete"]
                    + [cell(results.get(map_key(p, batch))) for p in processes])
    return [Table(head, rows, "pgflow-py flows (median, min–max over repetitions)")]
