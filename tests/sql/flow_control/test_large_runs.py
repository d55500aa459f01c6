"""The prioritized and per-key reads take a run's oldest queued tasks without visiting the rest.

Both reads offer each candidate run's first queued tasks in message order. Ordering a run's
queued tasks as a whole visited every one of them at every claim, so draining a large map in a
prioritized run or under a per-key limit grew with the square of its size (a 30,000-item map:
17 s prioritized and 21 s keyed, against 5.5 s without either). Each step's queued tasks now
come in order from idx_step_tasks_queued (pgflow._queued_in_order). These tests count the
buffers one claim of 10 touches with 5,000 of a map's tasks done and 5,000 queued (inside the
test's transaction, where foreign keys are checked again on every claimed task: about a
thousand); the prioritized read visiting every queued task touched 16,000. The per-key read
happened to get a cheap plan here even before (its runs are read a key's free slots at a time);
its test holds it to the same bound.

Each case runs twice: on tables never analysed, and on tables vacuumed and analysed while empty
(what autovacuum leaves in a quiet database). In the second state the claim's check that a
task's run and step are started was planned as a join starting from the run, which read all of
the run's tasks for each message: 150,000 buffers for the same claim.
"""

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import complete_task, define_flow, register_worker, start_flow

ITEMS = 10_000
BOUND = 1500


def claim_buffers(conn, worker_id):
    """(tasks claimed, shared buffers touched) of one claim_tasks call of 10."""
    (plan,) = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM pgflow.claim_tasks('f', 10, %s)",
                           (worker_id,)).fetchone()[0]
    started = conn.execute("SELECT count(*) FROM pgflow.step_tasks WHERE flow_slug = 'f' AND status = 'started'"
                           ).fetchone()[0]
    return started, plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"]


def large_map(conn, **run_options):
    """A run of flow f whose map step 'each' has ITEMS tasks (its 'items' step done)."""
    define_flow(conn, "f", [("items", []), ("each", ["items"], {"step_type": "map"})])
    if run_options:
        conn.execute("SELECT set_config('pgflow.run_options', %s::text, true)", (Jsonb(run_options),))
    run_id = start_flow(conn, "f", {"customer": "acme"})
    worker_id = register_worker(conn, "f")
    claim_buffers(conn, worker_id)  # the 'items' task
    complete_task(conn, run_id, "items", 0, list(range(ITEMS)))
    return worker_id


def half_done(conn, worker_id):
    """Claim and complete the first half of the map's tasks: the rest stays queued behind them."""
    conn.execute("SELECT count(*) FROM pgflow.claim_tasks('f', %s, %s)", (ITEMS // 2, worker_id))
    conn.execute("SELECT pgflow.complete_tasks(array_agg(run_id), array_agg(step_slug), array_agg(task_index), "
                 "array_agg('null'::jsonb)) FROM pgflow.step_tasks WHERE flow_slug = 'f' AND status = 'started'")


@pytest.fixture(params=["never analysed", "analysed while empty"])
def fresh(db_url, request):
    """A connection, in a transaction, to a fresh database in either statistics state."""
    if request.param == "analysed while empty":
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("VACUUM ANALYZE pgflow.runs, pgflow.step_states, pgflow.step_tasks")
    with psycopg.connect(db_url) as conn:
        yield conn


def test_a_prioritized_large_map_is_read_from_its_first_tasks(fresh):
    worker_id = large_map(fresh, priority=5)
    half_done(fresh, worker_id)
    claim_buffers(fresh, worker_id)
    started, buffers = claim_buffers(fresh, worker_id)
    assert started == 20
    assert buffers < BOUND, f"a claim of 10 beside {ITEMS} queued tasks touched {buffers} buffers"


def test_a_keyed_large_map_is_read_from_its_first_tasks(fresh):
    worker_id = large_map(fresh)
    fresh.execute("SELECT pgflow.set_flow_limits('f', %s)",
                  (Jsonb({"concurrency_key": "customer", "max_running_per_key": 1000}),))
    half_done(fresh, worker_id)
    claim_buffers(fresh, worker_id)
    started, buffers = claim_buffers(fresh, worker_id)
    assert started == 20
    assert buffers < BOUND, f"a claim of 10 beside {ITEMS} queued tasks touched {buffers} buffers"
