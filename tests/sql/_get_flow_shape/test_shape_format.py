from tests.sql.helpers import define_flow, scalar


def test_shape_lists_steps_in_order_with_sorted_dependencies_and_wrapped_patterns(conn):
    define_flow(conn, "etl", [
        ("b", []), ("a", []),
        ("join", ["b", "a"], {"required_input_pattern": {"a": {"ok": True}}, "when_unmet": "skip-cascade",
                              "when_exhausted": "skip", "max_attempts": 9}),
        ("each", ["join"], {"step_type": "map"}),
    ])
    shape = scalar(conn, "SELECT pgflow._get_flow_shape('etl')")
    absent = {"defined": False}
    assert shape == {"steps": [
        {"slug": "b", "stepType": "single", "dependencies": [], "whenUnmet": "skip", "whenExhausted": "fail",
         "requiredInputPattern": absent, "forbiddenInputPattern": absent},
        {"slug": "a", "stepType": "single", "dependencies": [], "whenUnmet": "skip", "whenExhausted": "fail",
         "requiredInputPattern": absent, "forbiddenInputPattern": absent},
        {"slug": "join", "stepType": "single", "dependencies": ["a", "b"], "whenUnmet": "skip-cascade",
         "whenExhausted": "skip", "requiredInputPattern": {"defined": True, "value": {"a": {"ok": True}}},
         "forbiddenInputPattern": absent},
        {"slug": "each", "stepType": "map", "dependencies": ["join"], "whenUnmet": "skip", "whenExhausted": "fail",
         "requiredInputPattern": absent, "forbiddenInputPattern": absent},
    ]}


def test_unknown_flow_has_no_steps(conn):
    assert scalar(conn, "SELECT pgflow._get_flow_shape('nope')") == {"steps": []}
