"""The dashboard in headless Chromium: pages, links, filters, dark mode, shortcuts, live updates."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pgflow import Client
from tests.web import flows
from tests.web.browser import browser_page, serve
from tests.web.conftest import Scenario, heartbeat
from tests.web.driver import Driver

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def test_pages_open_and_links_lead_through_the_dashboard(scenario: Scenario) -> None:
    with serve(scenario.url) as base, browser_page() as page:
        page.goto(base + "/")
        assert page.title().startswith("Overview")
        nav = page.get_by_role("navigation", name="Dashboard sections")
        nav.get_by_role("link", name="Runs").click()
        page.wait_for_url(base + "/runs")
        page.locator(f'tr[data-run="{scenario.runs["failed"]}"] a.mono').click()
        page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}$"))
        assert page.locator('[data-testid="dag"] g.node[data-step="items"]').get_attribute("data-status") == "failed"
        page.locator(".crumbs").get_by_role("link", name="orders").click()
        page.wait_for_url(base + "/flows/orders")
        page.locator('[data-testid="history-grid"] a.cell.s-skipped').first.click()
        page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}#step-notify$"))
        nav.get_by_role("link", name="Jobs").click()
        page.get_by_role("link", name="send_email").click()
        page.wait_for_url(base + "/jobs/send_email")
        page.get_by_role("link", name="nightly_email").first.click()
        page.wait_for_url(base + "/schedules/nightly_email")
        assert page.get_by_test_id("schedule-description").inner_text() == "every day at 03:00 UTC"
        nav.get_by_role("link", name="Schedules").click()
        assert page.get_by_test_id("schedules-table").is_visible()
        heartbeat(scenario.url, scenario.workers["healthy"])
        nav.get_by_role("link", name="Workers").click()
        page.locator('tr[data-health="healthy"] a.mono').first.click()
        page.wait_for_url(re.compile(r"/workers/[0-9a-f-]{36}$"))
        assert "orders" in page.get_by_test_id("flows-served").inner_text()
        nav.get_by_role("link", name="Flows").click()
        page.wait_for_url(base + "/flows")
        assert page.get_by_test_id("flows-table").is_visible()


def test_filtering_runs_keeps_the_filters_in_the_url(scenario: Scenario) -> None:
    with serve(scenario.url) as base, browser_page() as page:
        page.goto(base + "/runs")
        page.get_by_label("Status").select_option("failed")  # submits by itself
        page.wait_for_url(base + "/runs?status=failed")
        badges = page.locator('[data-testid="runs-table"] tbody .badge').all_inner_texts()
        assert len(badges) == 2 and all("failed" in b for b in badges)
        page.get_by_label("Type").select_option("job")
        page.wait_for_url(base + "/runs?status=failed&type=job")
        rows = page.locator('[data-testid="runs-table"] tbody tr')
        assert rows.count() == 1 and rows.first.get_attribute("data-run") == str(scenario.runs["job_failed"])
        page.get_by_role("link", name="Clear filters").click()
        page.wait_for_url(base + "/runs")
        assert page.locator('[data-testid="runs-table"] tbody tr').count() == len(scenario.runs)


def test_dark_mode_is_remembered_and_shortcuts_navigate(scenario: Scenario) -> None:
    with serve(scenario.url) as base, browser_page() as page:
        page.goto(base + "/")
        html = page.locator("html")
        assert html.get_attribute("data-theme") == "light"
        page.keyboard.press("d")
        assert html.get_attribute("data-theme") == "dark"
        page.reload()
        assert page.locator("html").get_attribute("data-theme") == "dark"
        page.keyboard.press("g")
        page.keyboard.press("r")
        page.wait_for_url(base + "/runs")
        assert page.locator("html").get_attribute("data-theme") == "dark"
        page.get_by_role("button", name="Toggle dark mode").click()
        assert page.locator("html").get_attribute("data-theme") == "light"
        page.keyboard.press("?")
        assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
        page.keyboard.press("Escape")
        assert page.locator("#help").is_hidden()
        for keys, path in (("gw", "/workers"), ("gf", "/flows"), ("go", "/")):
            page.keyboard.press(keys[0])
            page.keyboard.press(keys[1])
            page.wait_for_url(base + path)
        # typing in a form field is not a shortcut
        page.goto(base + "/runs")
        page.get_by_label("From").press("d")
        assert page.locator("html").get_attribute("data-theme") == "light"


def test_a_running_map_updates_live_until_the_run_completes(db_url: str) -> None:
    """A 100-item map, half driven step by step, then finished by a real worker, watched live."""
    with Client(db_url) as client:
        client.compile(flows.wide)
        run_id = client.start_flow(flows.wide, {"n": 100})
    with serve(db_url) as base, browser_page() as page, Driver(db_url, flows.wide) as driver:
        page.goto(f"{base}/runs/{run_id}")
        live = page.locator("#live-status")
        page.wait_for_function("() => document.getElementById('live-status').dataset.state === 'live'")
        page.evaluate("window.__sameDocument = true")  # gone if the page reloads
        split = page.locator('g.node[data-step="split"]')
        work = page.locator('g.node[data-step="work"]')
        assert split.get_attribute("data-status") == "started"
        assert work.get_attribute("data-status") == "created"

        for task in driver.claim():  # split: its output fans the map out to 100 tasks
            driver.finish(task)
        page.wait_for_function(
            "() => document.querySelector('g.node[data-step=\"split\"]').dataset.status === 'completed'")
        page.wait_for_function(
            "() => document.querySelector('g.node[data-step=\"work\"]').dataset.status === 'started'")
        assert "map · 0/100" in work.text_content()

        for task in driver.claim(40):
            driver.finish(task)
        page.wait_for_function(
            "() => document.querySelector('g.node[data-step=\"work\"] text.meta').textContent.includes('40/100')")
        assert page.locator('[data-testid="gantt"] g.row[data-step="work"] rect.bar.running').count() == 1
        assert page.evaluate("window.__sameDocument") is True

        worker = subprocess.Popen(
            [sys.executable, "-m", "pgflow", "worker", "tests.web.flows:wide", "-d", db_url,
             "--shutdown-timeout", "2"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            page.wait_for_function(
                "() => document.querySelector('[data-testid=\"run-status\"] .badge').textContent.includes('completed')",
                timeout=60_000)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                _, err = worker.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                raise
        assert work.get_attribute("data-status") == "completed"
        assert "map · 100/100" in work.text_content()
        assert page.locator('g.node[data-step="total"]').get_attribute("data-status") == "completed"
        assert page.evaluate("window.__sameDocument") is True  # fragments swapped, no reload
        assert live.get_attribute("data-state") == "off"  # the stream ended with the run
        assert worker.returncode == 0, err.decode()


CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
    (e) => window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile));
"""


def test_pages_render_and_their_scripts_run_under_the_content_security_policy(scenario: Scenario) -> None:
    paths = ["/", "/runs", f"/runs/{scenario.runs['failed']}", "/flows", "/flows/orders", "/jobs/send_email",
             "/schedules", "/schedules/nightly_email", "/workers", f"/workers/{scenario.workers['healthy']}"]
    with serve(scenario.url) as base, browser_page() as page:
        page.add_init_script(CSP_WATCH)
        for path in paths:
            response = page.goto(base + path)
            assert response is not None
            csp = response.headers["content-security-policy"]
            assert "script-src 'self' 'sha256-" in csp and "frame-ancestors 'none'" in csp
            assert response.headers["x-frame-options"] == "DENY"
            assert page.locator("html").get_attribute("data-theme") == "light"  # the inline theme script ran
            page.keyboard.press("?")  # dashboard.js runs: the shortcut opens the help
            assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
            page.keyboard.press("Escape")
            assert page.evaluate("window.__csp") == [], path
        page.goto(f"{base}/runs/{scenario.runs['running']}")  # the live stream connects under connect-src
        page.wait_for_function("() => document.getElementById('live-status').dataset.state === 'live'")
        assert page.evaluate("window.__csp") == []
