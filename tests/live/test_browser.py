"""The example FastAPI page and pgflow-live.js in headless Chromium (Debian's, via Playwright).

Chromium comes from the Debian package ``chromium`` (never ``playwright install``). Without it
these tests skip on a developer machine and fail under CI=true.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pgflow.live import run_to_dict
from tests.helpers import eventually
from tests.live.scenarios import SCENARIOS, differences, play, without_untracked
from tests.live.sse_client import free_port

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[2]
LIVE_JS = ROOT / "pgflow" / "web" / "static" / "pgflow-live.js"


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = (f"headless Chromium is missing at {CHROMIUM}: install the Debian package "
               f"(apt-get install chromium); the browser tests need it")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
async def browser():
    require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def example_app(db_url, tmp_path):
    """examples/live_fastapi/app.py served by uvicorn in its own process, with its worker."""
    port = free_port()
    output = (tmp_path / "app.log").open("wb")
    env = {**os.environ, "PGFLOW_DATABASE_URL": db_url, "PGFLOW_EXAMPLE_STEP_SECONDS": "0.4"}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.live_fastapi.app:app", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the example app exited: {(tmp_path / 'app.log').read_text()}")
        try:
            return httpx.get(base + "/", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(ready, timeout=30, interval=0.1, message="the example app answers")
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


async def test_the_example_page_shows_a_run_go_from_created_to_completed(browser, example_app, client):
    page = await browser.new_page()
    await page.goto(example_app + "/")
    await page.click("#start")
    await page.wait_for_selector('#run[data-status="completed"]', timeout=30_000)
    statuses = await page.eval_on_selector_all(
        "#steps li", "items => items.map(i => [i.dataset.step, i.dataset.status])")
    assert statuses == [["fetch", "completed"], ["pages", "completed"], ["render", "completed"],
                        ["publish", "completed"]]
    log = await page.eval_on_selector_all("#log li", "items => items.map(i => [i.dataset.step, i.dataset.status])")
    rank = {"created": 0, "started": 1, "completed": 2}
    for step in ("fetch", "pages", "render", "publish"):  # only forward, ending completed
        seen = [s for slug, s in log if slug == step]
        assert seen == sorted(seen, key=rank.__getitem__) and seen[-1] == "completed", log
    assert [s for slug, s in log if slug == "publish"] == ["created", "started", "completed"], log
    assert await page.get_attribute("body", "data-finished") == "completed"
    run_id = (await page.text_content("#run")).split()[1].rstrip(":")
    shown = await page.evaluate("current.run")
    assert differences(shown, run_to_dict(await client.get_run_with_states(run_id))) == []


async def test_the_javascript_client_applies_shuffled_duplicated_events_like_the_database(browser, client, db_url):
    page = await browser.new_page()
    await page.add_script_tag(content=LIVE_JS.read_text(encoding="utf-8"))
    for name in SCENARIOS:
        initial, events, final = await play(client, db_url, name)
        shuffled = [e.raw for e in events] * 2
        random.Random(name).shuffle(shuffled)
        replayed = await page.evaluate(
            "([run, events]) => { events.forEach(e => PgflowLive.applyEvent(run, e)); return run; }",
            [json.loads(json.dumps(run_to_dict(initial))), shuffled])
        assert differences(without_untracked(replayed), without_untracked(run_to_dict(final))) == [], name


async def test_the_javascript_client_follows_a_progress_stream_to_the_final_counts(browser, client, db_url):
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Mount, Route

    from pgflow.web.sse import event_stream
    from tests.live.driver import SqlDriver
    from tests.live.flows import maps
    from tests.live.sse_client import serving

    run_id = await client.start_flow(maps, {"items": list(range(1, 31))})
    page_html = f"<script>{LIVE_JS.read_text(encoding='utf-8')}</script><p>progress</p>"
    app = Starlette(routes=[Route("/", lambda request: HTMLResponse(page_html)),
                            Mount("/pgflow", app=event_stream(client, progress_interval=0.05))])
    async with serving(app) as base:
        page = await browser.new_page()
        await page.goto(base + "/")
        await page.evaluate("""url => { window.changes = []; window.live = PgflowLive.followRun(url, {
            onChange(run, change) { window.changes.push(change.type); },
            onFinished(run, finished) { window.outcome = finished.outcome; } }); }""",
                            f"/pgflow/runs/{run_id}?tasks=progress")
        await page.wait_for_function("window.changes.length > 0")
        async with SqlDriver(db_url, maps) as driver:
            await driver.drain()
        await page.wait_for_function("window.outcome === 'completed'", timeout=30_000)
        run = await page.evaluate("window.live.run")
        changes = await page.evaluate("window.changes")
    counts = {s["step_slug"]: s["task_counts"] for s in run["step_states"]}
    assert counts["double"] == {"completed": 30} and all(s["tasks"] == [] for s in run["step_states"])
    assert "step:progress" in changes and not [c for c in changes if c.startswith("task:")]
