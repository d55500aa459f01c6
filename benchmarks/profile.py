"""Where a drained job's time goes: CPU per job of the worker processes and of PostgreSQL,
the WAL it writes, and the statements that cost the most (``pg_stat_statements``, nested
statements included).

    python -m benchmarks.profile                       # pgflow-py and PgQueuer, 10,000 jobs, 1 process
    python -m benchmarks.profile --systems pgflow-py --jobs 20000 --processes 2 --top 25
    python -m benchmarks.profile --systems compat --jobs 1500 --extra '--flows bench_chain'  # a TypeScript worker's calls

Runs on a throwaway embedded PostgreSQL (durable settings, ``pg_stat_statements`` preloaded)
or ``--database-url``. CPU is read from ``/proc``: the worker processes' own, and the server's
as the postmaster's own and reaped children's time plus its live backends'. WAL is how far the
server's WAL insert position moved during the drain (nothing else runs meanwhile). Bounded: each
drain times out after ``--timeout`` seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
from psycopg import sql

from benchmarks import drain
from benchmarks.core import vacuum_analyze
from benchmarks.env import Server, start_server
from benchmarks.sql import q
from benchmarks.scenarios.jobs import available_systems
from benchmarks.systems import compat_sys, pgflow_sys

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2:].split()  # fields from the state on (field 3)


def server_cpu(admin_url: str) -> float:
    """Seconds of CPU the whole server has used: postmaster + reaped children + live children."""
    with psycopg.connect(admin_url, autocommit=True) as c:
        data_dir = c.execute("SHOW data_directory").fetchone()[0]  # type: ignore[index]
    postmaster = int(Path(data_dir, "postmaster.pid").read_text().split()[0])
    fields = _stat(postmaster)
    total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                f = _stat(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
            if int(f[1]) == postmaster:  # ppid
                total += int(f[11]) + int(f[12])
    return total / TICK


def server_wal(admin_url: str) -> int:
    """Bytes of WAL the whole server has inserted so far (the insert position: exact at once,
    where pg_stat_wal waits for each backend to report)."""
    with psycopg.connect(admin_url, autocommit=True) as c:
        row = c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')").fetchone()
    assert row is not None
    return int(row[0])


# the compatible path (scenario 6): pgflow-py's database and runs, drained by the TypeScript worker's calls
COMPAT = SimpleNamespace(__name__=compat_sys.__name__, setup=pgflow_sys.setup, enqueue=pgflow_sys.enqueue,
                         REMAINING_SQL=pgflow_sys.REMAINING_SQL)


def process_cpu(pids: list[int]) -> float:
    """Seconds of CPU these live processes have used (their threads included)."""
    return sum(sum(int(x) for x in _stat(pid)[11:13]) for pid in pids) / TICK


def profile(server: Server, names: list[str], jobs: int, processes: int, top: int, timeout: float,
            extra: list[str], statements: list[str]) -> Iterator[str]:
    """Drain ``jobs`` jobs of each named system; yield the report's lines as they come."""
    systems: dict[str, Any] = {**available_systems(), "compat": COMPAT}
    for name in names:
        module = systems[name]
        database = f"profile_{module.__name__.rsplit('.', 1)[-1]}_{os.getpid()}"  # concurrent profiles apart
        dsn = server.fresh_database(database)
        try:
            yield from _profile_one(server, name, module, dsn, jobs, processes, top, timeout, extra, statements)
        finally:
            server.drop_database(database)


def _profile_one(server: Server, name: str, module: Any, dsn: str, jobs: int, processes: int, top: int,
                 timeout: float, extra: list[str], statements: list[str]) -> Iterator[str]:
    module.setup(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        for statement in statements:
            c.execute(statement.encode())
        # tracking nested statements costs server CPU: only when a statement list is wanted
        for setting in ("SET pg_stat_statements.track = 'all'", "SET pg_stat_statements.track_planning = on"):
            if top > 0:
                c.execute(sql.SQL("ALTER DATABASE {} ").format(sql.Identifier(c.info.dbname)) + sql.SQL(setting))
    flow = next((extra[i + 1] for i, arg in enumerate(extra[:-1]) if arg == "--flows"), None)
    if flow is None:
        module.enqueue(dsn, jobs)
    else:  # pgflow-py: runs of another benchmark flow (e.g. --extra '--flows bench_chain')
        module.enqueue(dsn, jobs, flow)
    vacuum_analyze(dsn)
    with psycopg.connect(dsn, autocommit=True) as c:
        tracked = _reset_statements(c)
    procs = drain.start_workers(module.__name__, dsn, processes, extra)
    pids = [p.pid for p in procs]
    try:
        pg0, py0, wal0 = server_cpu(server.admin_url), process_cpu(pids), server_wal(server.admin_url)
        drain.go(procs)
        seconds = drain.wait_until_drained(dsn, module.REMAINING_SQL, timeout)
        pg1, py1, wal1 = server_cpu(server.admin_url), process_cpu(pids), server_wal(server.admin_url)
    finally:
        drain.stop(procs)
    yield (f"== {name}: {jobs:,} jobs, {processes} process(es): {jobs / seconds:,.0f} jobs/s; CPU per job: "
           f"workers {(py1 - py0) * 1e6 / jobs:.0f} µs, PostgreSQL {(pg1 - pg0) * 1e6 / jobs:.0f} µs; "
           f"WAL per job: {(wal1 - wal0) / jobs:,.0f} bytes")
    if top <= 0:
        return
    if not tracked:
        yield "   (pg_stat_statements is not preloaded on this server: no statement list)"
        return
    with psycopg.connect(dsn, autocommit=True) as c:
        rows = c.execute(q("profile_top_statements"), {"top": top}).fetchall()
    yield f"{'calls':>8} {'exec µs/job':>11} {'plan µs/job':>11}  statement (nested ones included)"
    for calls, exec_ms, plan_ms, text in rows:
        yield f"{calls:>8} {exec_ms * 1000 / jobs:>11.1f} {plan_ms * 1000 / jobs:>11.1f}  {text}"


def _reset_statements(conn: psycopg.Connection[Any]) -> bool:
    """Empty pg_stat_statements; False when the server does not preload it."""
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        conn.execute("SELECT pg_stat_statements_reset()")
    except psycopg.Error:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="pgflow-py,PgQueuer",
                        help="also: compat (the TypeScript worker's calls; --extra '--flows bench_chain')")
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--top", type=int, default=15, help="statements to list per system")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--extra", default="",
                        help="extra worker arguments, e.g. '--batch 50 --concurrency 50' or (pgflow-py) "
                             "'--flows bench_chain' to drain runs of that flow instead of jobs")
    parser.add_argument("--sql", action="append", default=[],
                        help="a statement to run in each system's database after its setup (experiments)")
    args = parser.parse_args(argv)

    server = start_server(args.database_url)
    try:
        for line in profile(server, args.systems.split(","), args.jobs, args.processes, args.top, args.timeout,
                            args.extra.split(), args.sql):
            print(line, flush=True)
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
