from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import TWO_STEPS
from tests.sql.helpers import scalar


def test_missing_flow_is_compiled_from_the_shape(conn):
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    assert result == {"status": "compiled", "differences": [], "mismatchKind": None}
    assert scalar(conn, "SELECT pgflow._get_flow_shape('pipeline')") == TWO_STEPS
