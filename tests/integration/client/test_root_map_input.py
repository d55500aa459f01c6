"""A flow whose root map step maps the input needs a JSON array: a definition is checked in
Python before any SQL, a slug by start_flow in SQL (upstream pgflow's message)."""

from __future__ import annotations

import psycopg
import pytest

import pgflow

from .conftest import Api


def root_map_flow(slug: str) -> pgflow.Flow:
    flow = pgflow.Flow(slug, max_attempts=1)

    @flow.map
    def items(item):
        return item

    return flow


def run_count(db_url: str, slug: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT count(*) FROM pgflow.runs WHERE flow_slug = %s", (slug,)).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("method", ["start_flow", "enqueue", "start_flow_sync"])
async def test_a_definition_is_checked_in_python_with_a_clear_error(api: Api, db_url: str, method: str) -> None:
    flow = root_map_flow("rootmap_py")
    await api.compile(flow)

    with pytest.raises(pgflow.InvalidInput, match=r"root map step 'items' maps the flow input.*got object.*\[1, 2, 3\]"):
        await getattr(api, method)(flow, {"a": 1})

    assert run_count(db_url, flow.slug) == 0


async def test_a_slug_is_checked_by_start_flow_with_upstreams_message(api: Api, db_url: str) -> None:
    flow = root_map_flow("rootmap_sql")
    await api.compile(flow)

    with pytest.raises(pgflow.InvalidInput, match=r"^Flow rootmap_sql has root map steps but input is not an array \(got string\)"):
        await api.start_flow(flow.slug, "abc")

    assert run_count(db_url, flow.slug) == 0


async def test_a_list_or_tuple_starts_the_run(api: Api, db_url: str) -> None:
    flow = root_map_flow("rootmap_ok")
    await api.compile(flow)

    await api.start_flow(flow, [1, 2])
    await api.start_flow(flow, (3,))

    assert run_count(db_url, flow.slug) == 2
