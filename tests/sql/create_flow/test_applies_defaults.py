from tests.sql.helpers import row


def test_null_options_become_3_attempts_5_s_delay_60_s_timeout(conn):
    flow = row(conn, "SELECT * FROM pgflow.create_flow('orders')")
    assert (flow["flow_slug"], flow["opt_max_attempts"], flow["opt_base_delay"], flow["opt_timeout"]) == (
        "orders", 3, 5, 60)
    assert flow["flow_type"] == "flow"
