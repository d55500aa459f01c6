"""retry_run / resume_run and the concurrency key: a key a Python function gave is kept (the
database cannot evaluate the function again), a path-keyed flow reads it from the input again."""

import json

from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, fail_task, read_and_start, register_worker, run_row, scalar, start_flow
from tests.sql.resume_run.helpers import resume_run
from tests.sql.retry_run.helpers import retry_run


def _limits(conn, limits):
    scalar(conn, "SELECT pgflow.set_flow_limits('f', %s)", (Jsonb(limits),))


def _run_options(conn, options):
    conn.execute("SELECT set_config('pgflow.run_options', %s, true)", (json.dumps(options),))


def _failed_run(conn, flow_input, options=None):
    if options is not None:
        _run_options(conn, options)
    run_id = start_flow(conn, "f", flow_input)
    read_and_start(conn, "f", register_worker(conn, "f"))
    fail_task(conn, run_id, "job", 0, "boom")
    assert run_row(conn, run_id)["status"] == "failed"
    return run_id


def _key(conn, run_id):
    return run_row(conn, run_id)["concurrency_key"]


def test_retry_and_resume_keep_the_key_a_python_function_gave(conn):
    define_flow(conn, "f", [("job", [], {})], max_attempts=1)
    _limits(conn, {"max_running_per_key": 1})  # keyed by a function: no path in the limits
    original = _failed_run(conn, {"customer": "ignored"}, {"concurrency_key": "acme"})
    assert _key(conn, original) == "acme"

    assert _key(conn, retry_run(conn, original)) == "acme"
    assert _key(conn, resume_run(conn, original)) == "acme"


def test_a_key_in_the_callers_run_options_wins_over_the_original(conn):
    define_flow(conn, "f", [("job", [], {})], max_attempts=1)
    _limits(conn, {"max_running_per_key": 1})
    original = _failed_run(conn, {}, {"concurrency_key": "acme"})

    _run_options(conn, {"concurrency_key": "globex"})
    assert _key(conn, retry_run(conn, original)) == "globex"


def test_a_path_keyed_flow_takes_the_key_from_the_input_under_the_limits_now_in_force(conn):
    define_flow(conn, "f", [("job", [], {})], max_attempts=1)
    _limits(conn, {"concurrency_key": "customer", "max_running_per_key": 1})
    original = _failed_run(conn, {"customer": "acme", "region": "eu"})
    assert _key(conn, original) == "acme"

    _limits(conn, {"concurrency_key": "region"})
    assert _key(conn, retry_run(conn, original)) == "eu"
    assert _key(conn, resume_run(conn, original)) == "eu"


def test_a_flow_without_per_key_limits_gets_no_key_on_retry(conn):
    define_flow(conn, "f", [("job", [], {})], max_attempts=1)
    original = _failed_run(conn, {"customer": "acme"}, {"concurrency_key": "stale"})
    assert _key(conn, original) == "stale"  # a key the caller gave is stored whatever the limits

    assert _key(conn, retry_run(conn, original)) is None
