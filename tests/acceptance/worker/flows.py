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


# cancel_run while these run: an async handler that would sleep for a long time, and a sync one
# that polls ctx.cancelled (it writes what it saw where the test reads it: the input's file)
long_async = pgflow.Job("long_async", timeout=120)


@long_async.perform
async def wait_long(input, ctx):
    try:
        await asyncio.sleep(input["seconds"])
    except asyncio.CancelledError:
        with open(input["file"], "w") as out:
            out.write("CancelledError")
        raise
    return {"slept": input["seconds"]}


polling_sync = pgflow.Job("polling_sync", timeout=120)


@polling_sync.perform
def poll_cancelled(input, ctx):
    deadline = time.monotonic() + input["seconds"]
    while time.monotonic() < deadline:
        if ctx.cancelled:
            with open(input["file"], "w") as out:
                out.write("ctx.cancelled")
            ctx.raise_if_cancelled()
        time.sleep(0.05)
    return {"polled": input["seconds"]}
