"""Scenario 4, client costs: ``start_flow`` and ``enqueue`` per second from one connection and
from many, round trips per call, and ``start_flow_sync``'s overhead over the run itself.

Calls per second use ``pgflow.AsyncClient`` (pool size = concurrency; each coroutine calls in a
loop; no worker runs, so nothing else competes). Round trips are counted on the wire: libpq's
protocol trace of the client's only connection, one ``ReadyForQuery`` per round trip.
``start_flow_sync`` runs a no-op job with one worker process (notify); its overhead is the call's
wall time minus the run's own ``completed_at - started_at``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

import pgflow
from benchmarks import drain
from benchmarks.core import Bench, Results
from benchmarks.flows import bench_chain, bench_job
from benchmarks.report import Table, cell
from benchmarks.systems import pgflow_sys

OPERATIONS: dict[str, Callable[[Any], Awaitable[Any]]] = {
    "start_flow": lambda client: client.start_flow(bench_chain, {"n": 1}),
    "enqueue": lambda client: client.enqueue(bench_job, {"n": 1}),
}


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_client")
    pgflow_sys.setup(dsn)
    for name in OPERATIONS:
        try:
            bench.results.add(f"client/{name}/roundtrips", "round trips", round_trips(dsn, name))
        except Exception as exc:
            bench.failed(f"client round trips {name}", exc)
    for rep in range(s.reps):
        for name in OPERATIONS:
            for concurrency in (1, s.client_concurrency):
                try:
                    rate = asyncio.run(calls_per_second(dsn, name, s.client_calls, concurrency))
                except Exception as exc:
                    bench.failed(f"client {name} x{concurrency} rep {rep + 1}", exc)
                    continue
                bench.results.add(f"client/{name}/{'one' if concurrency == 1 else 'many'}", "calls/s", rate)
                bench.log(f"client {name} x{concurrency} rep {rep + 1}: {rate:,.0f} calls/s")
        try:
            overhead, wall = sync_overhead(dsn, s.sync_calls, s.drain_timeout)
        except Exception as exc:
            bench.failed(f"client start_flow_sync rep {rep + 1}", exc)
            continue
        bench.results.add("client/start_flow_sync/overhead", "ms", overhead * 1000)
        bench.results.add("client/start_flow_sync/wall", "ms", wall * 1000)
        bench.log(f"client start_flow_sync rep {rep + 1}: {wall * 1000:.1f} ms, overhead {overhead * 1000:.1f} ms")


async def calls_per_second(dsn: str, name: str, calls: int, concurrency: int) -> float:
    operation = OPERATIONS[name]
    async with pgflow.AsyncClient(dsn, max_size=concurrency) as client:
        await asyncio.gather(*(operation(client) for _ in range(concurrency)))  # open the pool's connections
        left = iter(range(calls))

        async def loop() -> None:
            for _ in left:
                await operation(client)

        start = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        return calls / (time.perf_counter() - start)


def round_trips(dsn: str, name: str, calls: int = 20) -> float:
    """Round trips per call of the sync client, counted in libpq's protocol trace."""
    operation = OPERATIONS[name]
    with tempfile.TemporaryFile() as trace:
        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.pgconn.trace(trace.fileno())
            conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

        with ConnectionPool(dsn, min_size=1, max_size=1, kwargs={"autocommit": True}, open=True) as pool:
            with pgflow.Client(pool=pool) as client:
                operation(client)  # the first call may load types; not counted
                with pool.connection() as conn:
                    configure(conn)
                for _ in range(calls):
                    operation(client)
                with pool.connection() as conn:
                    conn.pgconn.untrace()
        trace.seek(0)
        text = trace.read().decode(errors="replace")
    return sum(1 for line in text.splitlines() if "\tReadyForQuery" in line and line.startswith("B")) / calls


def sync_overhead(dsn: str, calls: int, timeout: float) -> tuple[float, float]:
    """Median seconds of start_flow_sync's wall time beyond the run's own duration, and the wall time."""
    procs = drain.start_workers(pgflow_sys.__name__, dsn, 1, ["--flows", bench_job.slug])
    overheads, walls = [], []
    try:
        drain.go(procs)
        with pgflow.Client(dsn, max_size=2) as client:
            client.start_flow_sync(bench_job, {}, timeout=timeout)  # warm-up: worker ready, types loaded
            for _ in range(calls):
                start = time.perf_counter()
                run = client.start_flow_sync(bench_job, {}, timeout=timeout)
                wall = time.perf_counter() - start
                assert run.completed_at is not None and run.started_at is not None
                walls.append(wall)
                overheads.append(wall - (run.completed_at - run.started_at).total_seconds())
    finally:
        drain.stop(procs)
    from statistics import median
    return median(overheads), median(walls)


def render(results: Results, concurrency: int) -> list[Table]:
    rows = []
    for name in OPERATIONS:
        rows.append([name, cell(results.get(f"client/{name}/one")), cell(results.get(f"client/{name}/many")),
                     cell(results.get(f"client/{name}/roundtrips"))])
    sync = [["start_flow_sync (no-op job)", cell(results.get("client/start_flow_sync/wall")),
             cell(results.get("client/start_flow_sync/overhead"))]]
    return [Table(["call", "1 connection", f"{concurrency} connections", "round trips per call"], rows,
                  "Client calls per second (median, min–max) and round trips per call"),
            Table(["call", "wall time", "overhead over the run"], sync,
                  "start_flow_sync: median per call, median over repetitions")]
