"""Big flows: at most 1,000 steps (DSL and SQL), a 1,000-step flow pages and prints, layouts of any size."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import psycopg
import pytest

import pgflow
from pgflow.dsl.validation import MAX_STEPS
from pgflow.errors import FlowDefinitionError
from pgflow.web import create_app, dag


def chain(slug: str, length: int) -> pgflow.Flow:
    flow = pgflow.Flow(slug)
    for i in range(length):
        flow.add_step(f"s{i}", None, depends_on=[f"s{i - 1}"] if i else ())
    return flow


def test_the_dsl_refuses_the_step_after_the_thousandth_and_says_what_to_do():
    assert MAX_STEPS == 1_000
    flow = chain("long", MAX_STEPS)
    with pytest.raises(FlowDefinitionError, match="already has 1000 steps.*map step"):
        flow.add_step("one_too_many", None, depends_on=["s999"])
    with pytest.raises(FlowDefinitionError, match="1000 steps"):
        chain("longer", 3_000)


def test_sql_refuses_a_flow_of_more_than_1000_steps_compiled_by_another_tool(conn):
    conn.execute("SELECT pgflow.create_flow('ts_compiled')")
    conn.execute("SELECT pgflow.add_step('ts_compiled', 's' || i, CASE WHEN i = 0 THEN '{}'::text[]"
                 " ELSE ARRAY['s' || (i - 1)] END) FROM generate_series(0, 999) AS i")
    step = conn.execute("SELECT step_index FROM pgflow.add_step('ts_compiled', 's5', ARRAY['s4'])").fetchone()
    assert step[0] == 5  # at the cap, an existing step is still returned unchanged (idempotent)
    with pytest.raises(psycopg.Error) as caught:
        conn.execute("SELECT pgflow.add_step('ts_compiled', 's1000', ARRAY['s999'])")
    assert caught.value.sqlstate == "PF004"
    assert "already has 1000 steps" in str(caught.value) and "map step" in caught.value.diag.message_hint


def test_layouts_of_long_chains_and_wide_fan_outs_place_every_step():
    steps = [{"step_slug": f"s{i}", "deps": [f"s{i - 1}"] if i else []} for i in range(3_000)]
    graph = dag.layout(steps)  # deeper than the recursion limit
    xs = [n.x for n in graph.nodes]
    assert len(xs) == 3_000 and xs == sorted(xs) and len(set(xs)) == 3_000
    fan = ([{"step_slug": "root", "deps": []}] + [{"step_slug": f"f{i}", "deps": ["root"]} for i in range(998)]
           + [{"step_slug": "join", "deps": [f"f{i}" for i in range(998)]}])
    graph = dag.layout(fan)
    assert [len({n.x for n in graph.nodes if n.slug.startswith(p)}) for p in ("root", "f", "join")] == [1, 1, 1]
    assert len({n.y for n in graph.nodes if n.slug.startswith("f")}) == 998


async def test_a_1000_step_flow_page_renders_while_the_overview_still_answers(db_url):
    flow = chain("thousand", MAX_STEPS)
    async with pgflow.AsyncClient(db_url) as client:
        await client.compile(flow)
        app = create_app(client)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as http:
            page, overview = await asyncio.gather(http.get("/flows/thousand"), http.get("/"))
    assert page.status_code == 200 and overview.status_code == 200
    assert all(f">s{i}<" in page.text for i in (0, 500, 999))
    assert int(page.headers["content-length"]) == len(page.content)


def test_flows_show_prints_a_1000_step_chain(db_url):
    with pgflow.Client(db_url) as client:
        client.compile(chain("thousand", MAX_STEPS))
    shown = subprocess.run([sys.executable, "-m", "pgflow", "flows", "show", "thousand", "--database-url", db_url],
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.rstrip().endswith("s999") for line in lines) and "RecursionError" not in shown.stderr
    assert max(len(line) for line in lines) < 400
