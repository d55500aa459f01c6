"""Flows for the live tests: maps with a retry, a failure, skipped steps."""

from __future__ import annotations

import pgflow

# split -> double (map, item 2 fails its first attempt) -> total
maps = pgflow.Flow("live_map", max_attempts=3, base_delay=1)


@maps.array
def split(input, ctx):
    return input["items"]


@maps.map(array=split)
def double(item, ctx):
    if item == 2 and ctx.attempt == 1:
        raise RuntimeError("item 2 fails its first attempt")
    return item * 2


@maps.step(depends_on=[double])
def total(deps, ctx):
    return sum(deps["double"])


# a -> b (always fails, 2 attempts) ; a -> c ; b, c -> d (never starts)
failing = pgflow.Flow("live_fail", max_attempts=2, base_delay=1)


@failing.step
def a(input, ctx):
    return {"n": input["n"]}


@failing.step(depends_on=[a])
def b(deps, ctx):
    raise ValueError(f"b cannot handle n={deps['a']['n']}")


@failing.step(depends_on=[a])
def c(deps, ctx):
    return deps["a"]["n"] + 1


@failing.step(depends_on=[b, c])
def d(deps, ctx):
    return "unreachable"


# first -> maybe (condition unmet: skipped) ; first -> flaky (fails, when_exhausted=skip) ; first -> last
skipping = pgflow.Flow("live_skip", max_attempts=1)


@skipping.step
def first(input, ctx):
    return {"go": input["go"]}


@skipping.step(depends_on=[first], if_={"first": {"go": True}})
def maybe(deps, ctx):
    return "ran"


@skipping.step(depends_on=[first], when_exhausted="skip")
def flaky(deps, ctx):
    raise RuntimeError("flaky gives up")


@skipping.step(depends_on=[first])
def last(deps, ctx):
    return deps["first"]["go"]



# big (an output too large for a NOTIFY payload) -> small
large = pgflow.Flow("live_large")


@large.step
def big(input, ctx):
    return "x" * 10_000


@large.step(depends_on=[big])
def small(deps, ctx):
    return len(deps["big"])


ALL = (maps, failing, skipping, large)
