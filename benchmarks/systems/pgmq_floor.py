"""The floor: raw pgmq, ``read`` then ``archive`` of each batch in a tight loop, no framework."""

from __future__ import annotations

import signal
import sys

import psycopg

from benchmarks.drain import wait_for_go
from benchmarks.sql import q
from benchmarks.systems._cli import worker_args
from pgflow import migrate

QUEUE = "bench_floor"
REMAINING_SQL = q("pgmq_left")


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute(q("pgmq_missing")).fetchone()[0]:
            conn.execute(migrate.pgmq_sql())
        conn.execute(q("pgmq_recreate_queue"), {"queue": QUEUE})
        conn.execute(q("pgmq_create_queue"), {"queue": QUEUE})


def enqueue(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, n, 1000):
            size = min(1000, n - start)
            conn.execute(q("pgmq_send_batch"), {"queue": QUEUE, "n": size})


def worker(argv: list[str]) -> None:
    args = worker_args(argv)
    stopping = False

    def stop(*_: object) -> None:  # finish the statement in flight, then leave the loop
        nonlocal stopping
        stopping = True

    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")
        wait_for_go()  # until here SIGTERM ends the process at once
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            ids = [r[0] for r in conn.execute(q("pgmq_read"), {"queue": QUEUE, "qty": args.batch})]
            if ids:
                conn.execute(q("pgmq_archive"), {"queue": QUEUE, "ids": ids})


if __name__ == "__main__":
    worker(sys.argv[1:])
