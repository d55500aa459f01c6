from tests.sql.helpers import compile_flow, scalar


def test_the_same_steps_in_another_queue_mode_are_a_routing_mismatch(conn):
    compile_flow(conn, "f", [("a", [])], "flow")
    result = compile_flow(conn, "f", [("a", [])], "step")
    assert result["status"] == "mismatch"
    assert result["mismatchKind"] == "routing"
    assert result["differences"] == [
        "Queue mode differs: database has 'flow', worker expects 'step'",
        "Step routes differ: database has [a -> f], worker expects [a -> f__a]",
    ]
    assert scalar(conn, "SELECT queue_mode FROM pgflow.flows WHERE flow_slug = 'f'") == "flow"


def test_a_shape_change_is_a_shape_mismatch_even_when_routes_change_too(conn):
    compile_flow(conn, "f", [("a", [])], "step")
    assert compile_flow(conn, "f", [("a", []), ("b", [])], "step")["mismatchKind"] == "shape"
