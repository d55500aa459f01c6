"""Definition-time validation: every invalid definition fails at once with a message saying what to fix."""

from __future__ import annotations

import math

import pytest

from pgflow import Flow, FlowDefinitionError, Job
from pgflow.dsl.validation import is_valid_slug


def handler(input, ctx):
    return input


def flow_with_a() -> Flow:
    flow = Flow("f")
    flow.step(handler, slug="a")
    return flow


@pytest.mark.parametrize(
    ("slug", "valid"),
    [
        ("a", True), ("Step_2", True), ("a1_b2", True), ("x" * 128, True),
        ("", False), ("_x", False), ("x_", False), ("a__b", False), ("abc\n", False), ("2fast", False), ("my-step", False), ("with space", False), ("é", False),
        ("run", False), ("x" * 129, False), (None, False), (5, False),
    ],
)
def test_is_valid_slug_matches_the_sql_rule(slug, valid):
    assert is_valid_slug(slug) is valid


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("my-step", r"invalid slug 'my-step' for a step of flow 'f': a slug starts with a letter.*e.g. to 'my_step'"),
        ("2fast", r"invalid slug '2fast'.*rename it, e.g. to 'fast'"),
        ("_private", r"invalid slug '_private'.*starts with a letter.*e.g. to 'private'"),
        ("fetch__all", r"no \"__\", which pgflow keeps for queue names.*e.g. to 'fetch_all'"),
        ("total_", r"ends with a letter or a digit; rename it, e.g. to 'total'"),
        ("run", r"'run' is reserved and cannot name a step of flow 'f'; pick another name \(e.g. 'run_step'\)"),
        ("x" * 129, r"is 129 characters long; the limit is 128"),
    ],
)
def test_invalid_step_slugs(slug, message):
    with pytest.raises(FlowDefinitionError, match=message):
        Flow("f").step(handler, slug=slug)


def test_an_empty_slug_option_is_not_replaced_by_the_function_name():
    with pytest.raises(FlowDefinitionError, match="invalid slug '' for a step"):
        Flow("f").step(slug="")(handler)


def test_a_function_named_run_must_be_renamed():
    flow = Flow("f")

    def run(input):
        return input

    with pytest.raises(FlowDefinitionError, match="'run' is reserved"):
        flow.step(run)


def test_invalid_flow_slugs_including_the_pgmq_queue_name_limit():
    with pytest.raises(FlowDefinitionError, match=r"invalid slug 'process-order' for a flow"):
        Flow("process-order")
    with pytest.raises(FlowDefinitionError, match=r"invalid slug 'send email' for a job"):
        Job("send email")
    with pytest.raises(FlowDefinitionError, match=r"the limit is 47 \(a flow's slug is its pgmq queue name\)"):
        Flow("f" * 48)
    with pytest.raises(FlowDefinitionError, match="must be a string"):
        Flow(None)  # type: ignore[arg-type]
    assert Flow("f" * 47).slug == "f" * 47


def test_duplicate_step_slug():
    flow = flow_with_a()
    with pytest.raises(FlowDefinitionError, match=r"flow 'f' already has a step named 'a'.*rename the function or pass slug="):
        flow.step(handler, slug="a")


def test_unknown_dependency_names_it_and_lists_known_steps():
    flow = flow_with_a()
    with pytest.raises(
        FlowDefinitionError,
        match=r"step 'b' of flow 'f': depends on unknown step 'missing'; steps defined so far: a\. "
        r"Fix the name, or define 'missing' before 'b'",
    ):
        flow.step(handler, slug="b", depends_on=["a", "missing"])
    assert "b" not in flow  # a failed definition leaves the flow unchanged


def test_a_step_cannot_depend_on_itself():
    with pytest.raises(FlowDefinitionError, match="a step cannot depend on itself"):
        flow_with_a().step(handler, slug="b", depends_on=["b"])


def test_depending_on_a_function_that_is_not_a_step():
    def elsewhere(input):
        return input

    with pytest.raises(FlowDefinitionError, match=r"depends on elsewhere, which is not a step of flow 'f' \(steps defined so far: a\); decorate it with @f.step above 'b'"):
        flow_with_a().step(handler, slug="b", depends_on=[elsewhere])


def test_depending_on_a_step_of_another_flow():
    other = flow_with_a()
    with pytest.raises(FlowDefinitionError, match="depends on step 'a' of another flow"):
        flow_with_a().step(handler, slug="b", depends_on=[other.step("a")])


def test_duplicate_and_malformed_dependencies():
    with pytest.raises(FlowDefinitionError, match="depends on 'a' twice"):
        flow_with_a().step(handler, slug="b", depends_on=["a", "a"])
    with pytest.raises(FlowDefinitionError, match="depends_on must be a list of steps"):
        flow_with_a().step(handler, slug="b", depends_on=42)
    with pytest.raises(FlowDefinitionError, match="cannot depend on 3"):
        flow_with_a().step(handler, slug="b", depends_on=[3])


def test_map_step_takes_one_array_not_depends_on():
    flow = flow_with_a()
    flow.step(handler, slug="b")
    with pytest.raises(FlowDefinitionError, match=r"map step 'm' of flow 'f': a map step fans out over exactly one array.*@f.array"):
        flow.map(handler, slug="m", depends_on=["a", "b"])
    with pytest.raises(FlowDefinitionError, match=r"a map step can have at most one dependency .* got 2: a, b"):
        flow.add_step("m", handler, step_type="map", depends_on=["a", "b"])


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("max_attempts", 0, "max_attempts must be >= 1, got 0"),
        ("base_delay", 0, "base_delay must be >= 1, got 0"),
        ("timeout", 2, "timeout must be >= 3, got 2"),
        ("start_delay", -1, "start_delay must be >= 0, got -1"),
        ("max_attempts", True, "max_attempts must be an integer >= 1 .*got bool True"),
        ("timeout", 2.5, "timeout must be an integer >= 3 .*got float 2.5"),
        ("base_delay", "5", "base_delay must be an integer >= 1 .*got str '5'"),
    ],
)
def test_step_option_ranges(option, value, message):
    with pytest.raises(FlowDefinitionError, match=f"step 'a' of flow 'f': {message}"):
        Flow("f").step(handler, slug="a", **{option: value})


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("max_attempts", 0, "max_attempts must be >= 1"), ("base_delay", False, "not|got bool"), ("timeout", 1, "timeout must be >= 3")],
)
def test_flow_and_job_option_ranges(option, value, message):
    with pytest.raises(FlowDefinitionError, match=f"flow 'f': .*{message}"):
        Flow("f", **{option: value})
    with pytest.raises(FlowDefinitionError, match=f"job 'j': .*{message}"):
        Job("j", **{option: value})


def test_boundary_values_are_accepted():
    flow = Flow("f", max_attempts=1, base_delay=1, timeout=3)
    step = flow.step(handler, slug="a", max_attempts=1, base_delay=1, timeout=3, start_delay=0)
    assert step is handler


@pytest.mark.parametrize("mode", ["when_unmet", "when_exhausted"])
def test_condition_modes(mode):
    with pytest.raises(FlowDefinitionError, match=f"{mode} must be one of 'fail', 'skip', 'skip-cascade', got 'skip_cascade'"):
        Flow("f").step(handler, slug="a", **{mode: "skip_cascade"})
    for value in ("fail", "skip", "skip-cascade"):
        flow = Flow("f")
        flow.step(handler, slug="a", **{mode: value})
        assert getattr(flow.step("a"), mode) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([{"a": 1}], r"if_ must be a JSON object \(a dict such as \{'status': 'active'\}\), got list"),
        ("status=active", "if_ must be a JSON object.*got str"),
        ({"n": math.nan}, r"if_\['n'\] is nan, which JSON cannot hold"),
        ({1: "x"}, r"key 1 in if_ is a int; JSON object keys must be strings"),
        ({"when": {1, 2}}, r"if_\['when'\] is a set .* which is not JSON"),
        ({"deep": {"list": [object]}}, r"if_\['deep'\]\['list'\]\[0\] is a type"),
    ],
)
def test_conditions_must_be_json_objects(value, message):
    with pytest.raises(FlowDefinitionError, match=message):
        Flow("f").step(handler, slug="a", if_=value)


def test_if_not_is_checked_too_and_patterns_are_copied():
    with pytest.raises(FlowDefinitionError, match="if_not must be a JSON object"):
        Flow("f").step(handler, slug="a", if_not=["x"])
    pattern = {"status": "active", "tags": ("a", "b")}
    flow = Flow("f")
    flow.step(handler, slug="a", if_=pattern)
    pattern["status"] = "changed"
    assert flow.step("a").required_input_pattern == {"status": "active", "tags": ["a", "b"]}


def test_unknown_decorator_options_are_named():
    with pytest.raises(FlowDefinitionError, match=r"@f.step\(\) got unknown option\(s\) array; the options are:"):
        Flow("f").step(array="x")(handler)
    with pytest.raises(FlowDefinitionError, match=r"unknown option\(s\) ifNot \(conditions are if_= and if_not=\)"):
        Flow("f").step(ifNot={"a": 1})(handler)


def test_positional_slug_is_a_lookup_not_a_name():
    with pytest.raises(FlowDefinitionError, match=r"looks a step up by slug; to name a new step write @f.step\(slug='x', ...\)"):
        Flow("f").step("x", max_attempts=2)
    with pytest.raises(FlowDefinitionError, match=r"name a map step with slug=: @f.map\(slug='m', array=...\)"):
        Flow("f").map("m")
    with pytest.raises(FlowDefinitionError, match="takes a function, or options as keywords"):
        Flow("f").step(3)


def test_a_handler_without_a_name_needs_slug():
    import functools

    with pytest.raises(FlowDefinitionError, match="cannot take a step name from .*; pass slug="):
        Flow("f").step(lambda input: input)
    with pytest.raises(FlowDefinitionError, match="cannot take a step name"):
        Flow("f").step(functools.partial(lambda a, b: a, 1))
    flow = Flow("f")
    flow.step(functools.partial(handler, ctx=None))  # a partial of a named function takes its name
    assert [s.slug for s in flow.steps] == ["handler"]


def test_step_slugs_differing_only_in_case_are_refused():
    flow = Flow("f")
    flow.step(handler, slug="fetch")
    with pytest.raises(FlowDefinitionError, match="differs from step 'fetch' only in case"):
        flow.step(handler, slug="Fetch")


def test_step_queues_derive_each_steps_queue_as_sql_does():
    flow = Flow("Orders", step_queues=True)
    flow.step(handler, slug="fetch")
    flow.step(handler, slug="a_step_slug_long_enough_to_pass_the_limit", depends_on=["fetch"])
    assert flow.queue_mode == "step"
    assert flow.queue_routes() == [{"stepSlug": "fetch", "queueName": "orders__fetch"},
                                   {"stepSlug": "a_step_slug_long_enough_to_pass_the_limit", "queueName": "orders__1"}]
    assert Flow("plain").queue_mode == "flow"


def test_step_queues_refuse_a_flow_slug_too_long_for_any_step_queue():
    flow = Flow("x" * 45, step_queues=True)
    with pytest.raises(FlowDefinitionError, match="shorten the flow slug"):
        flow.step(handler, slug="a")
