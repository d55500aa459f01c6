"""The flows both workers serve in the compatibility tests: Python definitions (the Python
worker's handlers, the shape both sides compile) and the same handlers written against the
rows a TypeScript worker gets from start_tasks."""

from __future__ import annotations

from typing import Any

import pgflow
from tests.compat.ts_worker import Handler


def root_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.step
    def greet(input):
        return {"hello": input["name"]}

    return flow, {"greet": lambda t: {"hello": t["flow_input"]["name"]}}


def parallel_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    """a -> (b, c) -> d: input {"n": 3} gives {"d": 67}."""
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.step
    def a(input):
        return input["n"] * 2

    @flow.step(depends_on=[a])
    def b(deps):
        return deps["a"] + 1

    @flow.step(depends_on=[a])
    def c(deps):
        return deps["a"] * 10

    @flow.step(depends_on=[b, c])
    def d(deps):
        return deps["b"] + deps["c"]

    return flow, {
        "a": lambda t: t["flow_input"]["n"] * 2,
        "b": lambda t: t["input"]["a"] + 1,
        "c": lambda t: t["input"]["a"] * 10,
        "d": lambda t: t["input"]["b"] + t["input"]["c"],
    }


def map_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    """squares (a root map) -> total: input [1, 2, 3] gives {"total": 14}."""
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.map
    def squares(item):
        return item * item

    @flow.step(depends_on=[squares])
    def total(deps):
        return sum(deps["squares"])

    return flow, {"squares": lambda t: t["input"] * t["input"], "total": lambda t: sum(t["input"]["squares"])}


def condition_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    """base and vip (only for {"vip": true} inputs) -> summary."""
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.step
    def base(input):
        return input["n"]

    @flow.step(if_={"vip": True})
    def vip(input):
        return "gold"

    @flow.step(depends_on=[base, vip])
    def summary(deps):
        return {"base": deps["base"], "vip": deps.get("vip")}

    return flow, {
        "base": lambda t: t["flow_input"]["n"],
        "vip": lambda t: "gold",
        "summary": lambda t: {"base": t["input"]["base"], "vip": t["input"].get("vip")},
    }


def _refuse(item: Any) -> Any:
    if item == 2:
        raise RuntimeError("card declined: 2")
    return item


def failing_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    """charge (a root map; item 2 fails, no retry) next to audit (a root step): the run fails."""
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.map
    def charge(item):
        return _refuse(item)

    @flow.step
    def audit(input):
        return len(input)

    return flow, {"charge": lambda t: _refuse(t["input"]), "audit": lambda t: len(t["flow_input"] or [])}


def _probe(item: Any) -> Any:
    if item == 2:
        raise RuntimeError("probe failed: 2")
    return item


def skip_on_failure_flow(slug: str, **options: Any) -> tuple[pgflow.Flow, dict[str, Handler]]:
    """probe (a root map whose failure skips it: when_exhausted='skip') -> report."""
    flow = pgflow.Flow(slug, max_attempts=1, **options)

    @flow.map(when_exhausted="skip")
    def probe(item):
        return _probe(item)

    @flow.step(depends_on=[probe])
    def report(deps):
        return {"probe": deps.get("probe")}

    return flow, {"probe": lambda t: _probe(t["input"]), "report": lambda t: {"probe": t["input"].get("probe")}}
