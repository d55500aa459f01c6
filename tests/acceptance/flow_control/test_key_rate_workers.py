"""rate_limit_per_key with real ``pgflow worker`` processes: each tenant starts at its own rate
across two workers, and one tenant at its rate does not slow the other."""

from __future__ import annotations

import psycopg

from tests.acceptance.worker.conftest import start_worker  # noqa: F401 - the fixture
from tests.helpers import eventually

from .test_limits_across_workers import _ready

FLOWS = "tests.acceptance.flow_control.flows"


def test_5_a_second_per_tenant_holds_for_each_tenant_across_2_workers(db_url, start_worker):
    workers = [start_worker(f"{FLOWS}:key_rated", "--quiet", name=f"k{i}") for i in range(2)]
    for worker in workers:
        _ready(worker)
    with psycopg.connect(db_url, autocommit=True) as conn:  # 2 tenants x 25 runs: 5 s of work each
        conn.execute("SELECT pgflow.start_flow('key_rated', jsonb_build_object('tenant', t, 'i', g)) "
                     "FROM generate_series(1, 25) AS g, unnest(ARRAY['a', 'b']) AS t")

    def done() -> bool:
        with psycopg.connect(db_url, autocommit=True) as conn:
            return conn.execute("SELECT count(*) = 0 FROM pgflow.runs WHERE flow_slug = 'key_rated' "
                                "AND status <> 'completed'").fetchone()[0]

    eventually(done, timeout=60, interval=0.5, message="every run completes")
    with psycopg.connect(db_url, autocommit=True) as conn:
        per_tenant = dict(conn.execute(
            "SELECT r.concurrency_key, count(*) FILTER (WHERE t.started_at < f.first + interval '3 s') "
            "FROM pgflow.step_tasks AS t JOIN pgflow.runs AS r USING (run_id) "
            "JOIN (SELECT r2.concurrency_key, min(t2.started_at) AS first FROM pgflow.step_tasks AS t2 "
            "      JOIN pgflow.runs AS r2 USING (run_id) WHERE t2.flow_slug = 'key_rated' "
            "      GROUP BY r2.concurrency_key) AS f ON f.concurrency_key = r.concurrency_key "
            "WHERE t.flow_slug = 'key_rated' GROUP BY r.concurrency_key").fetchall())
    # 3 s at 5 a second plus the 0.4 s of tolerance (3 at once): 17, 18 when a start admitted at
    # the window's end has its claim's earlier started_at; fewer when polls lag. Shared by both
    # tenants it would be about 8 each; without the limit, all 25
    assert set(per_tenant) == {"a", "b"}
    assert all(12 <= n <= 18 for n in per_tenant.values()), per_tenant
    assert all(w.process.poll() is None for w in workers)
