"""Fixtures for the client tests: both clients behind one awaitable interface, and flows."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

import pgflow
from pgflow.client import AsyncClient, Client


class Api:
    """Calls a Client (in a thread) or an AsyncClient the same way: ``await api.method(...)``.

    One test body then covers both clients.
    """

    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client
        self.is_async = isinstance(client, AsyncClient)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.is_async:
                return await method(*args, **kwargs)
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@pytest.fixture(params=["sync", "async"])
async def api(request: pytest.FixtureRequest, db_url: str) -> AsyncIterator[Api]:
    if request.param == "sync":
        client = Client(db_url)
        try:
            yield Api(client)
        finally:
            client.close()
    else:
        aclient = AsyncClient(db_url)
        try:
            yield Api(aclient)
        finally:
            await aclient.close()


_names = itertools.count()


def two_step_flow(slug: str | None = None) -> pgflow.Flow:
    """double -> add_one: input {"n": 3} gives {"add_one": 7}."""
    flow = pgflow.Flow(slug or f"two_steps_{next(_names)}", max_attempts=1)

    @flow.step
    def double(input):
        return input["n"] * 2

    @flow.step(depends_on=[double])
    def add_one(deps):
        return deps["double"] + 1

    return flow


def failing_flow(slug: str | None = None) -> pgflow.Flow:
    flow = pgflow.Flow(slug or f"failing_{next(_names)}", max_attempts=1)

    @flow.step
    def explode(input):
        raise RuntimeError("boom: card declined")

    return flow


def echo_job(slug: str | None = None) -> pgflow.Job:
    job = pgflow.Job(slug or f"echo_job_{next(_names)}", max_attempts=2)

    @job.perform
    def echo(input):
        return input

    return job
