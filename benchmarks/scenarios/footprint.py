"""Scenario 5, footprint: worker memory, rows and bytes a completed run leaves behind, and
throughput as completed history grows (and after ``prune``).

- RSS: one worker process per system, idle for 2 s after start, then its peak while it drains
  ``jobs`` no-op jobs (sampled every 50 ms from /proc).
- Rows and bytes per run: ``footprint_runs`` runs of a job and of the 3-step chain, completed by
  one worker; rows counted exactly, bytes as the growth of every pgflow and pgmq table with its
  indexes and TOAST after ``VACUUM``.
- History: completed job runs are bulk-inserted 30 days in the past (with their step states,
  tasks and archived messages, as a worker leaves them; time-ordered run ids) up to each size
  of ``history``. At each size, two worker processes drain ``history_jobs`` jobs from an empty
  database and from the one with history in turn, the order swapped every repetition (A B, B A,
  ...), so that a machine slowing down during the run cannot pass for a size effect; "vs. empty" is the ratio of the medians of
  those pairs. Then ``client.prune`` with a 7-day retention removes the history and the pairs
  are measured once more. ``python -m benchmarks.history --runs 10000000`` does the same at
  any size, and reports what pruning costs (time, WAL, dead rows).
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import psycopg
from psycopg import sql

import pgflow
from benchmarks import drain, history as hist
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.report import Table, cell, ratio
from benchmarks.scenarios.jobs import SYSTEMS, available_systems, drain_jobs
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

HISTORY_PROCESSES = hist.PROCESSES


def run(bench: Bench) -> None:
    s = bench.settings
    for name, module in available_systems().items():
        if name == "pgmq floor":
            continue
        try:
            idle, peak = worker_rss(bench, module, s.jobs // (5 if name == "Procrastinate" else 1), s.drain_timeout)
        except Exception as exc:
            bench.failed(f"footprint rss {name}", exc)
            continue
        bench.results.add(f"footprint/rss/{name}/idle", "MB", idle)
        bench.results.add(f"footprint/rss/{name}/load", "MB", peak)
        bench.log(f"footprint rss {name}: idle {idle:.1f} MB, under load {peak:.1f} MB")
    for slug in ("bench_job", "bench_chain"):
        try:
            rows, size = per_run(bench, slug, s.footprint_runs, s.drain_timeout)
        except Exception as exc:
            bench.failed(f"footprint per run {slug}", exc)
            continue
        bench.results.add(f"footprint/rows/{slug}", "rows", rows)
        bench.results.add(f"footprint/bytes/{slug}", "bytes", size)
        bench.log(f"footprint {slug}: {rows:.1f} rows, {size:,.0f} bytes per run")
    history(bench)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def worker_rss(bench: Bench, module: ModuleType, jobs: int, timeout: float) -> tuple[float, float]:
    dsn = bench.database("bench_rss")
    module.setup(dsn)
    procs = drain.start_workers(module.__name__, dsn, 1)
    try:
        drain.go(procs)
        time.sleep(2.0)  # start-up done, nothing to do: idle
        idle = rss_mb(procs[0].pid)
        module.enqueue(dsn, jobs)
        peak = idle
        deadline = time.monotonic() + timeout
        with psycopg.connect(dsn, autocommit=True) as conn:
            while conn.execute(module.REMAINING_SQL).fetchone()[0] and time.monotonic() < deadline:
                peak = max(peak, rss_mb(procs[0].pid))
                time.sleep(0.05)
        return idle, max(peak, rss_mb(procs[0].pid))
    finally:
        drain.stop(procs)


def table_state(dsn: str) -> tuple[int, int]:
    """Rows and bytes of every pgflow and pgmq table."""
    rows = size = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema, table, nbytes in conn.execute(q("footprint_tables")).fetchall():
            size += nbytes
            rows += conn.execute(sql.SQL(q("count_rows")).format(table=sql.Identifier(schema, table))).fetchone()[0]
    return rows, size


def per_run(bench: Bench, slug: str, runs: int, timeout: float) -> tuple[float, float]:
    dsn = bench.database("bench_footprint")
    pgflow_sys.setup(dsn)
    vacuum_analyze(dsn)
    rows0, bytes0 = table_state(dsn)
    pgflow_sys.enqueue(dsn, runs, slug)
    drain.timed_drain(pgflow_sys.__name__, dsn, 1, pgflow_sys.REMAINING_SQL, extra=["--flows", slug], timeout=timeout)
    vacuum_analyze(dsn)
    rows1, bytes1 = table_state(dsn)
    return (rows1 - rows0) / runs, (bytes1 - bytes0) / runs


def history(bench: Bench) -> None:
    s = bench.settings
    empty, full = bench.database("bench_history_empty"), bench.database("bench_history")
    for dsn in (empty, full):
        pgflow_sys.setup(dsn)
    have = 0
    for size in (size for size in s.history if size > 0):
        start = time.perf_counter()
        hist.add_history(full, have, size)
        have = size
        bench.log(f"history: {size:,} completed runs in place ({time.perf_counter() - start:.0f} s)")
        measure_history(bench, empty, full, str(size))
    start = time.perf_counter()
    with pgflow.Client(full) as client:
        client.prune(timedelta(days=7))
    bench.results.add("footprint/prune_seconds", "s", time.perf_counter() - start)
    vacuum_analyze(full)
    bench.log(f"history: pruned {have:,} runs in {time.perf_counter() - start:.0f} s")
    measure_history(bench, empty, full, "pruned")


def measure_history(bench: Bench, empty: str, full: str, label: str) -> None:
    """Alternated drains: the empty database's under ``footprint/history/0`` (every size's) and
    ``.../<label>/empty`` (this size's pairs), the other's under ``footprint/history/<label>``."""
    s = bench.settings
    for rep in range(s.reps):
        try:
            pair = hist.alternate(empty, full, 1, s.history_jobs, s.drain_timeout, start=rep)
        except Exception as exc:
            bench.failed(f"footprint/history/{label} rep {rep + 1}", exc)
            continue
        bench.results.add("footprint/history/0", "jobs/s", pair.empty[0])
        bench.results.add(f"footprint/history/{label}/empty", "jobs/s", pair.empty[0])
        bench.results.add(f"footprint/history/{label}", "jobs/s", pair.history[0])
        bench.log(f"history {label} rep {rep + 1}: empty {pair.empty[0]:,.0f}, "
                  f"with history {pair.history[0]:,.0f} jobs/s")


def render(results: Results, history_sizes: tuple[int, ...]) -> list[Table]:
    rss = [[name, cell(results.get(f"footprint/rss/{name}/idle")), cell(results.get(f"footprint/rss/{name}/load"))]
           for name in SYSTEMS if name != "pgmq floor"]
    per = [[label, cell(results.get(f"footprint/rows/{slug}")), cell(results.get(f"footprint/bytes/{slug}"))]
           for slug, label in (("bench_job", "job (1 step)"), ("bench_chain", "3-step chain"))]
    def paired(label: str) -> str:  # against the empty drains alternated with these (older runs: all)
        base = results.get(f"footprint/history/{label}/empty") or results.get("footprint/history/0")
        return ratio(results.median(f"footprint/history/{label}"), base.median if base else float("nan"))

    rows = [["0 completed runs (every empty drain)", cell(results.get("footprint/history/0")), "1.00×"]]
    rows += [[f"{size:,} completed runs", cell(results.get(f"footprint/history/{size}")), paired(str(size))]
             for size in history_sizes if size > 0]
    rows.append(["after prune (7-day retention)", cell(results.get("footprint/history/pruned")), paired("pruned")])
    return [
        Table(["worker", "RSS idle", "RSS peak under load"], rss, "Worker process memory (one process)"),
        Table(["run of", "rows per run", "bytes per run"], per,
              "What a completed run leaves in PostgreSQL (pgflow and pgmq tables, indexes included)"),
        Table(["history", f"jobs/s ({HISTORY_PROCESSES} processes)", "vs. empty (alternated)"], rows,
              "Job throughput as completed history grows" + _prune_note(results)),
    ]


def _prune_note(results: Results) -> str:
    sample = results.get("footprint/prune_seconds")
    return f" (prune itself took {sample.fmt()})" if sample is not None else ""
