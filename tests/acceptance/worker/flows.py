"""Flows served by ``pgflow worker`` subprocesses in the acceptance tests.

Handlers take their timing from the input, so one definition serves several tests.
"""

from __future__ import annotations

import asyncio
import time

import pgflow

# the README's "done when": three steps with a map of 100
pipeline = pgflow.Flow("pipeline")


@pipeline.array
def numbers(input):
    return list(range(input["n"]))


@pipeline.map(array=numbers)
def square(item):
    return item * item


@pipeline.step(depends_on=[square])
def total(deps):
    return sum(deps["square"])


# one slow task: SIGTERM while it runs, kill -9 while it runs (timeout 3 s: the minimum)
sleepy = pgflow.Job("sleepy", timeout=3, max_attempts=3, base_delay=1)


@sleepy.perform
def nap(input, ctx):
    if ctx.attempt <= input.get("slow_attempts", 1):
        time.sleep(input["seconds"])
    return {"slept": input["seconds"], "attempt": ctx.attempt}


# many small tasks for several workers at once
fanout = pgflow.Flow("fanout")


@fanout.map
async def touch(item):
    await asyncio.sleep(0.002)
    return item


@fanout.step(depends_on=[touch])
def gathered(deps):
    return len(deps["touch"])
