"""Per-key concurrency and fairness with real ``pgflow worker`` processes: max_running_per_key holds
for every key across workers (the run without a key included), a key queued after another key's
long backlog is served while that backlog is still large, and a worker serving two flows does not
let one's backlog starve the other; a killed worker's key slot comes back when its task is requeued."""

from __future__ import annotations

import signal
from typing import Any

import psycopg

import pgflow
from tests.acceptance.worker.conftest import start_worker  # noqa: F401 - the fixture
from tests.helpers import eventually

from . import flows
from .test_limits_across_workers import _prepare, _probe, _ready, _reset

FLOWS = "tests.acceptance.flow_control.flows"


def _scalar(db_url: str, query: str) -> Any:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def _queued(db_url: str, flow: str) -> int:
    return int(_scalar(db_url, f"SELECT count(*) FROM pgflow.step_tasks WHERE flow_slug = '{flow}' "
                               "AND status = 'queued'"))


def test_max_running_per_key_1_holds_for_3_keys_and_the_no_key_group_across_4_workers(db_url, start_worker):
    keys = ["c1", "c2", "c3", ""]
    _prepare(db_url, *(f"keyed:{k}" for k in keys))
    workers = [start_worker(f"{FLOWS}:keyed", "--concurrency", "10", "--quiet", name=f"w{i}") for i in range(4)]
    for worker in workers:
        _ready(worker)
    with pgflow.Client(db_url) as client:
        run_ids = [client.enqueue("keyed", {"customer": k, "seconds": 0.02} if k else {"seconds": 0.02})
                   for _ in range(30) for k in keys]
        eventually(lambda: all(client.get_run(r).finished for r in run_ids[-4:]) and
                   _queued(db_url, "keyed") == 0 and _scalar(db_url, "SELECT count(*) FROM pgflow.step_tasks "
                                                             "WHERE flow_slug = 'keyed' AND status = 'started'") == 0,
                   timeout=120, interval=0.5, message="the 120 runs finish")
    for k in keys:
        seen = _probe(db_url, f"keyed:{k}")
        assert (seen["finished"], seen["peak"]) == (30, 1), (k, seen)
    # the keys did run side by side: the limit is per key, not for the flow
    overlapping = _scalar(db_url, """
        SELECT count(*) FROM pgflow.step_tasks AS a JOIN pgflow.runs AS ra ON ra.run_id = a.run_id,
               pgflow.step_tasks AS b JOIN pgflow.runs AS rb ON rb.run_id = b.run_id
         WHERE a.flow_slug = 'keyed' AND b.flow_slug = 'keyed' AND ra.concurrency_key < rb.concurrency_key
           AND a.started_at < b.completed_at AND b.started_at < a.completed_at""")
    assert overlapping > 0
    assert all(w.process.poll() is None for w in workers)


def test_a_tenant_queued_after_another_tenants_2000_task_backlog_finishes_while_that_backlog_waits(
        db_url, start_worker):
    with pgflow.Client(db_url) as client:
        client.compile(flows.fair)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pgflow.start_flow('fair', jsonb_build_object('tenant', 'a', 'i', g)) "
                     "FROM generate_series(1, 2000) AS g")
        conn.execute("SELECT pgflow.start_flow('fair', jsonb_build_object('tenant', 'b', 'i', g)) "
                     "FROM generate_series(1, 20) AS g")
    workers = [start_worker(f"{FLOWS}:fair", "--concurrency", "10", "--quiet", name=f"f{i}") for i in range(2)]
    for worker in workers:
        _ready(worker)

    def b_left() -> int:
        return int(_scalar(db_url, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'fair' AND status = 'started' "
                                   "AND concurrency_key = 'b'"))

    eventually(lambda: b_left() == 0, timeout=60, interval=0.2, message="tenant b's 20 runs finish")
    # a's backlog is still large: b was not served after it (a runs 2 at a time, 20 ms each)
    assert _queued(db_url, "fair") > 1500


def test_a_worker_serving_two_flows_serves_the_small_one_while_the_other_has_a_backlog(db_url, start_worker):
    with pgflow.Client(db_url) as client:
        client.compile(flows.bulk)
        client.compile(flows.small)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT pgflow.start_flow('bulk', '{}') FROM generate_series(1, 5000)")
        conn.execute("SELECT pgflow.start_flow('small', '{}') FROM generate_series(1, 20)")
    worker = start_worker(f"{FLOWS}:bulk", f"{FLOWS}:small", "--concurrency", "10", "--quiet", name="both")
    _ready(worker)

    eventually(lambda: _scalar(db_url, "SELECT count(*) FROM pgflow.runs WHERE flow_slug = 'small' "
                                       "AND status = 'completed'") == 20,
               timeout=60, interval=0.2, message="the small flow's 20 runs finish")
    assert _queued(db_url, "bulk") > 2500


def test_a_killed_workers_key_slot_returns_when_its_task_is_requeued(db_url, start_worker):
    _prepare(db_url, "victim:c1", "victim:c2")
    victim = start_worker(f"{FLOWS}:keyed_victim", "--quiet", name="victim")
    _ready(victim)
    with pgflow.Client(db_url) as client:
        first = client.enqueue("keyed_victim", {"customer": "c1", "seconds": 2.0})
        eventually(lambda: _probe(db_url, "victim:c1")["running"] == 1, timeout=30, message="c1's task runs")
        victim.signal(signal.SIGKILL)
        victim.wait(timeout=10)
        _reset(db_url, "victim:c1")  # its handler died without counting itself out
        later = [client.enqueue("keyed_victim", {"customer": c, "seconds": 0.05}) for c in ("c1", "c2", "c1")]
        survivor = start_worker(f"{FLOWS}:keyed_victim", "--quiet", "--recovery-interval", "1", name="survivor")
        _ready(survivor)
        # c2 is not held back by c1's lost slot...
        eventually(lambda: client.get_run(later[1]).finished, timeout=30, message="c2's run finishes")
        # ...while c1's slot stays taken by the dead worker's task until it is requeued
        assert _probe(db_url, "victim:c1")["finished"] == 0
        assert client.get_run(later[0]).held_by == 'concurrency limit: key "c1" max_running_per_key 1 (1 running)'
        eventually(lambda: all(client.get_run(r).finished for r in (first, *later)), timeout=120, interval=0.5,
                   message="c1's runs finish after the requeue")
    seen = _probe(db_url, "victim:c1")
    assert (seen["finished"], seen["peak"]) == (3, 1)
