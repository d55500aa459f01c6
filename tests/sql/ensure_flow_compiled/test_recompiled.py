from psycopg.types.json import Jsonb

from tests.sql.ensure_flow_compiled.shapes import THREE_STEPS, TWO_STEPS
from tests.sql.helpers import scalar


def _local(conn):
    conn.execute("SELECT set_config('app.settings.jwt_secret', "
                 "'super-secret-jwt-token-with-at-least-32-characters-long', true)")


def test_recompiling_deletes_the_old_definition_and_its_messages(conn):
    # since core 0.16 only a local stack recompiles (the allow_data_loss argument is gone;
    # pgflow-py's client.recompile deletes and compiles in one transaction instead)
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    conn.execute("SELECT pgmq.send('pipeline', '{}'::jsonb)")
    _local(conn)
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "recompiled"
    assert result["mismatchKind"] is None
    assert "Step count differs: 3 vs 2" in result["differences"]
    assert scalar(conn, "SELECT pgflow._get_flow_shape('pipeline')") == THREE_STEPS
    assert scalar(conn, "SELECT count(*) FROM pgmq.q_pipeline") == 0


def test_a_local_supabase_stack_recompiles_without_being_asked(conn):
    conn.execute("SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(TWO_STEPS),))
    _local(conn)
    result = scalar(conn, "SELECT pgflow.ensure_flow_compiled('pipeline', %s)", (Jsonb(THREE_STEPS),))
    assert result["status"] == "recompiled"
