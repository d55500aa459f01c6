"""Scenario 3, latency: enqueue -> handler start at low load, with ``signal="notify"`` and polling.

One worker process (default settings but the signal) serves a job whose handler records
``time.time() - input["t"]``, ``t`` being taken just before ``client.enqueue``. Jobs are enqueued
one at a time from one connection at about ``latency_rate`` per second (random gaps), after a
short warm-up whose jobs are not counted.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time

import pgflow
from benchmarks import drain
from benchmarks.core import Bench, Results
from benchmarks.flows import bench_latency
from benchmarks.report import Table, cell
from benchmarks.stats import percentile
from benchmarks.systems import pgflow_sys

WARMUP = 5
SIGNALS = ("notify", "polling")
PERCENTILES = (50, 95, 99)


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_latency")
    pgflow_sys.setup(dsn)
    for rep in range(s.reps):
        for signal in SIGNALS:
            try:
                latencies = measure(dsn, signal, s.latency_jobs, s.latency_rate, s.drain_timeout, seed=rep)
            except Exception as exc:
                bench.failed(f"latency {signal} rep {rep + 1}", exc)
                continue
            for p in PERCENTILES:
                bench.results.add(f"latency/{signal}/p{p}", "ms", percentile(latencies, p) * 1000)
            bench.log(f"latency {signal} rep {rep + 1}: p50 {percentile(latencies, 50) * 1000:.1f} ms, "
                      f"p99 {percentile(latencies, 99) * 1000:.1f} ms")


def measure(dsn: str, signal: str, jobs: int, rate: float, timeout: float, seed: int = 0) -> list[float]:
    """Seconds from enqueue to handler start of ``jobs`` jobs (warm-up excluded)."""
    fd, out = tempfile.mkstemp(prefix="pgflow-latency-", suffix=".json")
    os.close(fd)
    rng = random.Random(seed)
    procs = drain.start_workers(pgflow_sys.__name__, dsn, 1, ["--flows", bench_latency.slug, "--signal", signal,
                                                              "--out", out])
    try:
        drain.go(procs)
        with pgflow.Client(dsn, max_size=1) as client:
            for _ in range(WARMUP):
                client.enqueue(bench_latency, {"t": time.time()})
            drain.wait_until_drained(dsn, pgflow_sys.REMAINING_SQL, timeout)
            for _ in range(jobs):
                time.sleep(rng.uniform(0.5, 1.5) / rate)
                client.enqueue(bench_latency, {"t": time.time()})
        drain.wait_until_drained(dsn, pgflow_sys.REMAINING_SQL, timeout)
    finally:
        drain.stop(procs)
    try:
        with open(out) as f:
            latencies = json.load(f)
    finally:
        os.unlink(out)
    if len(latencies) != WARMUP + jobs:
        raise RuntimeError(f"the worker recorded {len(latencies)} handler starts, expected {WARMUP + jobs}")
    return latencies[WARMUP:]


def render(results: Results) -> list[Table]:
    rows = [[signal] + [cell(results.get(f"latency/{signal}/p{p}")) for p in PERCENTILES] for signal in SIGNALS]
    return [Table(["signal", "p50", "p95", "p99"], rows,
                  "pgflow-py enqueue → handler start (each percentile: median over repetitions)")]
