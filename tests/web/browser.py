"""Serve the dashboard with uvicorn on a free local port, and drive it with headless Chromium."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from pgflow.web import create_app
from tests.web.conftest import chromium_or_fail

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def serve(url: str, **options: Any) -> Iterator[str]:
    """The dashboard on http://127.0.0.1:<free port>; stopped (its thread joined) afterwards."""
    app = create_app(url, **options)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the dashboard server did not start within 20 s")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
        assert not thread.is_alive(), "the dashboard server did not stop within 20 s"


@contextmanager
def browser_page(**context: Any) -> Iterator[Any]:
    """A Playwright page in Debian's Chromium; JavaScript errors and failed requests fail the test."""
    executable = chromium_or_fail()
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context})
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
            page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error" else None)
            yield page
        finally:
            browser.close()
    assert errors == [], errors
