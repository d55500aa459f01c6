from __future__ import annotations

import pytest

import pgflow
from tests.live.flows import ALL


@pytest.fixture
async def client(db_url):
    """An AsyncClient on a fresh database holding the live tests' flows."""
    async with pgflow.AsyncClient(db_url) as c:
        for flow in ALL:
            await c.compile(flow)
        yield c
