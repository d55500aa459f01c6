""""running" (the dashboard's word) and "started" (the engine's) name the same runs everywhere."""

from __future__ import annotations

import uuid

import httpx

import pgflow
from pgflow.web.app import create_app

from .conftest import Cli


async def test_running_and_started_filter_the_same_runs(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    run_id = uuid.UUID(pgflow_cli("start", "shop", "--input", '{"n": 1}').stdout.strip())
    for word in ("running", "started"):
        listed = pgflow_cli("runs", "list", "--status", word)
        assert listed.returncode == 0 and str(run_id) in listed.stdout, listed.stderr
        with pgflow.Client(db_url) as client:
            assert [r.run_id for r in client.list_runs(status=word)] == [run_id]
    app = create_app(db_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            for word in ("running", "started"):
                page = await web.get("/runs", params={"status": word})
                assert page.status_code == 200 and str(run_id) in page.text
    finally:
        await app.state.dashboard.close()
    async with pgflow.AsyncClient(db_url) as client:
        live = await pgflow.LiveRun.open(client, run_id)
        try:
            assert (await live.wait_for("running", timeout=5)).run_id == run_id
        finally:
            await live.close()
