"""One run-id rule: every run id is a version 7 UUID made by the database; short ids are the last
8 characters, and ``pgflow runs show`` / the dashboard take any unique start or end of an id."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

import pgflow
from pgflow.web.app import create_app

from .conftest import Cli, assert_one_line_error


def test_start_flow_sync_makes_a_version_7_id_like_start_flow(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    with pgflow.Client(db_url) as client:
        started = client.start_flow("shop", {"n": 1})
        with pytest.raises(pgflow.RunTimeout) as waited:  # no worker: it times out, the run exists
            client.start_flow_sync("shop", {"n": 1}, timeout=0.1)
        made = client.new_run_id()
    assert started.version == 7 and made.version == 7
    assert uuid.UUID(str(waited.value.run_id)).version == 7


def test_runs_show_takes_the_end_or_start_of_an_id_when_it_is_unique(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    first = uuid.UUID(pgflow_cli("start", "shop", "--input", '{"n": 1}').stdout.strip())
    second = uuid.UUID(pgflow_cli("start", "shop", "--input", '{"n": 2}').stdout.strip())
    shown = pgflow_cli("runs", "show", str(second)[-8:])
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"run {second}  shop")
    assert pgflow_cli("runs", "show", str(first)[:30]).stdout.startswith(f"run {first}  shop")
    # both ids start with the same milliseconds-since-1970: four characters match both runs
    common = str(first)[:4]
    assert str(second).startswith(common)
    assert_one_line_error(pgflow_cli("runs", "show", common), "matches 2 runs", "more characters")
    assert_one_line_error(pgflow_cli("runs", "show", "ffff0000"), "no run id starts or ends with 'ffff0000'")


async def test_the_dashboard_opens_a_run_by_its_short_id(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    run_id = uuid.UUID(pgflow_cli("start", "shop", "--input", '{"n": 1}').stdout.strip())
    with psycopg.connect(db_url) as conn:  # a second run of the same minute
        conn.execute("SELECT pgflow.start_flow('shop', '{\"n\": 2}'::jsonb)")
    app = create_app(db_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            short = str(run_id)[-8:]
            page = await web.get(f"/runs/{short}", follow_redirects=True)
            assert page.status_code == 200 and str(page.url).endswith(f"/runs/{run_id}")
            assert f"Run {short}" in page.text
            assert (await web.get(f"/runs/{str(run_id)[:4]}")).status_code == 404  # both runs match
    finally:
        await app.state.dashboard.close()
