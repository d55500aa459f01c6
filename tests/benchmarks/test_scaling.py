"""benchmarks.scaling measures what docs/scaling.md quotes, in a tiny size (no timing asserted)."""

from __future__ import annotations

from benchmarks import scaling
from benchmarks.env import Server
from benchmarks.systems import pgflow_sys


def test_costs_per_task_of_jobs_and_of_a_chain_with_a_subscriber(pg_admin_url):
    server = Server(pg_admin_url)
    dsn = server.fresh_database("bench_scaling_test")
    try:
        pgflow_sys.setup(dsn)
        jobs = scaling.measure(server, dsn, "bench_job", 20, 1, events=False, timeout=60)
        assert jobs.tasks == 20
        assert jobs.idle_connections >= 2  # the engine's pool and the LISTEN connection
        assert jobs.busy_connections >= jobs.idle_connections
        assert jobs.wal > 0 and jobs.server_cpu > 0
        assert jobs.notifies == 0  # enqueued before the drain; no one subscribed to events
        # per job at least: the task claimed and completed, the run and step state completed,
        # the message archived (deleted from the queue)
        assert jobs.dead_rows >= 4 * 20
        chain = scaling.measure(server, dsn, "bench_chain", 5, 1, events=True, timeout=60)
        assert chain.tasks == 15
        assert chain.notifies >= 15  # every task's events reach the subscriber
        assert "tasks/s" in chain.line()
    finally:
        server.drop_database("bench_scaling_test")
