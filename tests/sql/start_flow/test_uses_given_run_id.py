import uuid

from tests.sql.helpers import define_flow, run_row, start_flow


def test_uses_the_run_id_the_caller_chose(conn):
    define_flow(conn, "f", [("a", [])])
    chosen = uuid.uuid4()

    assert start_flow(conn, "f", {}, run_id=chosen) == chosen
    assert run_row(conn, chosen)["flow_slug"] == "f"
