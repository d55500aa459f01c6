import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow


@pytest.mark.parametrize("flow_input, json_type", [({"a": 1}, "object"), ("text", "string"), (None, "null"), (7, "number")])
def test_root_map_refuses_input_that_is_not_an_array_with_upstreams_message(conn, flow_input, json_type):
    define_flow(conn, "f", [("single", []), ("items", [], {"step_type": "map"})])

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('f', %s)", (Jsonb(flow_input),))

    assert raised.value.sqlstate == "PF003"
    assert raised.value.diag.message_primary == f"Flow f has root map steps but input is not an array (got {json_type})"
    assert raised.value.diag.message_hint


def test_root_map_refuses_a_sql_null_input_with_upstreams_message(conn):
    define_flow(conn, "f", [("items", [], {"step_type": "map"})])

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('f', NULL)")

    assert raised.value.sqlstate == "PF003"
    assert raised.value.diag.message_primary == "Flow f has root map steps but input is NULL"


def test_sql_null_input_is_refused(conn):
    define_flow(conn, "f", [("a", [])])

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('f', NULL)")

    assert raised.value.sqlstate == "PF003"
    assert "NULL input" in raised.value.diag.message_primary
