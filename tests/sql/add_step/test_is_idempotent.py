from tests.sql.helpers import define_flow, row, scalar


def test_adding_an_existing_step_returns_it_unchanged(conn):
    define_flow(conn, "etl", [("a", []), ("b", ["a"], {"max_attempts": 4})])
    again = row(conn, "SELECT * FROM pgflow.add_step('etl', 'b', '{a}', max_attempts => 9)")
    assert again["opt_max_attempts"] == 4
    assert again["step_index"] == 1
    assert scalar(conn, "SELECT count(*) FROM pgflow.steps WHERE flow_slug = 'etl'") == 2
    assert scalar(conn, "SELECT count(*) FROM pgflow.deps WHERE flow_slug = 'etl'") == 1
