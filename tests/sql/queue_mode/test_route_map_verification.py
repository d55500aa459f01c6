import psycopg
import pytest

from tests.sql.helpers import compile_flow

STEPS = [("a", []), ("b", ["a"])]


def test_a_route_map_equal_to_the_derived_one_is_accepted(conn):
    routes = [{"stepSlug": "a", "queueName": "f__a"}, {"stepSlug": "b", "queueName": "f__b"}]
    assert compile_flow(conn, "f", STEPS, "step", routes)["status"] == "compiled"


def test_a_route_map_naming_another_queue_is_refused(conn):
    routes = [{"stepSlug": "a", "queueName": "f__a"}, {"stepSlug": "b", "queueName": "f__other"}]
    with pytest.raises(psycopg.Error, match='route map for flow "f" disagrees with the derived route at position 2'):
        compile_flow(conn, "f", STEPS, "step", routes)


def test_a_route_map_of_the_wrong_length_is_refused(conn):
    with pytest.raises(psycopg.Error, match='route map for flow "f" has 1 entries but 2 step'):
        compile_flow(conn, "f", STEPS, "step", [{"stepSlug": "a", "queueName": "f__a"}])


def test_a_flow_mode_route_map_names_the_flows_queue(conn):
    routes = [{"stepSlug": "a", "queueName": "f"}, {"stepSlug": "b", "queueName": "f"}]
    assert compile_flow(conn, "F", STEPS, "flow", [dict(r, queueName="f") for r in routes])["status"] == "compiled"
