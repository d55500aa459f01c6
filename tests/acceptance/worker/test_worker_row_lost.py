"""A worker whose ``pgflow.workers`` row disappeared (an over-eager prune, a DELETE by hand)
registers again by itself, and runs tasks again."""

from __future__ import annotations

from datetime import timedelta


import pgflow
from tests.acceptance.worker.conftest import FLOWS, StartWorker
from tests.acceptance.worker.test_worker_cli import query, ready
from tests.helpers import eventually


def test_a_worker_whose_row_was_deleted_registers_again_and_works(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy", "--heartbeat-interval", "0.2")
    ready(worker)
    [before] = query(db_url, "SELECT worker_id FROM pgflow.workers")
    query(db_url, "DELETE FROM pgflow.workers RETURNING worker_id")  # what prune --older-than 0 did
    eventually(lambda: query(db_url, "SELECT worker_id FROM pgflow.workers"), timeout=20,
               message="the worker registers again")
    assert query(db_url, "SELECT worker_id FROM pgflow.workers") == [before]  # the same id: its claims match
    with pgflow.Client(db_url) as client:
        run_id = client.start_flow("sleepy", {"seconds": 0})
        eventually(lambda: client.get_run(run_id).status == "completed", timeout=30,
                   message="the worker runs tasks again")
    assert "registering them again" in worker.stderr


def test_prune_with_a_short_cutoff_keeps_the_rows_of_running_workers(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:sleepy", "--heartbeat-interval", "30")  # its heartbeat is older than now()
    ready(worker)
    with pgflow.Client(db_url) as client:
        client.prune(older_than=timedelta(0))
    assert len(query(db_url, "SELECT worker_id FROM pgflow.workers")) == 1
