import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.helpers import row, rows, scalar


def test_creates_flow_with_options_and_steps_that_round_trip(conn):
    shape = {
        "steps": [
            {"slug": "items", "stepType": "single", "dependencies": [], "whenUnmet": "skip", "whenExhausted": "fail",
             "requiredInputPattern": {"defined": False}, "forbiddenInputPattern": {"defined": False},
             "options": {"timeout": 12, "startDelay": 3}},
            {"slug": "each", "stepType": "map", "dependencies": ["items"], "whenUnmet": "fail",
             "whenExhausted": "skip-cascade", "requiredInputPattern": {"defined": False},
             "forbiddenInputPattern": {"defined": True, "value": {"items": []}}},
        ],
        "options": {"maxAttempts": 2, "baseDelay": 1},
    }
    conn.execute("SELECT pgflow._create_flow_from_shape('shaped', %s)", (Jsonb(shape),))
    flow = row(conn, "SELECT * FROM pgflow.flows WHERE flow_slug = 'shaped'")
    assert (flow["opt_max_attempts"], flow["opt_base_delay"], flow["opt_timeout"]) == (2, 1, 60)
    steps = rows(conn, "SELECT * FROM pgflow.steps WHERE flow_slug = 'shaped' ORDER BY step_index")
    assert (steps[0]["opt_timeout"], steps[0]["opt_start_delay"], steps[1]["forbidden_input_pattern"]) == (
        12, 3, {"items": []})
    expected = {"steps": [{k: v for k, v in s.items() if k != "options"} for s in shape["steps"]]}
    assert scalar(conn, "SELECT pgflow._get_flow_shape('shaped')") == expected


def test_flow_type_extension_marks_a_job(conn):
    conn.execute("""SELECT pgflow._create_flow_from_shape('nightly', '{"flowType": "job", "steps": [{"slug": "run_it"}]}')""")
    assert scalar(conn, "SELECT flow_type FROM pgflow.flows WHERE flow_slug = 'nightly'") == "job"


def test_unknown_flow_type_is_a_definition_error(conn):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("""SELECT pgflow._create_flow_from_shape('odd', '{"flowType": "cron", "steps": []}')""")
    assert caught.value.sqlstate == "PF004"
