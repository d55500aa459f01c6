"""The dashboard shows a cancelled run as cancelled (a badge), with when and why, on its page and
in the runs list; a run that failed on its own still shows failed."""

from __future__ import annotations

import re

import httpx

import pgflow
from pgflow.web.app import create_app
from tests.web.conftest import html_text


async def test_a_cancelled_run_has_a_cancelled_badge_with_its_reason(db_url: str) -> None:
    flow = pgflow.Flow("cancel_page")

    @flow.step
    def only(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(flow)
        cancelled = client.start_flow(flow, {})
        running = client.start_flow(flow, {})
        client.cancel_run(cancelled, reason="operator <stop>")

    app = create_app(db_url, timezone="UTC")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
        page = html_text(await web.get(f"/runs/{cancelled}"))
        status = page.split('data-testid="run-status">')[1].split("</div>")[0]
        assert "s-cancelled" in status and "cancelled" in status
        assert "operator &lt;stop&gt;" in status  # the reason, escaped
        listing = html_text(await web.get("/runs"))
    rows = dict(re.findall(r'<tr data-run="([0-9a-f-]{36})">(.*?)</tr>', listing, re.S))
    assert "s-cancelled" in rows[str(cancelled)]
    assert "s-cancelled" not in rows[str(running)] and "s-started" in rows[str(running)]
