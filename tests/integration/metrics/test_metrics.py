"""Prometheus metrics computed from the database (pgflow.metrics): what they count, and that a
scrape stays cheap beside a long history (100,000 runs)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

pytest.importorskip("prometheus_client")

from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

import pgflow  # noqa: E402
from pgflow import Client  # noqa: E402
from pgflow.db import drive_sync  # noqa: E402
from pgflow.db.queries import query  # noqa: E402
from pgflow.metrics import Metrics  # noqa: E402
from pgflow.testing import drain  # noqa: E402

shop = pgflow.Flow("metrics_shop", max_attempts=1)


@shop.array
def lines(input: Any) -> list[int]:
    return input["lines"]


@shop.map(array=lines)
def price(line: int) -> int:
    if line < 0:
        raise ValueError("negative line")
    return line * 10


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def scrape(conn: psycopg.Connection[Any], metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    metrics.apply(drive_sync(conn, metrics.operation()))
    return samples(metrics.render())


def test_a_scrape_counts_what_happened_since_the_previous_one(db_url: str) -> None:
    flow = (("flow_slug", "metrics_shop"),)
    step = (("flow_slug", "metrics_shop"), ("step_slug", "price"))
    with Client(db_url) as client, psycopg.connect(db_url, autocommit=True) as conn:
        client.compile(shop)
        client.start_flow(shop, {"lines": [1]})  # before the scraper starts: not counted as started
        metrics = Metrics()
        first = scrape(conn, metrics)
        assert first[("pgflow_runs_active", flow)] == 1
        assert first[("pgflow_queue_messages", (("queue", "metrics_shop"),))] == 1
        assert ("pgflow_runs_started_total", flow) not in first

        client.start_flow(shop, {"lines": [1, 2, 3]})
        client.start_flow(shop, {"lines": [4, -1]})
        drain(client, [shop])
        after = scrape(conn, metrics)
        again = scrape(conn, metrics)  # nothing new: the totals stay (the overlap is not counted twice)

    assert after[("pgflow_runs_started_total", flow)] == 2
    assert after[("pgflow_runs_completed_total", flow)] == 2
    assert after[("pgflow_runs_failed_total", flow)] == 1
    assert after[("pgflow_task_duration_seconds_count", step)] == 1 + 3 + 1
    assert after[("pgflow_task_queue_wait_seconds_count", step)] == 1 + 3 + 2
    assert after[("pgflow_tasks_failed_total", step)] == 1
    assert after[("pgflow_task_duration_seconds_bucket", tuple(sorted((*step, ("le", "+Inf")))))] == 5
    assert after[("pgflow_queue_messages", (("queue", "metrics_shop"),))] == 0
    assert ("pgflow_runs_active", flow) not in after
    assert again == after


def _server_ms(conn: psycopg.Connection[Any], name: str, params: dict[str, Any]) -> float:
    """Planning + execution time of one of the scrape's queries, as the server measures it."""
    plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query(name), params).fetchone()[0][0]
    return float(plan["Planning Time"] + plan["Execution Time"])


def test_a_scrape_beside_100k_runs_costs_the_server_less_than_50_ms(db_url: str) -> None:
    with Client(db_url) as client:
        client.compile(shop)
    with psycopg.connect(db_url, autocommit=True) as conn:
        # 100,000 finished runs of an hour ago, each with its two steps and 3 tasks (set-based)
        conn.execute("""
            WITH runs AS (
                INSERT INTO pgflow.runs (flow_slug, status, input, output, remaining_steps, started_at, completed_at)
                SELECT 'metrics_shop', 'completed', '{"lines": [1, 2]}', '{}', 0,
                       now() - interval '1 hour' - g * interval '10 ms', now() - interval '59 minutes'
                  FROM generate_series(1, 100000) AS g
                RETURNING run_id, started_at
            ), states AS (
                INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, initial_tasks,
                                                created_at, started_at, completed_at)
                SELECT 'metrics_shop', runs.run_id, s.slug, 'completed', 0, 1, runs.started_at, runs.started_at,
                       runs.started_at
                  FROM runs CROSS JOIN (VALUES ('lines'), ('price')) AS s(slug)
                RETURNING run_id, step_slug, started_at
            )
            INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, queue_name, queued_at,
                                           started_at, completed_at, attempts_count)
            SELECT 'metrics_shop', states.run_id, states.step_slug, i, 'completed', 'metrics_shop',
                   states.started_at, states.started_at, states.started_at + interval '5 ms', 1
              FROM states CROSS JOIN generate_series(0, CASE WHEN states.step_slug = 'price' THEN 1 ELSE 0 END) AS i
        """)
        conn.execute("ANALYZE pgflow.runs, pgflow.step_states, pgflow.step_tasks")
        with Client(db_url) as client:
            for n in range(20):  # what is going on now: 20 runs in flight
                client.start_flow(shop, {"lines": [n, n + 1]})
        metrics = Metrics()
        scrape(conn, metrics)
        scrape(conn, metrics)  # a steady scrape, as Prometheus makes them
        since, active = metrics._since, [r for r, s in metrics._runs.items() if s == "started"]
        assert since is not None and len(active) == 20
        params = {"since": since, "active": active}
        costs = {
            "metrics_clock": _server_ms(conn, "metrics_clock", {}),
            "metrics_active_runs": _server_ms(conn, "metrics_active_runs", {}),  # the first scrape's
            "metrics_runs": _server_ms(conn, "metrics_runs", params),
            "metrics_tasks": _server_ms(conn, "metrics_tasks", params),
            "metrics_ticks": _server_ms(conn, "metrics_ticks", {"since": since}),
            "metrics_queues": _server_ms(conn, "metrics_queues", {}),
            "metrics_workers": _server_ms(conn, "metrics_workers", {"alive_seconds": 60.0}),
        }
    total = sum(costs.values())
    print(f"scrape server time beside 100k runs: {total:.2f} ms " + json.dumps({k: round(v, 2) for k, v in costs.items()}))
    assert total < 50, costs
