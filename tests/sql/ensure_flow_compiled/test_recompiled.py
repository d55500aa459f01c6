from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import THREE_STEPS, TWO_STEPS
from tests.sql.helpers import scalar


def test_allow_data_loss_recompiles_and_deletes_the_old_definition(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    conn.execute("SELECT pgmq.send('pipeline', '{}'::jsonb)")
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s, true)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "recompiled"
    assert "step count differs: 3 in code, 2 in database" in result["differences"]
    assert scalar(conn, "SELECT pgflow._get_flow_shape('pipeline')") == THREE_STEPS
    assert scalar(conn, "SELECT count(*) FROM pgmq.q_pipeline") == 0


def test_a_local_supabase_stack_recompiles_without_being_asked(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    conn.execute("SELECT set_config('app.settings.jwt_secret', "
                 "'super-secret-jwt-token-with-at-least-32-characters-long', true)")
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "recompiled"
