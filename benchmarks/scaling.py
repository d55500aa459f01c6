"""What one PostgreSQL pays per task, for sizing how many workers and hosts it can feed
(docs/scaling.md): connections per worker process, server and worker CPU per task, WAL,
NOTIFYs and dead rows per task, while P worker processes drain a pre-filled queue.

    python -m benchmarks.scaling                              # jobs, 1, 2 and 4 processes
    python -m benchmarks.scaling --flow bench_chain --runs 3000 --processes 2 --events

Runs on a throwaway embedded PostgreSQL (durable settings) or ``--database-url``. Per drain:
- connections: the workers' (named "pgflow worker ..." and "pgflow scheduler"): of workers started on
  an empty queue, once their count holds for a second (idle), and the most seen, sampled every
  20 ms, while they drain (busy);
- CPU: the server's and the worker processes' (from ``/proc``, as ``benchmarks.profile``);
- WAL: how far the server's insert position moved;
- NOTIFYs: counted by one more session listening on the queue's insert channel (pgmq's trigger,
  throttled; jobs enqueued before the drain send none during it, a flow's later steps do) and,
  with ``--events`` (which also subscribes it, as a dashboard does), on ``pgflow:events``;
- dead rows: row versions the drain's updates and deletes left for VACUUM in pgflow's and
  pgmq's tables (``pg_stat_user_tables``; HOT updates included, they are dead rows too, though
  pruned within the page).
Nothing else should run on the server meanwhile: CPU and WAL are the whole server's.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from benchmarks import drain
from benchmarks.core import vacuum_analyze
from benchmarks.env import Server, start_server
from benchmarks.profile import process_cpu, server_cpu, server_wal
from benchmarks.sql import q
from benchmarks.systems import pgflow_sys

TASKS_PER_RUN = {"bench_job": 1, "bench_chain": 3}


@dataclass
class Cost:
    processes: int
    tasks: int
    seconds: float
    idle_connections: int
    busy_connections: int
    server_cpu: float      # seconds
    worker_cpu: float      # seconds
    wal: int               # bytes
    notifies: int
    dead_rows: int

    def line(self) -> str:
        per = 1e6 / self.tasks
        return (f"{self.processes} process(es), {self.tasks:,} tasks: {self.tasks / self.seconds:,.0f} tasks/s; "
                f"connections idle {self.idle_connections} / busy {self.busy_connections} "
                f"({self.busy_connections / self.processes:.1f} per process); per task: server CPU "
                f"{self.server_cpu * per:.0f} µs, worker CPU {self.worker_cpu * per:.0f} µs, "
                f"WAL {self.wal / self.tasks:,.0f} bytes, NOTIFYs {self.notifies / self.tasks:.3f}, "
                f"dead rows {self.dead_rows / self.tasks:.2f}")


class Sampler(threading.Thread):
    """Counts the database's other backends every 20 ms, and the notifications its session gets."""

    def __init__(self, dsn: str, channels: list[str], subscribe: bool) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SELECT 1")
        if subscribe:
            self.conn.execute("SELECT pgflow.subscribe('pgflow:events')")
        for channel in channels:
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        self.most = 0
        self.notifies = 0
        self.stop = threading.Event()

    def connections(self) -> int:
        row = self.conn.execute(q("scaling_backends")).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.most = max(self.most, self.connections())
            self.notifies += sum(1 for _ in self.conn.notifies(timeout=0.02))

    def close(self) -> None:
        self.stop.set()
        self.join()
        self.notifies += sum(1 for _ in self.conn.notifies(timeout=0.2))
        self.conn.close()


def dead_rows(dsn: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return int(conn.execute(q("scaling_dead_rows")).fetchone()[0])  # type: ignore[index]


def settled_dead_rows(dsn: str, floor: int) -> int:
    """The dead-row counter once the stopped workers' backends have flushed their statistics
    (each does as it exits): polled until it stops moving, at most 10 s."""
    last, deadline = -1, time.monotonic() + 10
    while time.monotonic() < deadline:
        now = dead_rows(dsn)
        if now == last and now > floor:
            return now
        last = now
        time.sleep(0.3)
    return last


def idle_connections(dsn: str, flow: str, processes: int) -> int:
    """The connections of ``processes`` started workers with nothing to do: counted once the
    count has held for a second (workers open theirs as they start), at most 15 s."""
    procs = drain.start_workers(pgflow_sys.__name__, dsn, processes, ["--flows", flow])
    try:
        drain.go(procs)
        with psycopg.connect(dsn, autocommit=True) as conn:
            seen, since, deadline = -1, time.monotonic(), time.monotonic() + 15
            while time.monotonic() < deadline:
                now = int(conn.execute(q("scaling_backends")).fetchone()[0])  # type: ignore[index]
                if now != seen:
                    seen, since = now, time.monotonic()
                elif now > 0 and time.monotonic() - since >= 1.0:
                    break
                time.sleep(0.05)
        return seen
    finally:
        drain.stop(procs)


def measure(server: Server, dsn: str, flow: str, runs: int, processes: int, events: bool, timeout: float) -> Cost:
    idle = idle_connections(dsn, flow, processes)
    pgflow_sys.enqueue(dsn, runs, flow)
    vacuum_analyze(dsn)
    dead0 = dead_rows(dsn)
    queue = flow.lower()
    channels = [f"pgmq.q_{queue}.INSERT"] + (["pgflow:events"] if events else [])
    sampler = Sampler(dsn, channels, events)
    procs = drain.start_workers(pgflow_sys.__name__, dsn, processes, ["--flows", flow])
    pids = [p.pid for p in procs]
    try:
        sampler.start()
        pg0, py0, wal0 = server_cpu(server.admin_url), process_cpu(pids), server_wal(server.admin_url)
        drain.go(procs)
        seconds = drain.wait_until_drained(dsn, pgflow_sys.REMAINING_SQL, timeout)
        pg1, py1, wal1 = server_cpu(server.admin_url), process_cpu(pids), server_wal(server.admin_url)
    finally:
        drain.stop(procs)
        sampler.close()
    tasks = runs * TASKS_PER_RUN[flow]
    return Cost(processes, tasks, seconds, idle, sampler.most, pg1 - pg0, py1 - py0, wal1 - wal0,
                sampler.notifies, settled_dead_rows(dsn, dead0) - dead0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", default="bench_job", choices=sorted(TASKS_PER_RUN))
    parser.add_argument("--runs", type=int, default=10_000, help="runs drained per measurement")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts, comma-separated")
    parser.add_argument("--reps", type=int, default=1, help="measurements of each process count, interleaved")
    parser.add_argument("--events", action="store_true", help="with a subscriber of pgflow:events (a dashboard)")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)

    server = start_server(args.database_url)
    database = f"scaling_{os.getpid()}"
    try:
        dsn = server.fresh_database(database)
        pgflow_sys.setup(dsn)
        for rep in range(args.reps):
            for processes in (int(p) for p in args.processes.split(",")):
                cost = measure(server, dsn, args.flow, args.runs, processes, args.events, args.timeout)
                print(f"{args.flow}{' +events' if args.events else ''} rep {rep + 1}: {cost.line()}", flush=True)
    finally:
        server.drop_database(database)
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
