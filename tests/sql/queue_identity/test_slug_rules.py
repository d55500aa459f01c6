import psycopg
import pytest

from tests.sql.helpers import scalar


@pytest.mark.parametrize(("slug", "valid"), [
    ("a", True), ("a1_b2", True), ("Step_2", True), ("_a", False), ("a_", False), ("a__b", False),
    ("1a", False), ("run", False), ("", False), ("x" * 128, True), ("x" * 129, False),
])
def test_is_valid_slug(conn, slug, valid):
    assert scalar(conn, "SELECT pgflow.is_valid_slug(%s)", (slug,)) is valid


@pytest.mark.parametrize("slug", ["_private", "trailing_", "double__underscore"])
def test_create_flow_refuses_a_slug_the_stricter_rule_rejects(conn, slug):
    with pytest.raises(psycopg.Error, match="invalid flow slug") as caught:
        conn.execute("SELECT pgflow.create_flow(%s)", (slug,))
    assert caught.value.sqlstate == "PF004"


def test_the_steps_check_has_upstreams_name_and_checks_the_rule(conn):
    conn.execute("SELECT pgflow.create_flow('f')")
    with pytest.raises(psycopg.errors.CheckViolation, match="steps_step_slug_check"):
        conn.execute("INSERT INTO pgflow.steps (flow_slug, step_slug, queue_name) VALUES ('f', 'a__b', 'f')")


@pytest.mark.parametrize(("name", "valid"), [("f", True), ("f__a", True), ("F", False), ("", False),
                                             ("x" * 47, True), ("x" * 48, False)])
def test_is_valid_queue_name(conn, name, valid):
    assert scalar(conn, "SELECT pgflow.is_valid_queue_name(%s)", (name,)) is valid
