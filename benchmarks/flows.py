"""The flows and jobs the benchmarks run: no-op handlers, so only the engine is measured.

    bench_job       one step (a job)
    bench_tenant_b  the same, a second tenant's flow (flow control's fairness scenario)
    bench_chain     a -> b -> c
    bench_diamond   a -> (b, c) -> d
    bench_map       one map step over the flow input (a list)
    bench_latency   a job whose handler records how long after its enqueue it started

Handlers are ``async def`` (awaited on the worker's loop), as the other systems' no-op handlers are.
"""

from __future__ import annotations

import time

import pgflow

LATENCIES: list[float] = []  # seconds from enqueue to handler start, in the worker process

bench_job = pgflow.Job("bench_job")


@bench_job.perform
async def job_noop(input):  # type: ignore[no-untyped-def]
    return None


bench_tenant_b = pgflow.Job("bench_tenant_b")


@bench_tenant_b.perform
async def tenant_b_noop(input):  # type: ignore[no-untyped-def]
    return None


bench_chain = pgflow.Flow("bench_chain")


@bench_chain.step
async def a(input):  # type: ignore[no-untyped-def]
    return 1


@bench_chain.step(depends_on=[a])
async def b(deps):  # type: ignore[no-untyped-def]
    return 2


@bench_chain.step(depends_on=[b])
async def c(deps):  # type: ignore[no-untyped-def]
    return 3


bench_diamond = pgflow.Flow("bench_diamond")


@bench_diamond.step(slug="top")
async def d_top(input):  # type: ignore[no-untyped-def]
    return 1


@bench_diamond.step(slug="left", depends_on=["top"])
async def d_left(deps):  # type: ignore[no-untyped-def]
    return 2


@bench_diamond.step(slug="right", depends_on=["top"])
async def d_right(deps):  # type: ignore[no-untyped-def]
    return 3


@bench_diamond.step(slug="bottom", depends_on=["left", "right"])
async def d_bottom(deps):  # type: ignore[no-untyped-def]
    return 4


bench_map = pgflow.Flow("bench_map")


@bench_map.map(slug="item")
async def m_item(item):  # type: ignore[no-untyped-def]
    return None


bench_latency = pgflow.Job("bench_latency")


@bench_latency.perform
async def latency_probe(input):  # type: ignore[no-untyped-def]
    LATENCIES.append(time.time() - input["t"])
    return None


FLOWS = {f.slug: f for f in (bench_job, bench_chain, bench_diamond, bench_map, bench_latency, bench_tenant_b)}
TASKS_PER_RUN = {"bench_job": 1, "bench_chain": 3, "bench_diamond": 4, "bench_latency": 1}
