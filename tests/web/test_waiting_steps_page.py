"""The run page says what a waiting step waits for: a signal (since, times out at), a sleep (its
wake time), and links a subflow step to its child runs and a child run to its parent."""

from __future__ import annotations

from datetime import timedelta

import httpx

import pgflow
from pgflow.web.app import create_app
from tests.web.conftest import html_text


def _flows() -> tuple[pgflow.Flow, pgflow.Flow]:
    child = pgflow.Flow("page_child")
    child.signal("hold")
    parent = pgflow.Flow("page_parent")
    parent.signal("approval", timeout=timedelta(days=2))
    parent.sleep("nap", duration=timedelta(hours=1))
    parent.subflow(child, slug="sub")
    return child, parent


async def test_waiting_steps_on_the_run_page(db_url: str) -> None:
    child, parent = _flows()
    with pgflow.Client(db_url) as client:
        client.compile(child)
        client.compile(parent)
        run_id = client.start_flow(parent, {})
        [child_run] = [r.run_id for r in client.list_runs("page_child")]

    app = create_app(db_url, timezone="UTC")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
        page = html_text(await web.get(f"/runs/{run_id}"))
        child_page = html_text(await web.get(f"/runs/{child_run}"))
    signal = page.split('data-testid="waiting-signal">')[1].split("</span>")[0]
    assert "waiting for signal 'approval' since" in signal and "times out at" in signal
    assert "sleeping until" in page.split('data-testid="sleeping">')[1].split("</span>")[0]
    assert f'href="/runs/{child_run}"' in page.split('data-testid="child-runs">')[1]
    parent_link = child_page.split('data-testid="parent-run">')[1].split("</p>")[0]
    assert f'href="/runs/{run_id}#step-sub"' in parent_link
