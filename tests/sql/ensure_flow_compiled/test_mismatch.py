from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import THREE_STEPS, TWO_STEPS
from tests.sql.helpers import scalar


def test_different_structure_is_a_mismatch_with_differences_and_changes_nothing(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "mismatch"
    assert result["differences"] == [
        "step count differs: 3 in code, 2 in database",
        'step 1 "parse": slug "parse" in code, "save" in database',
        'step 2: "save" exists only in code',
    ]
    assert scalar(conn, "SELECT pgflow._get_flow_shape('pipeline')") == TWO_STEPS
