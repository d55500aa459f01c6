"""Take the screenshots of the dashboard in docs/screenshots/ (headless Chromium, Playwright).

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/screenshots]

Builds a throwaway database with real runs in every state (the data of the dashboard tests),
a day of earlier history for the charts, and a 100-item map caught half-way, then serves the
dashboard and photographs its main pages, light and dark.
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import psycopg  # noqa: E402
from check_dashboard_scale import throwaway_database  # noqa: E402

from pgflow import Client, migrate  # noqa: E402
from pgflow.db import run_sync  # noqa: E402
from tests.web import flows, seed  # noqa: E402
from tests.web.browser import browser_page, serve  # noqa: E402
from tests.web.conftest import build_scenario  # noqa: E402
from tests.web.driver import Driver  # noqa: E402

ORDER_STEPS = ("fetch", "items", "notify", "save")
# wait until the page has connected to its event stream (or has none, or polls)
LIVE_OR_STATIC = "['live', 'off', 'polling'].includes(document.getElementById('live-status').dataset.state)"


def history(url: str) -> None:
    """A day of earlier runs of the test flows, so the overview's chart has a shape."""
    with psycopg.connect(url) as conn:
        for i in range(240):
            ago = timedelta(minutes=6 * i + 3)
            failed = i % 11 == 0
            if i % 3 == 0:
                status = "failed" if failed else "completed"
                seed.add_run(conn, "send_email", status, started_ago=ago, took=timedelta(seconds=1 + i % 4),
                             states={"send_email": {"status": status, "tasks": [status],
                                                    "error": "RuntimeError: mailbox full" if failed else None}})
                continue
            states = {step: {"status": "completed", "tasks": ["completed"] * (5 if step == "items" else 1)}
                      for step in ORDER_STEPS}
            if failed:
                states["items"] = {"status": "failed", "tasks": ["completed"] * 4 + ["failed"],
                                   "error": "ValueError: item 13 is unlucky"}
                states["save"] = {"status": "created", "remaining_deps": 1}
            seed.add_run(conn, "orders", "failed" if failed else "completed", started_ago=ago,
                         took=timedelta(seconds=2 + i % 7), states=states, input={"n": 5, "notify": True})
        conn.commit()


def half_done_map(url: str) -> str:
    """A run of the 'wide' flow: the split done, 37 of 100 map tasks done, 3 running."""
    with Client(url) as client:
        client.compile(flows.wide)
        run_id = client.start_flow(flows.wide, {"n": 100})
    driver = Driver(url, flows.wide)
    for task in driver.claim():
        driver.finish(task)
    claimed = driver.claim(40)
    for task in claimed[:37]:
        driver.finish(task)
    driver.close()
    return str(run_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--admin-url", default=None)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    url, drop = throwaway_database(args.admin_url)
    try:
        with psycopg.connect(url) as conn, conn.transaction():
            run_sync(conn, migrate.install())
        scenario = build_scenario(url)
        history(url)
        wide_run = half_done_map(url)
        shots = [  # name, path, viewport height
            ("overview", "/", 900), ("runs", "/runs", 760), ("run", f"/runs/{wide_run}", 1180),
            ("run-failed", f"/runs/{scenario.runs['failed']}", 1000), ("flow", "/flows/orders", 1000),
            ("schedule", "/schedules/nightly_email", 760), ("workers", "/workers", 560),
        ]
        with serve(url) as base, browser_page(viewport={"width": 1280, "height": 860}) as page:
            page.goto(base + "/")
            for name, path, height in shots:
                page.set_viewport_size({"width": 1280, "height": height})
                page.goto(base + path)
                page.wait_for_function(LIVE_OR_STATIC)
                page.screenshot(path=str(out / f"{name}.png"))
                if name == "run":
                    page.keyboard.press("d")
                    page.screenshot(path=str(out / "run-dark.png"))
                    page.keyboard.press("d")
    finally:
        drop()
    print(f"screenshots in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
