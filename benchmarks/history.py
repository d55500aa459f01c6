"""History that stays cheap: the drain rate of a database holding N completed runs next to an
empty one, and what pruning that history costs.

    python -m benchmarks.history --runs 10000000          # build 10M runs once, 5 A/B pairs, prune
    python -m benchmarks.history --runs 1000000 --reps 3 --no-prune

The history is built with set-based SQL (``history_chunk`` in ``benchmarks/queries.sql``), not
through the engine: completed one-step job runs with their step state, task and archived message,
30 days old, with time-ordered (version 7) run ids as the engine would have given them. Then the
two databases are drained alternately, ``--reps`` times each, the order swapped every time (A B,
B A, A B ...): a machine that slows down during the run slows both sides alike, so drift cannot
pass for a size effect, and neither side always runs right after the other; the ratio is of the
medians. Each drain enqueues ``--jobs`` jobs, runs ``VACUUM ANALYZE`` (as autovacuum would) and
times 2 worker processes draining them.

Pruning (7-day retention, so all of the history goes) reports its time, its longest transaction,
the WAL it wrote and the dead rows it left behind for VACUUM, table by table: in one call
(``client.prune``), or with ``--prune-batch N`` in calls of at most N runs each
(``prune_data_older_than(interval, NULL, N)``, a transaction per call). Scenario 5 (footprint) uses the same
builder and alternation at the sizes of ``Settings.history``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from psycopg import sql

import pgflow
from benchmarks.core import vacuum_analyze
from benchmarks.env import Server, start_server
from benchmarks.scenarios.jobs import drain_jobs
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

CHUNK = 250_000   # runs per statement: big enough that 10M takes minutes, small enough for memory
PROCESSES = 2


def add_history(dsn: str, have: int, want: int, log: Callable[[str], None] | None = None) -> None:
    """Grow a database's completed history from ``have`` to ``want`` runs of ``bench_job``."""
    job = pgflow_sys.flows.bench_job
    query = sql.SQL(q("history_chunk")).format(table=sql.Identifier("a_" + job.slug))
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        for first in range(have, want, CHUNK):
            n = min(CHUNK, want - first)
            conn.execute(query, {"flow_slug": job.slug, "step_slug": job.steps[0].slug, "first": first, "n": n})
            if log is not None and (first + n) % (10 * CHUNK) == 0:
                log(f"history: {first + n:,} runs ({time.perf_counter() - start:.0f} s)")
    vacuum_analyze(dsn)


@dataclass
class Pair:
    """Drain rates of the empty database (A) and of the one with history (B), alternated."""

    empty: list[float]
    history: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.history) / statistics.median(self.empty)


def alternate(empty_dsn: str, history_dsn: str, reps: int, jobs: int, timeout: float,
              log: Callable[[str], None] | None = None, start: int = 0) -> Pair:
    """Drain ``jobs`` jobs on each database in turn, ``reps`` times each, the order swapped every
    repetition (A B, B A, A B ...; ``start``: the number of repetitions made before, by a caller
    that calls once per repetition): neither side is always the one measured right after the other."""
    pair = Pair([], [])
    for rep in range(start, start + reps):
        sides = [("empty", empty_dsn, pair.empty), ("history", history_dsn, pair.history)]
        for label, dsn, rates in sides if rep % 2 == 0 else sides[::-1]:
            rates.append(drain_jobs(pgflow_sys, dsn, jobs, PROCESSES, timeout))
            if log is not None:
                log(f"rep {rep + 1} {label}: {rates[-1]:,.0f} jobs/s")
    return pair


def table_stats(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, tuple[int, int, int]]:
    """Live rows, dead rows and bytes of every pgflow and pgmq table (statistics flushed first)."""
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return {str(r[0]): (int(r[1]), int(r[2]), int(r[3]))  # type: ignore[call-overload]
            for r in conn.execute(q("prune_table_stats")).fetchall()}


def prune_cost(dsn: str, keep: timedelta = timedelta(days=7),
               batch: int | None = None) -> tuple[float, float, int, dict[str, int], dict[str, int]]:
    """Prune with ``keep`` retention: (seconds, longest transaction in seconds, WAL bytes, what was
    deleted, dead rows left per table with any). Unbounded: one ``client.prune`` call, one
    transaction. With ``batch``: ``prune_data_older_than(keep, NULL, batch)`` in a transaction per
    call until a call returns less than a full batch of runs and of archived messages."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = table_stats(conn)
        wal0 = int(conn.execute(q("wal_position")).fetchone()[0])  # type: ignore[index]
        start = time.perf_counter()
        if batch is None:
            with pgflow.Client(dsn) as client:
                deleted: dict[str, int] = dict(client.prune(keep))
        else:
            longest, full = 0.0, True
            deleted = {}
            while full:
                t = time.perf_counter()
                counts = conn.execute(q("prune_batch"), {"keep": keep, "batch": batch}).fetchone()[0]  # type: ignore[index]
                longest = max(longest, time.perf_counter() - t)
                deleted = {k: deleted.get(k, 0) + int(v) for k, v in counts.items()}
                full = counts["runs"] >= batch or counts["archived_messages"] >= batch
        seconds = time.perf_counter() - start
        longest = seconds if batch is None else longest
        wal = int(conn.execute(q("wal_position")).fetchone()[0]) - wal0  # type: ignore[index]
    with psycopg.connect(dsn, autocommit=True) as conn:
        after = _settled_stats(conn, before)
    dead = {name: after[name][1] - before.get(name, (0, 0, 0))[1] for name in after
            if after[name][1] > before.get(name, (0, 0, 0))[1]}
    return seconds, longest, wal, deleted, dead


def _settled_stats(conn: psycopg.Connection[tuple[object, ...]],
                   before: dict[str, tuple[int, int, int]]) -> dict[str, tuple[int, int, int]]:
    """The table statistics once the pruning session's counts have arrived (a backend flushes
    them as it exits, a moment after its client has gone)."""
    deadline = time.monotonic() + 15
    while True:
        now = table_stats(conn)
        if any(now[k][1] != before.get(k, (0, 0, 0))[1] for k in now) or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.history", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000, help="completed runs in history")
    parser.add_argument("--reps", type=int, default=5, help="drains of each database, alternated")
    parser.add_argument("--jobs", type=int, default=4_000, help="jobs per drain")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds a drain may take")
    parser.add_argument("--no-prune", action="store_true", help="skip pruning the history afterwards")
    parser.add_argument("--prune-batch", type=int, default=None,
                        help="prune in calls of at most this many runs (default: one call, one transaction)")
    parser.add_argument("--database-url", default=None, help="use this server (its role needs CREATEDB)")
    args = parser.parse_args(argv)

    t0 = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t0:7.1f}s] {message}", file=sys.stderr, flush=True)

    server = start_server(args.database_url)
    try:
        return _run(server, args, log)
    finally:
        for name in ("bench_history_empty", "bench_history"):
            server.drop_database(name)
        server.close()


def _run(server: Server, args: argparse.Namespace, log: Callable[[str], None]) -> int:
    empty, full = server.fresh_database("bench_history_empty"), server.fresh_database("bench_history")
    for dsn in (empty, full):
        pgflow_sys.setup(dsn)
    start = time.perf_counter()
    add_history(full, 0, args.runs, log)
    built = time.perf_counter() - start
    with psycopg.connect(full, autocommit=True) as conn:
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    print(f"built {args.runs:,} completed runs in {built:.0f} s (VACUUM ANALYZE included); "
          f"database {size / 2**30:.1f} GiB")
    pair = alternate(empty, full, args.reps, args.jobs, args.timeout, log)
    print(f"drain of {args.jobs:,} jobs, {PROCESSES} processes, medians of {args.reps} alternated pairs: "
          f"empty {statistics.median(pair.empty):,.0f} jobs/s, history {statistics.median(pair.history):,.0f} "
          f"jobs/s: {pair.ratio:.2f}x")
    print(f"  empty:   {', '.join(f'{r:,.0f}' for r in pair.empty)}")
    print(f"  history: {', '.join(f'{r:,.0f}' for r in pair.history)}")
    if args.no_prune:
        return 0
    seconds, longest, wal, deleted, dead = prune_cost(full, batch=args.prune_batch)
    how = f"in calls of {args.prune_batch:,} runs" if args.prune_batch else "in one call"
    print(f"prune (7-day retention) {how}: {seconds:.1f} s, longest transaction {longest:.1f} s, "
          f"{wal / 2**20:,.0f} MiB of WAL, deleted {deleted}")
    for table, n in sorted(dead.items()):
        print(f"  dead rows left in {table}: {n:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
