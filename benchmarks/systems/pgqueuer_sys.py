"""PgQueuer, used as its docs recommend for throughput: asyncpg driver, batched dequeue."""

from __future__ import annotations

import asyncio
import signal
import sys

from benchmarks.drain import wait_for_go
from benchmarks.sql import q
from benchmarks.systems._cli import worker_args

REMAINING_SQL = q("pgqueuer_left")


def _asyncpg_dsn(dsn: str) -> dict[str, object]:
    """asyncpg's connect() arguments for a libpq connection string or URL."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    found: dict[str, object] = {"host": params.get("host", "localhost"), "database": params["dbname"],
                                "user": params.get("user", "postgres")}
    if params.get("port"):
        found["port"] = int(params["port"])
    if params.get("password"):
        found["password"] = params["password"]
    return found


async def _setup(dsn: str) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(**_asyncpg_dsn(dsn))
    try:
        queries = Queries(AsyncpgDriver(conn))
        try:
            await queries.uninstall()
        except Exception:
            pass
        await queries.install()
    finally:
        await conn.close()


def setup(dsn: str) -> None:
    asyncio.run(_setup(dsn))


async def _enqueue(dsn: str, n: int) -> None:
    import asyncpg
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(**_asyncpg_dsn(dsn))
    try:
        queries = Queries(AsyncpgDriver(conn))
        for start in range(0, n, 1000):
            size = min(1000, n - start)
            await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
    finally:
        await conn.close()


def enqueue(dsn: str, n: int) -> None:
    asyncio.run(_enqueue(dsn, n))


async def _worker(args) -> None:  # type: ignore[no-untyped-def]
    import asyncpg
    from pgqueuer import PgQueuer
    from pgqueuer.db import AsyncpgDriver

    # As PgQueuer's own benchmark tool does: PgQueuer over an asyncpg connection, batched dequeue.
    conn = await asyncpg.connect(**_asyncpg_dsn(args.dsn))
    pgq = PgQueuer(AsyncpgDriver(conn))

    @pgq.entrypoint("noop")
    async def noop(job) -> None:  # type: ignore[no-untyped-def]
        return None

    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, wait_for_go)
    loop.add_signal_handler(signal.SIGTERM, pgq.shutdown.set)
    await pgq.qm.run(batch_size=args.batch)
    await conn.close()


def worker(argv: list[str]) -> None:
    asyncio.run(_worker(worker_args(argv)))


if __name__ == "__main__":
    worker(sys.argv[1:])
