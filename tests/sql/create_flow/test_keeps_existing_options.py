from tests.sql.helpers import row


def test_second_call_returns_the_existing_flow_unchanged(conn):
    row(conn, "SELECT * FROM pgflow.create_flow('orders', 7, 2, 30)")
    again = row(conn, "SELECT * FROM pgflow.create_flow('orders', 1, 1, 1)")
    assert (again["opt_max_attempts"], again["opt_base_delay"], again["opt_timeout"]) == (7, 2, 30)
    stored = row(conn, "SELECT * FROM pgflow.flows WHERE flow_slug = 'orders'")
    assert stored == again
