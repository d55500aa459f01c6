from tests.sql.helpers import define_flow, row


def test_options_conditions_and_map_type_are_stored(conn):
    define_flow(conn, "etl", [
        ("items", []),
        ("each", ["items"], {"step_type": "map", "max_attempts": 2, "base_delay": 3, "timeout": 10,
                             "start_delay": 7, "required_input_pattern": {"items": [1]},
                             "forbidden_input_pattern": {"skip": True}, "when_unmet": "skip-cascade",
                             "when_exhausted": "skip"}),
    ])
    step = row(conn, "SELECT * FROM pgflow.steps WHERE flow_slug = 'etl' AND step_slug = 'each'")
    assert step["step_type"] == "map"
    assert (step["opt_max_attempts"], step["opt_base_delay"], step["opt_timeout"], step["opt_start_delay"]) == (
        2, 3, 10, 7)
    assert step["required_input_pattern"] == {"items": [1]}
    assert step["forbidden_input_pattern"] == {"skip": True}
    assert (step["when_unmet"], step["when_exhausted"]) == ("skip-cascade", "skip")


def test_duplicate_dependencies_count_once(conn):
    define_flow(conn, "etl", [("a", []), ("b", ["a", "a"])])
    assert row(conn, "SELECT deps_count FROM pgflow.steps WHERE step_slug = 'b'")["deps_count"] == 1
