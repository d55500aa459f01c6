from tests.sql.helpers import rows


def test_registers_a_function_once_and_refreshes_it(conn):
    conn.execute("SELECT pgflow.track_worker_function('resize-images')")
    [first] = rows(conn, "SELECT * FROM pgflow.worker_functions")
    conn.execute("UPDATE pgflow.worker_functions SET enabled = false")
    conn.execute("SELECT pgflow.track_worker_function('resize-images')")
    [again] = rows(conn, "SELECT * FROM pgflow.worker_functions")

    assert first["function_name"] == "resize-images" and first["enabled"] is True
    assert first["start_mode"] == "http"
    assert first["last_invoked_at"] is None  # only a supervisor that calls the function sets it
    assert again["enabled"] is False  # the operator's choice is kept
    assert again["updated_at"] > first["updated_at"]
    assert again["created_at"] == first["created_at"]
