"""rate_limit_per_key: a GCRA rate per concurrency key (rows 'key:<key>' of pgflow.flow_rate_state),
keys independent of each other, passed rows read as none and swept so the table stays bounded."""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, register_worker, rows, run_row, scalar, start_flow

HOUR = {"count": 1, "per": 3600}


def _flow(conn, limits):
    define_flow(conn, "f", [("job", [], {})])
    scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))
    return register_worker(conn, "f")


def _claimed(conn, worker_id):
    found = rows(conn, "SELECT * FROM pgflow.claim_tasks('f', 10, %s)", (worker_id,))
    return sorted(run_row(conn, r["run_id"])["concurrency_key"] for r in found if r["run_id"])


def _key_rows(conn):
    return dict(conn.execute("SELECT step_slug, tat > clock_timestamp() FROM pgflow.flow_rate_state "
                             "WHERE flow_slug = 'f' ORDER BY step_slug").fetchall())


def test_each_key_gets_its_own_rate_and_held_by_names_the_key(conn):
    worker_id = _flow(conn, {"concurrency_key": "tenant", "rate_limit_per_key": HOUR})
    runs = {t: [start_flow(conn, "f", {"tenant": t, "i": i}) for i in range(2)] for t in ("a", "b")}

    assert _claimed(conn, worker_id) == ["a", "b"]  # one start each: the other key is not held back
    conn.execute("UPDATE pgmq.q_f SET vt = clock_timestamp()")  # refused messages: visible again
    assert _claimed(conn, worker_id) == []
    assert _key_rows(conn) == {"key:a": True, "key:b": True}

    late = start_flow(conn, "f", {"tenant": "c"})
    assert _claimed(conn, worker_id) == ["c"]
    waiting = [r for r in runs["a"] if run_row(conn, r)["status"] == "started"
               and scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE run_id = %s AND status = 'queued'", (r,))]
    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (waiting[0],)) == 'rate limit: key "a" 1 per 3600 s'
    assert scalar(conn, "SELECT pgflow._run_held_by(%s)", (late,)) is None  # started: nothing queued


def test_a_flow_keyed_by_a_function_or_with_no_key_in_the_input(conn):
    worker_id = _flow(conn, {"rate_limit_per_key": HOUR})  # no path: keys come from run options
    conn.execute("SELECT set_config('pgflow.run_options', '{\"concurrency_key\": \"ACME\"}', true)")
    start_flow(conn, "f", {})
    start_flow(conn, "f", {})  # no option: the no-key group ''
    start_flow(conn, "f", {})

    assert _claimed(conn, worker_id) == ["", "ACME"]
    assert set(_key_rows(conn)) == {"key:", "key:ACME"}


def test_a_passed_key_row_is_no_row_and_a_new_key_sweeps_passed_rows(conn):
    worker_id = _flow(conn, {"concurrency_key": "tenant", "rate_limit_per_key": {"count": 1, "per": 60}})
    conn.execute("INSERT INTO pgflow.flow_rate_state (flow_slug, step_slug, tat) "
                 "SELECT 'f', 'key:old' || g, clock_timestamp() - interval '1 hour' FROM generate_series(1, 150) AS g")
    conn.execute("INSERT INTO pgflow.flow_rate_state (flow_slug, step_slug, tat) VALUES "
                 "('f', 'key:live', clock_timestamp() + interval '1 hour'), "
                 "('f', 'key:old1', clock_timestamp() - interval '1 hour') ON CONFLICT DO NOTHING")
    start_flow(conn, "f", {"tenant": "old1"})  # its row has passed: a start is allowed
    start_flow(conn, "f", {"tenant": "live"})  # its row has not: refused

    assert _claimed(conn, worker_id) == ["old1"]
    # the claim wrote key old1's row anew and deleted 100 passed rows; the live one stays
    left = _key_rows(conn)
    assert (left["key:old1"], left["key:live"], sum(1 for v in left.values() if not v)) == (True, True, 49)

    start_flow(conn, "f", {"tenant": "new"})
    assert _claimed(conn, worker_id) == ["new"]
    assert sorted(_key_rows(conn)) == ["key:live", "key:new", "key:old1"]


def test_keys_without_a_key_rate_write_no_key_rows(conn):
    worker_id = _flow(conn, {"concurrency_key": "tenant", "max_running_per_key": 5, "rate_limit": HOUR})
    start_flow(conn, "f", {"tenant": "a"})
    assert _claimed(conn, worker_id) == ["a"]
    assert _key_rows(conn) == {"": True}


@pytest.mark.parametrize(("limits", "words"), [
    ({"rate_limit_per_key": {"count": 0, "per": 1}}, "rate_limit_per_key of flow 'f' must be"),
    ({"rate_limit_per_key": {"count": 1, "per": 0}}, "rate_limit_per_key of flow 'f' must be"),
    ({"rate_limit_per_key": 5}, "rate_limit_per_key of flow 'f' must be"),
    ({"steps": {"job": {"rate_limit_per_key": HOUR}}}, "unknown limit 'rate_limit_per_key' for step 'job'"),
])
def test_a_bad_key_rate_is_pf003_naming_the_option_and_the_flow(conn, limits, words):
    define_flow(conn, "f", [("job", [], {})])
    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))
    assert raised.value.sqlstate == "PF003" and words in str(raised.value)
