"""Delayed work is not shown as running: "scheduled for ..." / "due at ..." from pgmq's visibility time."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx

import pgflow
from pgflow.web.app import create_app

from .conftest import Cli


async def test_a_run_enqueued_for_later_is_scheduled_not_running(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:mailer").returncode == 0
    later = uuid.UUID(pgflow_cli("enqueue", "mailer", "--in", "1h").stdout.strip())
    now = uuid.UUID(pgflow_cli("start", "mailer").stdout.strip())
    with pgflow.Client(db_url) as client:
        run = client.get_run(later)
        assert run.status == "started" and run.due_at is not None
        assert timedelta(minutes=59) < run.due_at - datetime.now(timezone.utc) <= timedelta(hours=1)
        detailed = client.get_run_with_states(later)
        assert detailed.due_at == run.due_at and detailed.step("mailer").due_at == run.due_at
        assert detailed.step("mailer").tasks[0].due_at == run.due_at
        assert client.get_run(now).due_at is None and client.get_run_with_states(now).due_at is None

    shown = pgflow_cli("runs", "show", str(later))
    assert shown.returncode == 0, shown.stderr
    first = shown.stdout.splitlines()[0]
    assert first.startswith(f"run {later}  mailer  scheduled for "), first
    assert "waiting, due at" in shown.stdout
    assert json.loads(pgflow_cli("runs", "show", str(later), "--json").stdout)["due_at"] is not None
    assert pgflow_cli("runs", "show", str(now)).stdout.splitlines()[0].startswith(f"run {now}  mailer  started")

    app = create_app(db_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            page = (await web.get(f"/runs/{later}")).text
            assert "scheduled for" in page
            assert "scheduled for" not in (await web.get(f"/runs/{now}")).text
    finally:
        await app.state.dashboard.close()
