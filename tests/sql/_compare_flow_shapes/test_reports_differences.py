from psycopg.types.json import Jsonb

from tests.sql.helpers import scalar


def _step(slug, deps=(), **extra):
    step = {"slug": slug, "stepType": "single", "dependencies": sorted(deps), "whenUnmet": "skip",
            "whenExhausted": "fail", "requiredInputPattern": {"defined": False},
            "forbiddenInputPattern": {"defined": False}}
    step.update(extra)
    return step


def _compare(conn, code, database):
    return scalar(conn, "SELECT pgflow._compare_flow_shapes(%s, %s)", (Jsonb(code), Jsonb(database)))


def test_equal_shapes_have_no_differences_even_with_other_options(conn):
    code = {"steps": [_step("a", options={"timeout": 5}), _step("b", ["a"])], "options": {"maxAttempts": 2}}
    database = {"steps": [_step("a"), _step("b", ["a"])]}
    assert _compare(conn, code, database) == []


def test_missing_keys_mean_their_defaults(conn):
    code = {"steps": [{"slug": "a", "stepType": "single", "dependencies": []}]}
    assert _compare(conn, code, {"steps": [_step("a")]}) == []


def test_each_structural_difference_is_one_line(conn):
    code = {"steps": [_step("a"), _step("b", ["a"], stepType="map", whenExhausted="skip",
                                        requiredInputPattern={"defined": True, "value": {"x": 1}}),
                      _step("c", ["a", "b"])]}
    database = {"steps": [_step("a"), _step("b", [], whenUnmet="fail")]}
    differences = _compare(conn, code, database)
    assert differences == [  # upstream pgflow's texts (tools match on them)
        "Step count differs: 3 vs 2",
        "Step at index 1: type differs 'map' vs 'single'",
        "Step at index 1: dependencies differ [a] vs []",
        "Step at index 1: whenUnmet differs 'skip' vs 'fail'",
        "Step at index 1: whenExhausted differs 'skip' vs 'fail'",
        """Step at index 1: requiredInputPattern differs '{"value": {"x": 1}, "defined": true}' vs '{"defined": false}'""",
        "Step at index 2: missing in second shape (first has 'c')",
    ]


def test_renamed_step_is_a_slug_difference(conn):
    differences = _compare(conn, {"steps": [_step("a")]}, {"steps": [_step("z")]})
    assert differences == ["Step at index 0: slug differs 'a' vs 'z'"]
