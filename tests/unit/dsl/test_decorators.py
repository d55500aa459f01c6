"""The step, array and map decorators, handler introspection and reading a flow (no database)."""

from __future__ import annotations

import asyncio
import functools

import pytest

import pgflow
from pgflow import Flow, FlowDefinitionError, StepDefinition


def make_order() -> Flow:
    order = Flow("process_order", max_attempts=3, base_delay=5, timeout=60)

    @order.step
    def validate(input, ctx):
        return {"order_id": input["order_id"], "items": input["items"]}

    @order.array(depends_on=[validate])
    def items(deps):
        return deps["validate"]["items"]

    @order.step(depends_on=["validate"])
    def charge(deps, ctx):
        return {"charged": True}

    @order.map(array=items)
    async def pack(item, ctx):
        return {"packed": item}

    @order.step(depends_on=[charge, pack], if_={"vip": True}, when_unmet="skip-cascade")
    def confirm(deps, ctx):
        return {"confirmed": deps["charge"]["charged"]}

    return order


def test_decorators_return_the_plain_function_for_unit_tests():
    flow = Flow("plain")

    def double(input, ctx):
        return input * 2

    assert flow.step(double) is double
    assert double(21, None) == 42
    assert flow.step("double").handler is double


def test_async_handlers_stay_coroutine_functions():
    flow = Flow("async_flow")

    @flow.step
    async def fetch(input):
        return input + 1

    assert asyncio.run(fetch(1)) == 2
    assert flow.step("fetch").is_async
    assert not flow.step("fetch").takes_context


def test_steps_in_definition_order_with_resolved_dependencies():
    order = make_order()
    assert [s.slug for s in order.steps] == ["validate", "items", "charge", "pack", "confirm"]
    assert [s.index for s in order.steps] == [0, 1, 2, 3, 4]
    confirm = order.get_step("confirm")
    assert confirm.depends_on == ("charge", "pack")
    assert confirm.required_input_pattern == {"vip": True}
    assert confirm.when_unmet == "skip-cascade" and confirm.when_exhausted == "fail"
    assert order.get_step("validate").is_root and not confirm.is_root


def test_map_over_a_step_and_over_the_flow_input():
    order = make_order()
    pack = order.step("pack")
    assert (pack.step_type, pack.array, pack.depends_on, pack.is_map) == ("map", "items", ("items",), True)
    assert order.step("items").returns_array and order.step("items").step_type == "single"

    flow = Flow("root_map")

    @flow.map
    def each(item):
        return item

    assert (flow.step("each").array, flow.step("each").depends_on) == (None, ())


def test_depends_on_accepts_function_step_definition_or_slug_and_a_single_value():
    flow = Flow("refs")

    @flow.step
    def a(input):
        return 1

    b = flow.step(lambda input: 2, slug="b")

    @flow.step(depends_on=a)
    def by_function(deps):
        return deps

    @flow.step(depends_on=[flow.step("b")])
    def by_definition(deps):
        return deps

    @flow.step(depends_on="a")
    def by_slug(deps):
        return deps

    @flow.step(depends_on=None)
    def no_deps(input):
        return input

    assert callable(b) and flow.step("no_deps").depends_on == ()
    assert [flow.step(s).depends_on for s in ("by_function", "by_definition", "by_slug")] == [("a",), ("b",), ("a",)]


def test_slug_option_names_the_step_and_the_function_can_serve_two_steps():
    flow = Flow("named")

    def shared(input, ctx):
        return input

    flow.step(shared, slug="first")
    flow.step(shared, slug="second", depends_on=["first"])
    assert flow.step("second").depends_on == ("first",)
    with pytest.raises(FlowDefinitionError, match=r"handler of several steps \(first, second\); depend on one"):
        flow.step(lambda deps: deps, slug="third", depends_on=[shared])


def test_options_are_kept_and_effective_values_fall_back_to_flow_then_database_defaults():
    flow = Flow("opts", max_attempts=4, timeout=30)

    @flow.step(max_attempts=7, base_delay=2, timeout=10, start_delay=0)
    def tuned(input):
        return input

    @flow.step
    def plain(input):
        return input

    t, p = flow.step("tuned"), flow.step("plain")
    assert (t.max_attempts, t.base_delay, t.timeout, t.start_delay) == (7, 2, 10, 0)
    assert (t.effective_max_attempts(flow), t.effective_base_delay(flow), t.effective_timeout(flow)) == (7, 2, 10)
    assert (p.effective_max_attempts(flow), p.effective_base_delay(flow), p.effective_timeout(flow)) == (4, 5, 30)
    bare = Flow("bare")
    bare.step(lambda x: x, slug="s")
    s = bare.step("s")
    assert (s.effective_max_attempts(bare), s.effective_base_delay(bare), s.effective_timeout(bare)) == (3, 5, 60)
    assert flow.options == pgflow.dsl.FlowOptions(max_attempts=4, base_delay=None, timeout=30)


def test_dependents_lists_direct_children_in_order():
    order = make_order()
    assert order.dependents("validate") == ["items", "charge"]
    assert order.dependents("pack") == ["confirm"]
    assert order.dependents("confirm") == []
    with pytest.raises(FlowDefinitionError, match="has no step 'nope'"):
        order.dependents("nope")


def test_lookup_of_a_missing_step_explains_how_to_name_one():
    order = make_order()
    assert "nope" not in order and "pack" in order
    with pytest.raises(FlowDefinitionError, match=r"no step 'nope'.*@process_order.step\(slug='nope'\)"):
        order.step("nope")
    with pytest.raises(FlowDefinitionError, match=r"its steps are: validate, items, charge, pack, confirm"):
        order.get_step("nope")


# --------------------------------------------------------------------------- handler arity


class AsyncCallable:
    async def __call__(self, item, ctx):
        return item


class SyncCallable:
    def __call__(self, item):
        return item


async def async_two(a, b):
    return a


@pytest.mark.parametrize(
    ("handler", "is_async", "takes_context"),
    [
        (lambda input: input, False, False),
        (lambda input, ctx: input, False, True),
        (lambda input, ctx=None: input, False, True),
        (lambda *args: args, False, True),
        (lambda input, *, flag=False: input, False, False),
        (async_two, True, True),
        (functools.partial(async_two, 1), True, False),
        (AsyncCallable(), True, True),
        (SyncCallable(), False, False),
    ],
    ids=["one", "two", "default-ctx", "varargs", "kwonly-default", "async", "partial", "async-obj", "sync-obj"],
)
def test_handler_introspection(handler, is_async, takes_context):
    flow = Flow("arity")
    step = flow.add_step("s", handler)
    assert (step.is_async, step.takes_context) == (is_async, takes_context)


def test_call_handler_passes_ctx_only_when_taken():
    flow = Flow("calls")
    one = flow.add_step("one", lambda input: ("one", input))
    two = flow.add_step("two", lambda input, ctx: ("two", input, ctx))
    assert one.call_handler(1, "ctx") == ("one", 1)
    assert two.call_handler(1, "ctx") == ("two", 1, "ctx")


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (lambda: None, "takes no parameters; a handler takes"),
        (lambda a, b, c: None, r"requires 3 parameters \(a, b, c\)"),
        (lambda a, *, must: None, r"required keyword-only parameters \(must\)"),
        (42, "must take a function|must be callable"),
    ],
    ids=["none", "three", "kwonly", "not-callable"],
)
def test_handler_with_a_wrong_signature_is_rejected(handler, message):
    flow = Flow("bad_arity")
    with pytest.raises(FlowDefinitionError, match=message):
        flow.add_step("s", handler)


def test_generator_handlers_are_rejected():
    flow = Flow("gen")

    def produce(input):
        yield input

    with pytest.raises(FlowDefinitionError, match="generator function; a handler must return"):
        flow.step(produce)


def test_step_definition_is_hashable_and_frozen():
    step = make_order().step("confirm")
    assert isinstance(step, StepDefinition)
    assert hash(step) == hash(step)
    with pytest.raises(AttributeError):
        step.slug = "x"  # type: ignore[misc]
