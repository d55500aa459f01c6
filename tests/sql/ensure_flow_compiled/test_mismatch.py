from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import THREE_STEPS, TWO_STEPS
from tests.sql.helpers import scalar


def test_different_structure_is_a_mismatch_with_differences_and_changes_nothing(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "mismatch"
    assert result["mismatchKind"] == "shape"
    assert result["differences"] == [  # upstream pgflow's texts
        "Step count differs: 3 vs 2",
        "Step at index 1: slug differs 'parse' vs 'save'",
        "Step at index 2: missing in second shape (first has 'save')",
        # the steps' queues are compared too (routes derive from the shape's order)
        "Step routes differ: database has [fetch -> pipeline, save -> pipeline], "
        "worker expects [fetch -> pipeline, parse -> pipeline, save -> pipeline]",
    ]
    assert scalar(conn, "SELECT pgflow._get_flow_shape('pipeline')") == TWO_STEPS
