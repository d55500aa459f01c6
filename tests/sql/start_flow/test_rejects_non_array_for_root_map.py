import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow


@pytest.mark.parametrize("flow_input, json_type", [({"a": 1}, "object"), ("text", "string"), (None, "null")])
def test_root_map_refuses_input_that_is_not_an_array(conn, flow_input, json_type):
    define_flow(conn, "f", [("single", []), ("items", [], {"step_type": "map"})])

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('f', %s)", (Jsonb(flow_input),))

    assert raised.value.sqlstate == "PF003"
    message = raised.value.diag.message_primary
    assert "items" in message and json_type in message
    assert raised.value.diag.message_hint


def test_sql_null_input_is_refused(conn):
    define_flow(conn, "f", [("a", [])])

    with pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT pgflow.start_flow('f', NULL)")

    assert raised.value.sqlstate == "PF003"
