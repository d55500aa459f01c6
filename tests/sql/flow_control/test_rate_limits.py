"""rate_limit: starts spaced by per/count (GCRA), refused messages hidden until the rate allows one."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, queue_messages, read_and_start, register_worker, rows, scalar, start_flow


def _flow(conn, limits, n=3):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    start_flow(conn, "f", list(range(n)))
    conn.execute("SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))
    return register_worker(conn, "f")


def test_claim_tasks_reads_only_what_the_rate_allows_then_nothing(conn):
    worker_id = _flow(conn, {"rate_limit": {"count": 2, "per": 10}})

    first = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))
    assert [r["task_index"] for r in first if r["run_id"]] == [0]
    again = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))
    assert [(r["messages"], r["run_id"]) for r in again] == [(0, None)]


def test_start_tasks_refuses_past_the_rate_and_hides_until_the_next_start_is_allowed(conn):
    worker_id = _flow(conn, {"steps": {"items": {"rate_limit": {"count": 2, "per": 10}}}})
    before = scalar(conn, "SELECT clock_timestamp()")

    started = read_and_start(conn, "f", worker_id, vt=60)

    assert [t["task_index"] for t in started] == [0]
    refused = [m for m in queue_messages(conn, "f") if m["msg_id"] != started[0]["msg_id"]]
    # one start every 5 s, 0.4 s of tolerance: the next start is allowed 4.6 s after this one
    assert all(4 < m["vt"].timestamp() - before.timestamp() < 6 for m in refused)
    assert scalar(conn, "SELECT count(*) FROM pgflow.flow_rate_state WHERE step_slug = 'items'") == 1


def test_a_fast_rate_admits_a_small_burst_not_a_period(conn):
    worker_id = _flow(conn, {"rate_limit": {"count": 100, "per": 1}}, n=50)
    started = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 50, %s)", (worker_id,))
    # 10 ms apart with 0.4 s of tolerance: 41 at once, not the whole 100 of the second
    assert 40 <= len([r for r in started if r["run_id"]]) <= 41


@pytest.mark.parametrize(("rate", "words"), [
    ({"count": 10, "per": 0}, "rate_limit of flow 'f' must be"),
    ({"count": 0, "per": 1}, "rate_limit of flow 'f' must be"),
    ({"count": 1.5, "per": 1}, "rate_limit of flow 'f' must be"),
    ({"count": 1}, "rate_limit of flow 'f' must be"),
    ({"count": 1, "per": 1, "burst": 3}, "rate_limit of flow 'f' must be"),
])
def test_a_bad_rate_is_pf003_naming_the_option_and_the_flow(conn, rate, words):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.set_flow_limits('f', %s)", (Jsonb({"rate_limit": rate}),))
    assert raised.value.sqlstate == "PF003" and words in str(raised.value)
