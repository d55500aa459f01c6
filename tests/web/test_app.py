"""Serving the dashboard: auth hook, exposure warning, mounting, time zone, read-only, errors."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import psycopg
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Mount

from pgflow import Client, ConfigurationError
from pgflow.db import Query
from pgflow.web import basic_auth, create_app
from tests.web.conftest import Scenario, html_text


@asynccontextmanager
async def serve(app: Any, host: str = "127.0.0.1", **kw: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, **kw)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        yield client
    await app.state.dashboard.close()


async def test_auth_hook_decides_per_request(scenario: Scenario) -> None:
    async def hook(request: Request) -> Any:  # async hooks are awaited
        return {"ok": True, "forbidden": False, "anonymous": None,
                "login": RedirectResponse("/login")}.get(request.headers.get("x-user", ""), "nonsense")

    async with serve(create_app(scenario.url, auth=hook)) as web:
        assert (await web.get("/", headers={"x-user": "ok"})).status_code == 200
        assert (await web.get("/static/dashboard.css", headers={"x-user": "ok"})).status_code == 200
        assert (await web.get("/", headers={"x-user": "forbidden"})).status_code == 403
        assert (await web.get("/", headers={"x-user": "anonymous"})).status_code == 401
        login = await web.get("/runs", headers={"x-user": "login"})
        assert login.status_code == 307 and login.headers["location"] == "/login"
        assert (await web.get("/", headers={"x-user": "other"})).status_code == 401  # anything else denies
        assert (await web.get("/static/dashboard.css")).status_code == 401


async def test_basic_auth(scenario: Scenario) -> None:
    def header(user: str, password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    async with serve(create_app(scenario.url, auth=basic_auth("ops", "s3cret"))) as web:
        missing = await web.get("/")
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
        assert (await web.get("/", headers=header("ops", "wrong"))).status_code == 401
        assert (await web.get("/", headers={"Authorization": "Basic !!!"})).status_code == 401
        assert (await web.get("/", headers=header("ops", "s3cret"))).status_code == 200


async def test_loud_warning_when_reached_from_the_network_without_auth(
        scenario: Scenario, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="pgflow.web")
    async with serve(create_app(scenario.url)) as local:
        assert "No authentication" not in html_text(await local.get("/"))
    assert not caplog.records
    async with serve(create_app(scenario.url, allowed_hosts=["dashboard.example.com"]), host="dashboard.example.com",
                     client=("203.0.113.7", 5000)) as remote:
        text = html_text(await remote.get("/"))
        assert '<div class="banner danger" role="alert">' in text and "No authentication" in text
        html_text(await remote.get("/runs"))
    warnings = [r for r in caplog.records if "NO AUTHENTICATION" in r.getMessage()]
    assert len(warnings) == 1  # once per app, not per request
    async with serve(create_app(scenario.url, auth=lambda r: True), host="dashboard.example.com",
                     client=("203.0.113.7", 5000)) as guarded:
        assert "No authentication" not in html_text(await guarded.get("/"))


async def test_mounted_under_a_path_links_stay_inside_it(scenario: Scenario) -> None:
    dashboard = create_app(scenario.url)
    host = Starlette(routes=[Mount("/admin/pgflow", app=dashboard)])
    host.state.dashboard = dashboard.state.dashboard
    async with serve(host) as web:
        text = html_text(await web.get("/admin/pgflow/runs"))
        assert 'href="/admin/pgflow/static/dashboard.css"' in text
        assert f'href="/admin/pgflow/runs/{scenario.runs["running"]}"' in text
        assert 'data-root="/admin/pgflow"' in text
        assert (await web.get("/admin/pgflow/static/dashboard.js")).status_code == 200
        moved = await web.get("/admin/pgflow/flows/send_email")
        assert moved.headers["location"] == "/admin/pgflow/jobs/send_email"


async def test_base_path_serves_under_a_prefix(scenario: Scenario) -> None:
    async with serve(create_app(scenario.url, base_path="/pgflow/")) as web:
        assert (await web.get("/")).headers["location"] == "/pgflow/"
        text = html_text(await web.get("/pgflow/"))
        assert 'href="/pgflow/runs"' in text
        assert (await web.get("/runs")).status_code == 404


async def test_times_in_the_configured_time_zone(scenario: Scenario) -> None:
    with psycopg.connect(scenario.url) as conn:
        started = conn.execute("SELECT started_at FROM pgflow.runs WHERE run_id = %s",
                               (scenario.runs["completed"],)).fetchone()[0]
    run = f"/runs/{scenario.runs['completed']}"
    async with serve(create_app(scenario.url, timezone="Asia/Tokyo")) as web:
        text = html_text(await web.get(run))
    from zoneinfo import ZoneInfo

    assert started.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M:%S") in text
    assert "Times in <strong>Asia/Tokyo</strong>" in text
    with pytest.raises(ConfigurationError, match="unknown time zone"):
        create_app(scenario.url, timezone="Mars/Olympus")


async def test_accepts_a_pgflow_client(scenario: Scenario) -> None:
    with Client(scenario.url) as client:
        async with serve(create_app(client)) as web:
            assert "orders" in html_text(await web.get("/flows"))


async def test_dashboard_connections_are_read_only(scenario: Scenario) -> None:
    app = create_app(scenario.url)
    store = app.state.dashboard.store
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            await store.run(Query("DELETE FROM pgflow.runs", None, "rowcount", named=False))
    finally:
        await app.state.dashboard.close()
    with psycopg.connect(scenario.url) as conn:
        assert conn.execute("SELECT count(*) FROM pgflow.runs").fetchone()[0] == len(scenario.runs)


async def test_user_data_is_escaped(db_url: str) -> None:
    from tests.web import flows

    with Client(db_url) as client:
        client.compile(flows.send_email)
        run_id = client.start_flow(flows.send_email, {"to": "<script>alert(1)</script>"})
    async with serve(create_app(db_url)) as web:
        text = html_text(await web.get(f"/runs/{run_id}"))
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text


async def test_schedules_pages_without_the_schedules_tables(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("DROP TABLE pgflow.scheduled_runs, pgflow.schedules CASCADE")
        conn.commit()
    async with serve(create_app(db_url)) as web:
        assert 'data-testid="schedules-missing"' in html_text(await web.get("/schedules"))
        assert (await web.get("/schedules/x")).status_code == 404


async def test_unreachable_database_gives_a_503_page() -> None:
    app = create_app("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    async with serve(app) as web:
        response = await web.get("/")
    assert response.status_code == 503
    assert "cannot reach PostgreSQL" in response.text


async def test_missing_schema_says_to_install_it(empty_db_url: str) -> None:
    async with serve(create_app(empty_db_url)) as web:
        response = await web.get("/runs")
    assert response.status_code == 500 and "pgflow db install" in response.text


def test_browser_tests_fail_in_ci_without_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.web import conftest

    monkeypatch.setattr(conftest, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        conftest.chromium_or_fail()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        conftest.chromium_or_fail()


async def test_pages_of_an_empty_database(db_url: str) -> None:
    async with serve(create_app(db_url)) as web:
        for path in ("/", "/runs", "/flows", "/jobs", "/schedules", "/workers", "/runs?type=scheduled"):
            assert (await web.get(path)).status_code == 200, path
        assert "No flows compiled into this database yet." in (await web.get("/flows")).text


async def test_a_wide_map_shows_its_first_tasks_then_more(db_url: str) -> None:
    from tests.web import flows
    from tests.web.driver import Driver

    with Client(db_url) as client:
        client.compile(flows.wide)
        run_id = client.start_flow(flows.wide, {"n": 60})
    with Driver(db_url, flows.wide) as driver:
        for task in driver.claim():
            driver.finish(task)
    async with serve(create_app(db_url)) as web:
        first = html_text(await web.get(f"/runs/{run_id}"))
        more = html_text(await web.get(f"/runs/{run_id}", params={"tasks": "more"}))
    assert first.count('<tr data-status="') == 50 and 'data-testid="more-tasks"' in first
    assert "Showing 50 of 61 tasks" in first
    assert more.count('<tr data-status="') == 61 and 'data-testid="more-tasks"' not in more
