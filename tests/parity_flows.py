"""Flows run both inline (``pgflow.testing.run_inline``) and on the real engine by the parity test.

Each :class:`Case` is a flow and one input. Handlers are deterministic, also across retries
(they decide by ``ctx.attempt``), so both sides must reach the same statuses and outputs. Flows
whose run fails keep the failing step on a single path: on the engine, parallel branches of a
failed run stop wherever they were, which the inline runner cannot (and need not) mirror.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


import pgflow

FAST = {"base_delay": 1}  # base_delay's minimum; a first retry waits 2 s on the engine


@dataclass(frozen=True)
class Case:
    name: str
    flow: pgflow.Flow
    input: Any


def boom(message: str) -> None:
    raise RuntimeError(message)


# --- shapes: chain, diamond ---------------------------------------------------------------------

chain = pgflow.Flow("parity_chain", **FAST)


@chain.step
def first(input):
    return {"n": input["n"] + 1}


@chain.step(depends_on=[first])
async def second(deps):
    await asyncio.sleep(0)
    return deps["first"]["n"] * 10


@chain.step(depends_on=[second])
def third(deps, ctx):
    return {"total": deps["second"], "input": ctx.flow_input, "step": ctx.step_slug, "attempt": ctx.attempt}


diamond = pgflow.Flow("parity_diamond", **FAST)


@diamond.step
def top(input):
    return input["x"]


@diamond.step(depends_on=[top])
def left(deps):
    return deps["top"] + 1


@diamond.step(depends_on=[top])
def right(deps):
    return deps["top"] * 2


@diamond.step(depends_on=[left, right])
def bottom(deps):
    return sorted(deps.items())


# jsonb keeps object keys shortest first (then bytewise), not in insertion order: handlers see them so
key_order = pgflow.Flow("parity_key_order", **FAST)


@key_order.step
def a_long_step_name(input):
    return {"zeta": 1, "é": 2, "b": 3, "aa": 4, "a": {"yy": 1, "x": 2}}


@key_order.step
def z(input):
    return list(input)


@key_order.step(depends_on=[a_long_step_name, z])
def orders(deps, ctx):
    return {"deps": list(deps), "output": list(deps["a_long_step_name"]),
            "nested": list(deps["a_long_step_name"]["a"]), "input": list(ctx.flow_input)}


# The flow input in a handler's context: a root single step's task carries it, sync handlers
# load it with ctx.flow_input, async ones must await ctx.get_flow_input(). (A worker also caches
# the input of the runs whose root single step it ran, so ctx.flow_input may work in an async
# handler there too; flows without a root single step show the contract.)
flow_input = pgflow.Flow("parity_flow_input", max_attempts=1, **FAST)


@flow_input.step
async def root_reads(input, ctx):
    return ctx.flow_input[0]


flow_input_map = pgflow.Flow("parity_flow_input_map", max_attempts=1, **FAST)


@flow_input_map.map
async def map_item(item, ctx):
    return [item, ctx.task_index]


@flow_input_map.step(depends_on=[map_item], when_exhausted="skip")
async def async_reads(deps, ctx):
    return ctx.flow_input  # the first to need the input, in an async handler: the task fails


@flow_input_map.step(depends_on=[async_reads])
def sync_reads(deps, ctx):
    return ctx.flow_input


@flow_input_map.step(depends_on=[sync_reads])
async def async_awaits(deps, ctx):
    return {"deps": deps, "input": await ctx.get_flow_input()}


# --- maps -----------------------------------------------------------------------------------------

mapped = pgflow.Flow("parity_map", **FAST)


@mapped.array
def numbers(input):
    return list(range(input["n"]))


@mapped.map(array=numbers)
def square(item, ctx):
    return {"i": ctx.task_index, "sq": item * item}


@mapped.step(depends_on=[square])
def total(deps):
    return sum(x["sq"] for x in deps["square"])


root_map = pgflow.Flow("parity_root_map", **FAST)


@root_map.map
def shout(item):
    return str(item).upper()


@root_map.map(array=shout)
def exclaim(item):
    return item + "!"


@root_map.step(depends_on=[exclaim])
def joined(deps, ctx):
    return {"text": " ".join(deps["exclaim"]), "count": len(ctx.flow_input)}


# --- falsy outputs --------------------------------------------------------------------------------

falsy = pgflow.Flow("parity_falsy", **FAST)


@falsy.step
def zero(input):
    return 0


@falsy.step
def false(input):
    return False


@falsy.step
def empty_string(input):
    return ""


@falsy.step
def null(input):
    return None


@falsy.step
def one_not_true(input):
    return {"one": 1, "true": True, "float": 1.0, "big": 1e20, "bigger": 1.5e300, "small": 1e-7, "tenth": 0.1}


@falsy.step
def empty_list(input):
    return []


@falsy.step(depends_on=[zero, false, empty_string, null])
def seen(deps):
    return {k: [v, type(v).__name__] for k, v in sorted(deps.items())}


@falsy.map(array=empty_list)
def never(item):
    raise AssertionError("a map over [] has no tasks")


@falsy.step(depends_on=[never])
def after_never(deps):
    return deps


falsy_map = pgflow.Flow("parity_falsy_map", **FAST)


@falsy_map.map
def identity(item):
    return item


@falsy_map.step(depends_on=[identity])
def kinds(deps):
    return [type(v).__name__ for v in deps["identity"]]


# --- conditions -----------------------------------------------------------------------------------


def condition_flow(slug: str, when_unmet: str) -> pgflow.Flow:
    """classify -> vip_only (if_ kind=vip, when_unmet) -> after_vip; classify -> regular."""
    flow = pgflow.Flow(slug, **FAST)

    @flow.step
    def classify(input):
        return {"kind": input["kind"], "flag": False}

    @flow.step(depends_on=[classify], if_={"classify": {"kind": "vip"}}, when_unmet=when_unmet)
    def vip_only(deps):
        return "gift"

    @flow.step(depends_on=[vip_only])
    def after_vip(deps):
        return {"got": deps}

    @flow.step(depends_on=[classify], if_not={"classify": {"kind": "vip"}})
    def regular(deps):
        return "offer"

    # a falsy value never matches a pattern of another JSON type (false is not 0)
    @flow.step(depends_on=[classify], if_={"classify": {"flag": 0}})
    def flag_is_zero(deps):
        return "never"

    return flow


condition_skip = condition_flow("parity_cond_skip", "skip")
condition_cascade = condition_flow("parity_cond_cascade", "skip-cascade")
condition_fail = condition_flow("parity_cond_fail", "fail")

root_condition = pgflow.Flow("parity_root_condition", **FAST)


@root_condition.step(if_={"go": True})
def gated(input):
    return "ran"


@root_condition.step(if_not={"go": True}, when_unmet="skip-cascade")
def ungated(input):
    return "ran"


@root_condition.step(depends_on=[ungated])
def below_ungated(deps):
    return deps


@root_condition.step(depends_on=[gated, ungated])
def sees_both(deps):
    return sorted(deps)


# jsonb containment (@>) of every kind of pattern, matched against one input
PATTERN_INPUT = {"a": 1, "b": [1, [2, 3], {"x": 1, "y": 2}], "c": {"d": None, "e": 1.5}, "t": True, "s": "x"}
PATTERNS = [
    {"a": 1.0}, {"a": True}, {"a": "1"}, {"b": [1]}, {"b": [[2]]}, {"b": [2]}, {"b": [{}]}, {"b": [{"x": 1}]},
    {"b": [{"x": 2}]}, {"b": []}, {"b": 1}, {"c": {"d": None}}, {"c": {"e": 1.5}}, {"c": {}}, {"c": {"f": None}},
    {"t": 1}, {"t": True}, {"s": ["x"]}, {"missing": None}, {"a": 1, "t": True}, {"a": 1, "t": False},
]
patterns = pgflow.Flow("parity_patterns", **FAST)
for i, pattern in enumerate(PATTERNS):
    patterns.add_step(f"if_{i}", lambda input: "met", if_=pattern)
    patterns.add_step(f"if_not_{i}", lambda input: "met", if_not=pattern)

# Conditions are settled as soon as a step is ready, before any handler runs: the gate fails the
# run at its start, and the first step's handler never runs.
gate_first = pgflow.Flow("parity_gate_first", max_attempts=1, **FAST)


@gate_first.step
def side_effect(input):
    boom("never runs: the run failed at its start")


@gate_first.step(if_={"allowed": True}, when_unmet="fail")
def gate(input):
    return "open"


@gate_first.step(depends_on=[side_effect])
def later_gate_parent(deps):
    return deps


skipped_source = pgflow.Flow("parity_skipped_source", **FAST)


@skipped_source.array(if_not={"skip": True})
def items(input):
    return input["items"]


@skipped_source.map(array=items)
def each_item(item):
    return item * 3


@skipped_source.step(depends_on=[each_item])
def counted(deps):
    return len(deps["each_item"])


# a map step's condition sees {array_step: [...]}
@skipped_source.map(array=items, if_={"items": [2]})
def only_with_two(item):
    return -item


# --- retries and exhaustion -----------------------------------------------------------------------

retried = pgflow.Flow("parity_retry", max_attempts=3, **FAST)


@retried.step
def flaky(input, ctx):
    if ctx.attempt < 2:
        boom(f"attempt {ctx.attempt} fails")
    return {"attempt": ctx.attempt}


@retried.array(depends_on=[flaky])
def retry_items(deps):
    return [1, 2, 3]


@retried.map(array=retry_items)
def flaky_item(item, ctx):
    if item == 2 and ctx.attempt == 1:
        boom("item 2 fails once")
    return item * 100


def exhausted_flow(slug: str, when_exhausted: str) -> pgflow.Flow:
    """start -> doomed (always fails, 2 attempts, when_exhausted) -> below; start -> beside."""
    flow = pgflow.Flow(slug, **FAST)

    @flow.step
    def start(input):
        return input

    @flow.step(depends_on=[start], max_attempts=2, when_exhausted=when_exhausted)
    def doomed(deps, ctx):
        boom(f"doomed attempt {ctx.attempt}")

    @flow.step(depends_on=[doomed, start])
    def below(deps):
        return sorted(deps)

    @flow.step(depends_on=[below])
    def bottom_line(deps):
        return deps

    return flow


exhausted_fail = exhausted_flow("parity_exhaust_fail", "fail")
exhausted_skip = exhausted_flow("parity_exhaust_skip", "skip")
exhausted_cascade = exhausted_flow("parity_exhaust_cascade", "skip-cascade")

exhausted_map = pgflow.Flow("parity_exhaust_map", max_attempts=1, **FAST)


@exhausted_map.map(when_exhausted="skip")
def picky(item):
    if item < 0:
        boom(f"negative item {item}")
    return item


@exhausted_map.step(depends_on=[picky])
def after_picky(deps):
    return deps


exhausted_source = pgflow.Flow("parity_exhaust_source", max_attempts=1, **FAST)


@exhausted_source.array(when_exhausted="skip")
def broken_source(input):
    boom("no items today")


@exhausted_source.map(array=broken_source)
def fed_by_broken(item):
    return item


@exhausted_source.step(depends_on=[fed_by_broken])
def after_broken(deps):
    return deps


unserialisable = pgflow.Flow("parity_unserialisable", max_attempts=2, **FAST)


@unserialisable.step
def returns_a_set(input):
    return {1, 2}


timed_out = pgflow.Flow("parity_timeout", max_attempts=1, timeout=3, **FAST)


@timed_out.step(when_exhausted="skip")
async def too_slow(input):
    await asyncio.sleep(60)


@timed_out.step(depends_on=[too_slow])
def after_too_slow(deps):
    return deps


# --- a map fed a non-array ------------------------------------------------------------------------

type_violation = pgflow.Flow("parity_type_violation", max_attempts=3, **FAST)


@type_violation.step
def not_a_list(input):
    return input["value"]


@type_violation.map(array=not_a_list, when_exhausted="skip")
def mapped_over(item):
    return item


@type_violation.step(depends_on=[mapped_over])
def after_mapped(deps):
    return deps


# --- start_delay, job -------------------------------------------------------------------------------

delayed = pgflow.Flow("parity_delayed", **FAST)


@delayed.step
def now(input):
    return "now"


@delayed.step(depends_on=[now], start_delay=1)
def later(deps):
    return deps["now"] + " and later"


job = pgflow.Job("parity_job", max_attempts=2, **FAST)


@job.perform
def perform(input, ctx):
    if ctx.attempt == 1 and input.get("flaky"):
        boom("the job fails once")
    return {"sent_to": input["to"], "attempt": ctx.attempt}


failing_job = pgflow.Job("parity_failing_job", max_attempts=1, **FAST)


@failing_job.perform
def perform_and_fail(input):
    raise ValueError(f"cannot send to {input['to']}")


CASES = [
    Case("chain", chain, {"n": 1}),
    Case("diamond", diamond, {"x": 3}),
    Case("flow_input_of_root_step", flow_input, ["t1"]),
    Case("flow_input_in_context", flow_input_map, ["a", "b"]),
    Case("object_key_order", key_order, {"long_key": 1, "k": 2, "é": 3, "ab": 4}),
    Case("map", mapped, {"n": 4}),
    Case("map_empty", mapped, {"n": 0}),
    Case("root_map", root_map, ["a", "b", 3]),
    Case("root_map_empty", root_map, []),
    Case("falsy_outputs", falsy, {}),
    Case("falsy_map_items", falsy_map, [0, False, "", None, [], {}]),
    Case("when_unmet_skip", condition_skip, {"kind": "regular"}),
    Case("when_unmet_skip_met", condition_skip, {"kind": "vip"}),
    Case("when_unmet_skip_cascade", condition_cascade, {"kind": "regular"}),
    Case("when_unmet_fail", condition_fail, {"kind": "regular"}),
    Case("when_unmet_fail_met", condition_fail, {"kind": "vip"}),
    Case("condition_patterns", patterns, PATTERN_INPUT),
    Case("condition_fails_before_handlers", gate_first, {"allowed": False}),
    Case("root_condition_met", root_condition, {"go": True}),
    Case("root_condition_unmet", root_condition, {"go": False}),
    Case("condition_skips_map_source", skipped_source, {"items": [1, 2], "skip": True}),
    Case("condition_runs_map_source", skipped_source, {"items": [1, 2]}),
    Case("retry_then_succeed", retried, None),
    Case("when_exhausted_fail", exhausted_fail, {"k": 1}),
    Case("when_exhausted_skip", exhausted_skip, {"k": 1}),
    Case("when_exhausted_skip_cascade", exhausted_cascade, {"k": 1}),
    Case("when_exhausted_skip_map_task", exhausted_map, [3, -1, 4]),
    Case("when_exhausted_skip_map_source", exhausted_source, {}),
    Case("unserialisable_output", unserialisable, {}),
    Case("async_timeout", timed_out, {}),
    Case("type_violation_string", type_violation, {"value": "abc"}),
    Case("type_violation_null", type_violation, {"value": None}),
    Case("map_fed_an_array", type_violation, {"value": [1, [2]]}),
    Case("start_delay", delayed, {}),
    Case("job", job, {"to": "ada"}),
    Case("job_retried", job, {"to": "bob", "flaky": True}),
    Case("job_failing", failing_job, {"to": "eve"}),
]

# Inputs the engine refuses at start_flow; run_inline must refuse them with the same error class.
REFUSED = [
    Case("root_map_object_input", root_map, {"not": "a list"}),
    Case("root_map_null_input", root_map, None),
    Case("input_not_json", chain, {"n": float("nan")}),
    Case("input_with_nul_character", chain, {"n": 1, "text": "a\x00b"}),
    Case("input_with_lone_surrogate", chain, {"n": 1, "text": "a\ud800b"}),
]

FLOWS = list({id(c.flow): c.flow for c in CASES}.values())
