"""The fast path of _admit_claims (a batch that fits every max_running is admitted in one
statement) at its edges: it must never admit more than the per-message loop would."""

import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, read_and_start, register_worker, scalar, start_flow


def _limits(conn, limits):
    return scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))


def _running(conn):
    return scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE flow_slug = 'f' AND status = 'started'")


@pytest.mark.parametrize(("queued", "already", "started"), [
    (3, 0, 3),  # the batch exactly fills the limit: fast path, all admitted
    (4, 0, 3),  # one over: the loop admits up to the limit
    (3, 1, 2),  # running + batch exactly fill it
    (4, 1, 2),  # running + batch one over
])
@pytest.mark.parametrize("limits", [{"max_running": 3}, {"steps": {"items": {"max_running": 3}}}])
def test_a_limit_holds_at_the_fast_paths_edge(conn, queued, already, started, limits):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(queued)))
    worker_id = register_worker(conn, "f")
    _limits(conn, limits)
    if already:
        assert len(read_and_start(conn, "f", worker_id, qty=already)) == already

    claimed = read_and_start(conn, "f", worker_id)

    assert [t["task_index"] for t in claimed] == list(range(already, already + started))
    assert _running(conn) == min(queued, 3)


@pytest.mark.parametrize(("step_max", "started"), [
    (4, [("a", 0), ("a", 1), ("b", 0), ("b", 1)]),  # the whole batch fits a's limit: fast path
    (3, [("a", 0), ("a", 1), ("b", 0), ("b", 1)]),  # a batch of 4 may not fit a's 3: the loop, same answer
    (1, [("a", 0), ("b", 0), ("b", 1)]),            # a's limit refuses its second task only
])
def test_mixed_steps_admit_no_more_than_each_steps_limit(conn, step_max, started):
    define_flow(conn, "f", [("a", [], {"step_type": "map"}), ("b", [], {"step_type": "map"})])
    start_flow(conn, "f", [1, 2])
    worker_id = register_worker(conn, "f")
    _limits(conn, {"max_running": 4, "steps": {"a": {"max_running": step_max}}})

    claimed = read_and_start(conn, "f", worker_id)

    assert sorted((t["step_slug"], t["task_index"]) for t in claimed) == started


def test_a_flow_limit_with_a_step_limit_full_refuses_that_step_only(conn):
    define_flow(conn, "f", [("a", [], {"step_type": "map"}), ("b", [], {"step_type": "map"})])
    start_flow(conn, "f", [1, 2])
    worker_id = register_worker(conn, "f")
    _limits(conn, {"max_running": 3, "steps": {"b": {"max_running": 5}}})

    claimed = read_and_start(conn, "f", worker_id)

    assert len(claimed) == 3 and _running(conn) == 3
