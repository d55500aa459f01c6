from tests.sql.helpers import rows


def test_only_the_four_argument_form_exists_and_two_arguments_reach_it(conn):
    forms = rows(conn, "SELECT pg_get_function_arguments(p.oid) AS args FROM pg_proc AS p "
                       "JOIN pg_namespace AS n ON n.oid = p.pronamespace "
                       "WHERE n.nspname = 'pgflow' AND p.proname = ANY (ARRAY['ensure_flow_compiled', 'start_tasks'])"
                       " ORDER BY p.proname")
    assert forms == [
        {"args": "flow_slug text, shape jsonb, queue_mode text DEFAULT 'flow'::text, route_map jsonb DEFAULT NULL::jsonb"},
        {"args": "flow_slug text, msg_ids bigint[], worker_id uuid, queue_name text, step_slug text DEFAULT NULL::text"},
    ]
    result = rows(conn, """SELECT pgflow.ensure_flow_compiled('two_args', '{"steps": [{"slug": "a"}]}'::jsonb) AS r""")
    assert result[0]["r"]["status"] == "compiled"
