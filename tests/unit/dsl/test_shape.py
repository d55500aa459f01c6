"""flow.shape(): byte for byte what pgflow's TypeScript DSL (extractFlowShape) produces.

The expected strings are JSON.stringify(extractFlowShape(flow)) of the equivalent TypeScript flow.
"""

from __future__ import annotations

import json

import pytest

from pgflow import Flow, Job
from pgflow.dsl.shape import js_number, shape_json

NO_PATTERNS = '"requiredInputPattern":{"defined":false},"forbiddenInputPattern":{"defined":false}'
DEFAULT_MODES = '"whenUnmet":"skip","whenExhausted":"fail"'


def dumps(shape: dict) -> str:
    return json.dumps(shape, separators=(",", ":"))


def h(input, ctx):
    return input


def assert_shape(flow: Flow, expected: str) -> None:
    assert dumps(flow.shape()) == expected
    assert flow.shape_json() == expected
    assert json.loads(expected) == flow.shape()


def test_flow_without_steps_or_options():
    assert_shape(Flow("test_flow"), '{"steps":[]}')


def test_flow_options_only_when_set_in_pgflow_key_order():
    assert_shape(Flow("f", timeout=120, base_delay=10, max_attempts=5),
                 '{"steps":[],"options":{"maxAttempts":5,"baseDelay":10,"timeout":120}}')
    assert_shape(Flow("f", max_attempts=5), '{"steps":[],"options":{"maxAttempts":5}}')


def test_analyze_website_with_options_and_sorted_dependencies():
    flow = Flow("analyze_website", max_attempts=3, base_delay=5, timeout=10)
    flow.step(h, slug="website")
    flow.step(h, slug="sentiment", depends_on=["website"], max_attempts=5, timeout=30)
    flow.step(h, slug="summary", depends_on=["website"])
    flow.step(h, slug="save_to_db", depends_on=["summary", "sentiment"])
    expected = (
        '{"steps":['
        f'{{"slug":"website","stepType":"single","dependencies":[],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"sentiment","stepType":"single","dependencies":["website"],{DEFAULT_MODES},{NO_PATTERNS},'
        '"options":{"maxAttempts":5,"timeout":30}},'
        f'{{"slug":"summary","stepType":"single","dependencies":["website"],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"save_to_db","stepType":"single","dependencies":["sentiment","summary"],{DEFAULT_MODES},{NO_PATTERNS}}}'
        '],"options":{"maxAttempts":3,"baseDelay":5,"timeout":10}}'
    )
    assert_shape(flow, expected)
    # definition order is kept; the handler's dependency order does not matter
    assert flow.step("save_to_db").depends_on == ("summary", "sentiment")


def test_maps_root_and_dependent_with_all_step_options():
    flow = Flow("maps")
    flow.map(h, slug="process_items")
    flow.array(h, slug="get_items", timeout=30, start_delay=100, base_delay=5, max_attempts=3)
    flow.map(h, slug="process", array="get_items")
    expected = (
        '{"steps":['
        f'{{"slug":"process_items","stepType":"map","dependencies":[],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"get_items","stepType":"single","dependencies":[],{DEFAULT_MODES},{NO_PATTERNS},'
        '"options":{"maxAttempts":3,"baseDelay":5,"timeout":30,"startDelay":100}},'
        f'{{"slug":"process","stepType":"map","dependencies":["get_items"],{DEFAULT_MODES},{NO_PATTERNS}}}'
        ']}'
    )
    assert_shape(flow, expected)


def test_conditions_and_modes():
    flow = Flow("test_flow")
    flow.step(h, slug="conditional", if_={"status": "ready"}, if_not={"status": "blocked"},
              when_unmet="skip-cascade", when_exhausted="skip")
    flow.step(h, slug="only_if", depends_on=["conditional"], if_={"conditional": {"ok": True, "n": [1, None]}},
              when_unmet="fail")
    expected = (
        '{"steps":['
        '{"slug":"conditional","stepType":"single","dependencies":[],"whenUnmet":"skip-cascade","whenExhausted":"skip",'
        '"requiredInputPattern":{"defined":true,"value":{"status":"ready"}},'
        '"forbiddenInputPattern":{"defined":true,"value":{"status":"blocked"}}},'
        '{"slug":"only_if","stepType":"single","dependencies":["conditional"],"whenUnmet":"fail","whenExhausted":"fail",'
        '"requiredInputPattern":{"defined":true,"value":{"conditional":{"ok":true,"n":[1,null]}}},'
        '"forbiddenInputPattern":{"defined":false}}'
        ']}'
    )
    assert_shape(flow, expected)


def test_step_zero_start_delay_is_a_defined_option():
    flow = Flow("f")
    flow.step(h, slug="a", start_delay=0)
    assert flow.shape()["steps"][0]["options"] == {"startDelay": 0}


def test_the_issue_example_flow():
    order = Flow("process_order", max_attempts=3, base_delay=5, timeout=60)

    @order.step
    def validate(input, ctx):
        return input

    @order.array(depends_on=[validate])
    def items(deps):
        return deps["validate"]["items"]

    @order.step(depends_on=[validate])
    def charge(deps, ctx):
        return {}

    @order.map(array=items)
    async def pack(item, ctx):
        return item

    @order.step(depends_on=[charge, pack], max_attempts=5, base_delay=10, timeout=120, start_delay=30,
                if_={"vip": True}, when_unmet="skip", when_exhausted="fail")
    def confirm(deps, ctx):
        return None

    expected = (
        '{"steps":['
        f'{{"slug":"validate","stepType":"single","dependencies":[],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"items","stepType":"single","dependencies":["validate"],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"charge","stepType":"single","dependencies":["validate"],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"pack","stepType":"map","dependencies":["items"],{DEFAULT_MODES},{NO_PATTERNS}}},'
        f'{{"slug":"confirm","stepType":"single","dependencies":["charge","pack"],{DEFAULT_MODES},'
        '"requiredInputPattern":{"defined":true,"value":{"vip":true}},"forbiddenInputPattern":{"defined":false},'
        '"options":{"maxAttempts":5,"baseDelay":10,"timeout":120,"startDelay":30}}'
        '],"options":{"maxAttempts":3,"baseDelay":5,"timeout":60}}'
    )
    assert_shape(order, expected)


def test_job_shape_is_a_one_step_flow_and_compile_shape_marks_it():
    job = Job("send_email", max_attempts=5, base_delay=10, timeout=120)
    job.perform(h)
    expected = (
        f'{{"steps":[{{"slug":"send_email","stepType":"single","dependencies":[],{DEFAULT_MODES},{NO_PATTERNS}}}],'
        '"options":{"maxAttempts":5,"baseDelay":10,"timeout":120}}'
    )
    assert_shape(job, expected)
    assert job.compile_shape() == {**json.loads(expected), "flowType": "job"}
    flow = Flow("f")
    assert flow.compile_shape() == flow.shape()


def test_pattern_values_are_written_as_javascript_writes_them():
    flow = Flow("f")
    flow.step(h, slug="a", if_={"b": 1, "10": "ten", "a": 2.0, "2": "two", "01": "x", "name": "Zoë\n", "f": 0.5})
    # JavaScript lists integer-like keys first (numerically), writes 2.0 as 2 and keeps UTF-8 characters
    assert flow.shape_json().split('"requiredInputPattern":')[1].startswith(
        '{"defined":true,"value":{"2":"two","10":"ten","b":1,"a":2,"01":"x","name":"Zoë\\n","f":0.5}}'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.001, "0.001"), (1e-7, "1e-7"), (1.5e-7, "1.5e-7"), (1e-6, "0.000001"), (123.456, "123.456"),
     (1e21, "1e+21"), (2.5e25, "2.5e+25"), (1e20, "100000000000000000000"), (-0.25, "-0.25"), (-0.0, "0"),
     (5e-324, "5e-324"), (0.1 + 0.2, "0.30000000000000004")],
)
def test_js_number_formatting(value, text):
    assert js_number(value) == text
    assert shape_json([value]) == f"[{text}]"
