"""Flow.from_steps: flows from plain data (runtime definitions), checked like decorated ones."""

from __future__ import annotations

import pytest

from pgflow import Flow, FlowDefinitionError


def test_round_trip_through_upsert_steps_gives_the_same_shape():
    flow = Flow("f", max_attempts=2)
    flow.step(lambda input: input, slug="a", if_={"x": 1}, when_exhausted="skip")
    flow.array(lambda deps: [], slug="b", depends_on=["a"], timeout=9, start_delay=3)
    flow.map(lambda item: item, slug="c", array="b", if_not={"y": False})
    rows = flow.to_upsert_steps()
    assert rows[1] == {"slug": "b", "deps": ["a"], "step_type": "single", "timeout": 9, "start_delay": 3,
                       "when_unmet": "skip", "when_exhausted": "fail"}
    rebuilt = Flow.from_steps("f", rows, max_attempts=2)
    assert rebuilt.shape_json() == flow.shape_json()
    assert all(step.handler is None for step in rebuilt.steps)
    assert rebuilt.step("c").array == "b"


def test_aliases_for_keys():
    flow = Flow.from_steps("f", [{"slug": "a"}, {"slug": "b", "depends_on": ["a"], "if_": {"k": 1}}])
    assert flow.step("b").required_input_pattern == {"k": 1}


def test_step_defined_from_data_cannot_be_called():
    flow = Flow.from_steps("f", [{"slug": "a"}])
    with pytest.raises(FlowDefinitionError, match="has no handler"):
        flow.step("a").call_handler({})


def test_unknown_dependency_lists_all_steps():
    with pytest.raises(FlowDefinitionError, match=r"step 'b' of flow 'f' depends on unknown step 'zz'; the flow's steps are: a, b"):
        Flow.from_steps("f", [{"slug": "a"}, {"slug": "b", "deps": ["zz"]}])


def test_dependency_listed_later_says_define_it_first():
    with pytest.raises(FlowDefinitionError, match=r"step 'a' of flow 'f' depends on 'b', which comes later; define 'b' before 'a'"):
        Flow.from_steps("f", [{"slug": "a", "deps": ["b"]}, {"slug": "b"}])


@pytest.mark.parametrize(
    ("rows", "loop"),
    [
        ([{"slug": "a", "deps": ["b"]}, {"slug": "b", "deps": ["a"]}], "a -> b -> a"),
        ([{"slug": "a", "deps": ["c"]}, {"slug": "b", "deps": ["a"]}, {"slug": "c", "deps": ["b"]}], "a -> c -> b -> a"),
    ],
)
def test_cycles_are_named(rows, loop):
    with pytest.raises(FlowDefinitionError, match=f"flow 'f' has a dependency cycle: {loop} .*remove one of these"):
        Flow.from_steps("f", rows)


def test_self_dependency_and_duplicates():
    with pytest.raises(FlowDefinitionError, match="cannot depend on itself"):
        Flow.from_steps("f", [{"slug": "a", "deps": ["a"]}])
    with pytest.raises(FlowDefinitionError, match=r"lists step 'a' twice \(#0 and #1\)"):
        Flow.from_steps("f", [{"slug": "a"}, {"slug": "a"}])


def test_map_with_two_dependencies():
    with pytest.raises(FlowDefinitionError, match="a map step can have at most one dependency"):
        Flow.from_steps("f", [{"slug": "a"}, {"slug": "b"}, {"slug": "m", "deps": ["a", "b"], "step_type": "map"}])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"slug": "a", "retries": 3}, r"step #0 of flow 'f' has unknown key\(s\) 'retries'; the keys are: slug, deps"),
        ({"deps": []}, "step #0 of flow 'f' has no 'slug'"),
        ("a", "step #0 of flow 'f' must be a dict"),
        ({"slug": "a", "deps": "b"}, "'deps' must be a list of step slugs"),
        ({"slug": "a", "deps": [], "depends_on": []}, "gives 'depends_on' twice"),
        ({"slug": "a", "step_type": "fanout"}, "step_type must be 'single' or 'map', got 'fanout'"),
        ({"slug": "a", "max_attempts": 0}, "max_attempts must be >= 1"),
    ],
)
def test_malformed_rows(row, message):
    with pytest.raises(FlowDefinitionError, match=message):
        Flow.from_steps("f", [row])
