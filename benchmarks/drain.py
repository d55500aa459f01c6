"""Drain a pre-filled queue with P worker processes and time it.

Every system's worker runs as ``python -m benchmarks.systems.<name> worker ...``: it sets up,
prints ``READY`` and waits for a ``go`` line on stdin, so process start-up is not timed. The
parent enqueues N jobs first, says go to every worker at once, and polls the system's
"is anything left" query until it answers no; then it stops the workers by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

import psycopg

POLL = 0.01


def start_workers(module: str, dsn: str, processes: int, extra: Sequence[str] = (), timeout: float = 60) -> list[subprocess.Popen[str]]:
    procs = []
    for _ in range(processes):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", module, "worker", "--dsn", dsn, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ))
    deadline = time.monotonic() + timeout
    for p in procs:
        line = p.stdout.readline() if p.stdout else ""
        if line.strip() != "READY" or time.monotonic() > deadline:
            stop(procs)
            raise RuntimeError(f"{module} worker did not become ready (said {line!r})")
    return procs


def go(procs: Sequence[subprocess.Popen[str]]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()


def wait_until_drained(dsn: str, remaining_sql: str, timeout: float) -> float:
    """Seconds until ``remaining_sql`` (returns a boolean: anything left?) answers false."""
    start = time.perf_counter()
    with psycopg.connect(dsn, autocommit=True) as conn:
        while True:
            left = conn.execute(remaining_sql).fetchone()[0]
            elapsed = time.perf_counter() - start
            if not left:
                return elapsed
            if elapsed > timeout:
                raise TimeoutError(f"queue not drained within {timeout} s")
            time.sleep(POLL)


def stop(procs: Sequence[subprocess.Popen[str]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        for pipe in (p.stdin, p.stdout):
            if pipe is not None:
                pipe.close()


def timed_drain(module: str, dsn: str, processes: int, remaining_sql: str, extra: Sequence[str] = (),
                timeout: float = 300) -> float:
    procs = start_workers(module, dsn, processes, extra)
    try:
        go(procs)
        return wait_until_drained(dsn, remaining_sql, timeout)
    finally:
        stop(procs)


def wait_for_go() -> None:
    """Worker side: announce readiness and block until the parent says go."""
    print("READY", flush=True)
    sys.stdin.readline()
