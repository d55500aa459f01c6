"""A single step whose non-array output feeds a map fails the run, as with complete_task."""

from tests.sql.complete_tasks.batch import complete_batch
from tests.sql.helpers import define_flow, read_and_start, register_worker, run_row, start_flow, step_state


def test_non_array_output_for_a_dependent_map_fails_the_run(conn):
    define_flow(conn, "fan", [("items", []), ("each", ["items"], {"step_type": "map"})])
    run_id = start_flow(conn, "fan", {})
    claimed = read_and_start(conn, "fan", register_worker(conn, "fan"))
    statuses = complete_batch(conn, claimed, lambda t: {"not": "a list"})
    assert statuses[0]["status"] == "failed"
    assert run_row(conn, run_id)["status"] == "failed"
    assert step_state(conn, run_id, "items")["error_message"].startswith("[TYPE_VIOLATION]")
