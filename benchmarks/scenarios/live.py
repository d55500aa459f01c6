"""Scenario 8, live views at scale: one ``pgflow dashboard`` process serving Server-Sent Events
while a map of ``live_items`` items runs.

For each number of reading clients (``live_readers``) a fresh run of ``bench_map`` is started,
the readers open its one-run stream (``/events/runs/<id>``) and read everything, and
``live_idle`` more clients open the same stream in full task mode and never read a byte (a
backgrounded tab: their socket buffers are 4 kB). Once every client has its first snapshot, two
worker processes drain the map. Measured on the dashboard process: CPU seconds from the go to
the last reader's ``run:finished``, its peak RSS above the RSS before the clients came, how long
after the run's ``completed_at`` the slowest reader received ``run:finished``, and the slowest
answer of ``/`` (fetched every 0.25 s meanwhile). What one client that never reads costs alone
is the difference between two more runs with one progress reader, each on a fresh dashboard
process: without such clients, and with ``4 x live_idle`` of them (peak RSS added, divided by
their number). Readers follow the stream as the dashboard's
run page does (``?tasks=progress``: task counts per step, at most two a second) and, in the
``tasks`` rows, every task event (``pgflow-live.js``'s mode). Besides, with three runs of 3 MB
inputs in the database, the size of the all-runs snapshot every dashboard page receives.

Every wait is bounded (``drain_timeout``); the clients and the dashboard are stopped by PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import drain
from benchmarks.core import Bench, Results
from benchmarks.report import Table, cell
from benchmarks.systems import pgflow_sys

MODULE = pgflow_sys.__name__
TICK = os.sysconf("SC_CLK_TCK")
WORKERS = 2


def key(mode: str, readers: int, what: str) -> str:
    return f"live/{mode}/{readers}/{what}"


def idle_key(idle: int, what: str) -> str:
    """A figure of one progress reader beside ``idle`` clients that never read."""
    return f"live/idle/{idle}/{what}"


def idle_counts(idle: int) -> tuple[int, int]:
    """The two counts of non-reading clients compared to find what one of them costs."""
    return 0, 4 * idle


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_live")
    pgflow_sys.setup(dsn)
    with Dashboard(dsn) as dash:
        try:
            size = all_runs_snapshot_bytes(dash, dsn)
            bench.results.add("live/snapshot_bytes", "bytes", size)
            bench.log(f"live: all-runs snapshot with three 3 MB inputs: {size:,} bytes")
        except Exception as exc:
            bench.failed("live all-runs snapshot", exc)
        plan = [("progress", n) for n in s.live_readers] + [("tasks", n) for n in s.live_readers[:2]]
        for mode, readers in plan:
            try:
                figures = asyncio.run(watch_one_run(dash, dsn, mode, readers, s.live_idle, s.live_items,
                                                    s.drain_timeout))
            except Exception as exc:
                bench.failed(f"live {mode} {readers} readers", exc)
                continue
            for what, (unit, value) in figures.items():
                bench.results.add(key(mode, readers, what), unit, value)
            bench.log(f"live {mode} x{readers} (+{s.live_idle} not reading): " + ", ".join(
                f"{what} {value:.2f} {unit}" for what, (unit, value) in figures.items()))
    for idle in idle_counts(s.live_idle):  # each on a fresh dashboard: no memory left by other rows
        with Dashboard(dsn) as fresh:
            try:
                figures = asyncio.run(watch_one_run(fresh, dsn, "progress", 1, idle, s.live_items, s.drain_timeout))
            except Exception as exc:
                bench.failed(f"live 1 reader beside {idle} not reading", exc)
                continue
        for what, (unit, value) in figures.items():
            bench.results.add(idle_key(idle, what), unit, value)
        bench.log(f"live progress x1 (+{idle} not reading): " + ", ".join(
            f"{what} {value:.2f} {unit}" for what, (unit, value) in figures.items()))


class Dashboard:
    """``python -m pgflow dashboard`` on a free port; stopped by PID."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Dashboard:
        # BENCH_DASHBOARD_SOURCE: a checkout whose pgflow serves instead (a before/after comparison)
        source = os.environ.get("BENCH_DASHBOARD_SOURCE")
        env = {**os.environ, "PYTHONPATH": source} if source else None
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pgflow", "dashboard", "--database-url", self.dsn, "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=source or None)
        deadline = time.monotonic() + 30
        while True:
            try:
                asyncio.run(get(self.port, "/"))
                return self
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.__exit__()
                    raise RuntimeError("the dashboard did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        text = Path(f"/proc/{self.pid}/stat").read_text()
        fields = text[text.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")


async def get(port: int, path: str) -> bytes:
    """A whole HTTP/1.1 response to GET ``path`` (Connection: close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
        return await reader.read()
    finally:
        writer.close()


def all_runs_snapshot_bytes(dash: Dashboard, dsn: str) -> int:
    payload = json.dumps({"padding": "p" * 3_000_000})
    pgflow_sys.enqueue(dsn, 3, "bench_job", payload)

    async def first_snapshot() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", dash.port)
        try:
            writer.write(b"GET /events/runs HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = b""
            while b"event: snapshot" not in data or not data.split(b"event: snapshot", 1)[1].count(b"\n\n"):
                chunk = await asyncio.wait_for(reader.read(65536), 30)
                if not chunk:
                    raise RuntimeError("the stream ended before its snapshot")
                data += chunk
            message = data.split(b"event: snapshot", 1)[1].split(b"\n\n", 1)[0]
            return len(message)
        finally:
            writer.close()

    return asyncio.run(first_snapshot())


class Reader:
    """Reads a stream to its end, remembering when the first snapshot and run:finished came."""

    def __init__(self) -> None:
        self.subscribed = asyncio.Event()
        self.finished_at: float | None = None

    async def follow(self, port: int, path: str) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
            tail = b""
            while True:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    return
                window = tail + chunk
                if not self.subscribed.is_set() and b"event: snapshot" in window:
                    self.subscribed.set()
                if b"event: run:finished" in window:
                    self.finished_at = time.time()
                    return
                tail = window[-32:]
        finally:
            writer.close()


async def stalled(port: int, path: str) -> socket.socket:
    """A client that sends its request and never reads (a 4 kB receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    return sock


async def watch_one_run(dash: Dashboard, dsn: str, mode: str, readers: int, idle: int, items: int,
                        timeout: float) -> dict[str, tuple[str, float]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT run_id FROM pgflow.start_flow('bench_map', %s::jsonb)",
                           (json.dumps(list(range(items))),)).fetchone()
    assert row is not None
    run_id = row[0]
    path = f"/events/runs/{run_id}" + ("?tasks=progress" if mode == "progress" else "")
    rss_before = dash.rss_mb()
    followers = [Reader() for _ in range(readers)]
    tasks = [asyncio.ensure_future(r.follow(dash.port, path)) for r in followers]
    sockets = [await stalled(dash.port, f"/events/runs/{run_id}") for _ in range(idle)]
    peak, slowest_root, stop = rss_before, 0.0, asyncio.Event()

    async def sample() -> None:
        nonlocal peak, slowest_root
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.wait_for(get(dash.port, "/"), timeout)
            slowest_root = max(slowest_root, time.perf_counter() - started)
            peak = max(peak, dash.rss_mb())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    procs: list[Any] = []
    sampler = None
    try:
        await asyncio.wait_for(asyncio.gather(*(r.subscribed.wait() for r in followers)), timeout)
        procs = await asyncio.to_thread(drain.start_workers, MODULE, dsn, WORKERS,
                                        ["--flows", "bench_map", "--batch", "10", "--concurrency", "10"])
        sampler = asyncio.ensure_future(sample())
        cpu_before = dash.cpu()
        drain.go(procs)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)
        cpu = dash.cpu() - cpu_before
        peak = max(peak, dash.rss_mb())
    finally:
        stop.set()
        if sampler is not None:
            await asyncio.wait({sampler})
        for task in tasks:
            task.cancel()
        for sock in sockets:
            sock.close()
        await asyncio.to_thread(drain.stop, procs)
    with psycopg.connect(dsn, autocommit=True) as conn:
        completed = conn.execute("SELECT extract(epoch FROM completed_at) FROM pgflow.runs WHERE run_id = %s",
                                 (run_id,)).fetchone()
    assert completed is not None and completed[0] is not None, "the run did not complete"
    lag = max(r.finished_at or float("inf") for r in followers) - float(completed[0])
    return {"cpu": ("s", cpu), "rss": ("MB", peak - rss_before), "lag": ("s", max(lag, 0.0)),
            "root": ("ms", slowest_root * 1000)}


def render(results: Results, readers: tuple[int, ...], idle: int, items: int) -> list[Table]:
    rows = []
    plan = [("progress", n) for n in readers] + [("tasks", n) for n in readers[:2]]
    for mode, n in plan:
        rows.append([f"{n} reader{'s' if n > 1 else ''} ({mode})"] + [
            cell(results.get(key(mode, n, what))) for what in ("cpu", "rss", "lag", "root")])
    snapshot = results.get("live/snapshot_bytes")
    none, many = idle_counts(idle)
    for n in (none, many):
        rows.append([f"1 reader (progress), {n} not reading instead of {idle}"] + [
            cell(results.get(idle_key(n, what))) for what in ("cpu", "rss", "lag", "root")])
    per_idle = (results.median(idle_key(many, "rss")) - results.median(idle_key(none, "rss"))) / many
    return [
        Table(["readers (+{} not reading)".format(idle), "dashboard CPU", "peak RSS added", "slowest reader behind",
               "slowest `/`"], rows, f"One dashboard process, a map of {items:,} items watched over SSE"),
        Table(["snapshot", "size"], [["all-runs stream, three runs of 3 MB input among them", cell(snapshot)]],
              "What every dashboard page receives first"),
        Table(["clients that never read", "peak RSS added per client"],
              [[f"{many} against none, beside one progress reader",
                f"{per_idle:.2f} MB" if per_idle == per_idle else "not measured"]],  # NaN: a row is missing
              "What one client that never reads costs the dashboard"),
    ]

