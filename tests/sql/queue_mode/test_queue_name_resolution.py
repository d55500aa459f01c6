import psycopg
import pytest

from tests.sql.helpers import scalar


def test_the_readable_name_is_flow__step_lower_cased(conn):
    assert scalar(conn, "SELECT pgflow._resolve_step_queue_name('Orders', 'Fetch', 0)") == "orders__fetch"


def test_a_name_over_47_characters_falls_back_to_the_step_index(conn):
    flow = "f" * 40
    assert scalar(conn, "SELECT pgflow._resolve_step_queue_name(%s, 'a_long_step_name', 3)", (flow,)) == flow + "__3"


def test_a_flow_slug_too_long_for_any_step_queue_is_refused(conn):
    with pytest.raises(psycopg.Error, match='Flow "x+" cannot use per-step queues.'):
        conn.execute("SELECT pgflow._resolve_step_queue_name(%s, 'a', 0)", ("x" * 45,))


def test_two_steps_resolving_to_one_queue_are_refused(conn):
    # the first step takes the index name of the second by its slug
    flow = "f" * 40
    shape = '{"steps": [{"slug": "1"}, {"slug": "a_step_slug_that_is_too_long"}]}'
    with pytest.raises(psycopg.Error, match="Step slug"):
        conn.execute("SELECT pgflow._derive_queue_routes(%s, %s::jsonb, 'step')", (flow, shape))
