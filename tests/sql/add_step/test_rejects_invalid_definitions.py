import psycopg
import pytest

from tests.sql.helpers import add_step, define_flow


def _definition_error(conn, flow, step, deps=(), **options):
    with pytest.raises(psycopg.Error) as caught:
        add_step(conn, flow, step, deps, **options)
    assert caught.value.sqlstate == "PF004", caught.value
    assert caught.value.diag.message_hint
    return caught.value.diag


def test_map_step_with_two_dependencies(conn):
    define_flow(conn, "etl", [("a", []), ("b", [])])
    diag = _definition_error(conn, "etl", "m", ["a", "b"], step_type="map")
    # upstream pgflow's text (tools match on it); the hint says what to do
    assert diag.message_primary == 'Map step "m" can have at most one dependency, but 2 were provided: a, b'


def test_unknown_dependency(conn):
    define_flow(conn, "etl", [("a", [])])
    diag = _definition_error(conn, "etl", "b", ["a", "later"])
    assert "later" in diag.message_primary
    assert "must be defined before the step" in diag.message_hint


def test_dependency_on_itself(conn):
    define_flow(conn, "etl", [("a", [])])
    assert "itself" in _definition_error(conn, "etl", "b", ["b"]).message_primary


@pytest.mark.parametrize("slug", ["run", "2nd", "bad slug", ""])
def test_invalid_step_slug(conn, slug):
    define_flow(conn, "etl", [])
    assert "invalid step slug" in _definition_error(conn, "etl", slug).message_primary


@pytest.mark.parametrize("options", [{"step_type": "loop"}, {"when_unmet": "ignore"}, {"when_exhausted": "retry"},
                                     {"required_input_pattern": [1]}, {"start_delay": -1}, {"timeout": 0}])
def test_invalid_option(conn, options):
    define_flow(conn, "etl", [])
    _definition_error(conn, "etl", "a", **options)


def test_unknown_flow_raises_pf001(conn):
    with pytest.raises(psycopg.Error) as caught:
        add_step(conn, "nope", "a")
    assert caught.value.sqlstate == "PF001"
    assert "create_flow" in caught.value.diag.message_hint
