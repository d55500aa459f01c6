"""Procrastinate, used as its docs recommend: psycopg connector, async worker with concurrency,
LISTEN/NOTIFY on, jobs deferred in batches."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

import psycopg

from benchmarks.drain import wait_for_go
from benchmarks.sql import q
from benchmarks.systems._cli import worker_args

REMAINING_SQL = q("procrastinate_left")


def make_app(dsn: str):  # type: ignore[no-untyped-def]
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    return app, noop


def setup(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q("procrastinate_drop"))
    app, _ = make_app(dsn)

    async def apply() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()

    asyncio.run(apply())


def enqueue(dsn: str, n: int) -> None:
    app, noop = make_app(dsn)

    async def defer() -> None:
        async with app.open_async():
            for start in range(0, n, 1000):
                await noop.batch_defer_async(*([{}] * min(1000, n - start)))

    asyncio.run(defer())


async def _worker(args) -> None:  # type: ignore[no-untyped-def]
    app, _ = make_app(args.dsn)
    async with app.open_async():
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, wait_for_go)
        # our SIGTERM handler stops it (procrastinate's own would leave this coroutine waiting)
        task = asyncio.create_task(app.run_worker_async(concurrency=args.concurrency, wait=True,
                                                        install_signal_handlers=False))
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass


def worker(argv: list[str]) -> None:
    # it warns that the app lives in __main__ (this module run with -m); harmless here
    logging.getLogger("procrastinate").setLevel(logging.ERROR)
    asyncio.run(_worker(worker_args(argv)))


if __name__ == "__main__":
    worker(sys.argv[1:])
