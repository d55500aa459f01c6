"""pgflow-py: a ``pgflow.Worker`` process serving the benchmark flows (benchmarks/flows.py)."""

from __future__ import annotations

import json
import logging
import sys

import psycopg

import pgflow
from benchmarks import flows
from benchmarks.drain import wait_for_go
from benchmarks.sql import q
from benchmarks.systems._cli import worker_args

REMAINING_SQL = q("pgflow_runs_left")


def setup(dsn: str) -> None:
    """Install the schema and compile every benchmark flow (workers then find them compiled)."""
    with pgflow.Client(dsn) as client:
        client.install()
        for flow in flows.FLOWS.values():
            client.compile(flow)


def enqueue(dsn: str, n: int, flow_slug: str = "bench_job", input: str = "{}") -> None:
    """Start ``n`` runs of ``flow_slug`` (in statements of 1,000 runs)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, n, 1000):
            conn.execute(q("pgflow_start_runs"), {"n": min(1000, n - start), "flow_slug": flow_slug, "input": input})


def worker(argv: list[str]) -> None:
    args = worker_args(argv)
    logging.basicConfig(level=logging.WARNING)
    served = [flows.FLOWS[slug] for slug in args.flows.split(",")]
    worker = pgflow.Worker(args.dsn, served, max_concurrency=args.concurrency, batch_size=args.batch,
                           signal=args.signal, shutdown_timeout=5.0)
    wait_for_go()
    try:
        worker.run()  # SIGTERM stops it gracefully
    finally:
        if args.out:
            with open(args.out, "w") as f:
                json.dump(flows.LATENCIES, f)


if __name__ == "__main__":
    worker(sys.argv[1:])
