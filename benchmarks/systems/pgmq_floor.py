"""The floor: raw pgmq, ``read`` then ``archive`` of each batch in a tight loop, no framework."""

from __future__ import annotations

import signal
import sys

import psycopg

from benchmarks.drain import wait_for_go
from benchmarks.systems._cli import worker_args
from pgflow import migrate

QUEUE = "bench_floor"
REMAINING_SQL = f"SELECT EXISTS (SELECT 1 FROM pgmq.q_{QUEUE})"


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('pgmq.meta') IS NULL").fetchone()[0]:
            conn.execute(migrate.pgmq_sql())
        conn.execute("SELECT pgmq.drop_queue(%s) WHERE EXISTS (SELECT 1 FROM pgmq.list_queues() WHERE queue_name = %s)", (QUEUE, QUEUE))
        conn.execute("SELECT pgmq.create(%s)", (QUEUE,))


def enqueue(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        for start in range(0, n, 1000):
            size = min(1000, n - start)
            conn.execute("SELECT pgmq.send_batch(%s, array_fill('{}'::jsonb, ARRAY[%s]))", (QUEUE, size))


def worker(argv: list[str]) -> None:
    args = worker_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        conn.execute("SELECT 1")
        wait_for_go()
        while True:
            ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read(%s, 30, %s)", (QUEUE, args.batch))]
            if ids:
                conn.execute("SELECT pgmq.archive(%s, %s::bigint[])", (QUEUE, ids))


if __name__ == "__main__":
    worker(sys.argv[1:])
