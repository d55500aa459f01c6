import uuid

from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, scalar


def test_starts_the_run_and_returns_it_with_its_step_states(conn):
    define_flow(conn, "f", [("a", []), ("b", ["a"])])
    run_id = uuid.uuid4()

    doc = scalar(conn, "SELECT pgflow.start_flow_with_states('f', %s, %s)", (Jsonb({"n": 1}), run_id))

    assert doc["run"]["run_id"] == str(run_id)
    assert (doc["run"]["status"], doc["run"]["input"]) == ("started", {"n": 1})
    assert [(s["step_slug"], s["status"]) for s in doc["steps"]] == [("a", "started"), ("b", "created")]


def test_run_id_is_optional(conn):
    define_flow(conn, "f", [("a", [])])

    doc = scalar(conn, "SELECT pgflow.start_flow_with_states('f', '{}')")

    assert uuid.UUID(doc["run"]["run_id"])
