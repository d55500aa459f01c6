from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import TWO_STEPS
from tests.sql.helpers import scalar


def test_same_structure_is_verified_and_keeps_the_flow(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    created = scalar(conn, "SELECT created_at FROM pgflow.flows WHERE flow_slug = 'pipeline'")
    with_options = {**TWO_STEPS, "options": {"maxAttempts": 9}}
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(with_options),))
    assert result == {"status": "verified", "differences": [], "mismatchKind": None}
    assert scalar(conn, "SELECT opt_max_attempts FROM pgflow.flows WHERE flow_slug = 'pipeline'") == 3
    assert scalar(conn, "SELECT created_at FROM pgflow.flows WHERE flow_slug = 'pipeline'") == created
