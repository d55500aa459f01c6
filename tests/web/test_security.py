"""What every request goes through: Host check, input check, auth hook, security headers."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from jinja2 import DictLoader, Environment
from starlette.routing import BaseRoute, Mount, Route

from pgflow import AsyncClient, ConfigurationError
from pgflow.web import create_app
from pgflow.web.security import inline_script_hashes
from pgflow.web.sse import event_stream
from tests.web.conftest import Scenario

WEB = Path(__file__).resolve().parents[2] / "pgflow" / "web"
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@asynccontextmanager
async def dashboard(url: str, **options: Any) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = create_app(url, **options)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
        yield app, web
    await app.state.dashboard.close()


@asynccontextmanager
async def stream_app(url: str, **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncClient(url) as client:
        transport = httpx.ASGITransport(app=event_stream(client, **options))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
            yield web


def assert_secured(response: httpx.Response) -> None:
    missing = [h for h in SECURITY_HEADERS if h not in response.headers]
    assert not missing, (response.request.url, missing)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def paths(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path format, path parameters) of every route of an app, mounted apps' routes included."""
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            yield from paths(route.routes, prefix + route.path)
        elif isinstance(route, (Route, Mount)):
            yield prefix + route.path_format, dict(route.param_convertors)


def query_names() -> set[str]:
    """Every query parameter the dashboard's code reads (request.query_params / the run filter)."""
    names: set[str] = set()
    for source in WEB.rglob("*.py"):
        text = source.read_text()
        names |= set(re.findall(r"query_params(?:\.get)?[\[(]\"(\w+)\"", text))
        if source.name == "filters.py":
            names |= set(re.findall(r"\bget\(\"(\w+)\"\)", text))
    return names


@pytest.mark.parametrize("host", ["localhost", "localhost:8088", "127.0.0.1", "127.0.0.1:8088", "127.9.9.9",
                                  "[::1]", "[::1]:8088", "LOCALHOST"])
async def test_without_auth_loopback_host_names_are_served(scenario: Scenario, host: str) -> None:
    async with dashboard(scenario.url) as (_, web):
        response = await web.get("/runs", headers={"Host": host})
        assert response.status_code == 200, host
        assert "No authentication" not in response.text


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8088", "127.0.0.1.nip.io", "localhost.evil.example",
                                  "0.0.0.0", "192.168.1.5:8088", "[::2]", "testserver", "[::1"])
async def test_without_auth_other_host_names_are_refused(scenario: Scenario, host: str) -> None:
    async with dashboard(scenario.url) as (_, web):
        for path in ("/", "/runs", f"/runs/{scenario.runs['completed']}", "/static/dashboard.css",
                     f"/events/runs/{scenario.runs['completed']}"):
            response = await web.get(path, headers={"Host": host})
            assert response.status_code == 403, (host, path)
            assert "allowed_hosts" in response.text and "orders" not in response.text
            assert_secured(response)


async def test_allowed_hosts_names_more_host_names(scenario: Scenario) -> None:
    async with dashboard(scenario.url, allowed_hosts=["Dash.Internal"]) as (_, web):
        assert (await web.get("/runs", headers={"Host": "dash.internal:443"})).status_code == 200
        assert (await web.get("/runs", headers={"Host": "localhost"})).status_code == 200
        assert (await web.get("/runs", headers={"Host": "evil.example"})).status_code == 403
    async with dashboard(scenario.url, allowed_hosts=["*"]) as (_, web):
        assert (await web.get("/runs", headers={"Host": "anything.example"})).status_code == 200
    with pytest.raises(ConfigurationError, match="list of host names"):
        create_app(scenario.url, allowed_hosts="dash.internal")


async def test_a_dashboard_under_a_base_path_is_guarded_as_a_whole(scenario: Scenario) -> None:
    async with dashboard(scenario.url, base_path="/pgflow") as (_, web):
        for path in ("/", "/pgflow/", "/pgflow/runs", "/pgflow/static/dashboard.css"):
            response = await web.get(path)
            assert response.status_code in (200, 307), path
            assert_secured(response)
            assert (await web.get(path, headers={"Host": "evil.example"})).status_code == 403
        assert (await web.get("/pgflow/runs", params={"flow": "\x00"})).status_code == 400


async def test_with_an_auth_hook_the_hook_decides_whatever_the_host(scenario: Scenario) -> None:
    async with dashboard(scenario.url, auth=lambda r: r.headers.get("x-user") == "ada") as (_, web):
        assert (await web.get("/runs", headers={"Host": "dash.example", "X-User": "ada"})).status_code == 200
        refused = await web.get("/runs", headers={"Host": "dash.example", "X-User": "eve"})
        assert refused.status_code == 403 and "orders" not in refused.text
        assert_secured(refused)
    async with dashboard(scenario.url, auth=lambda r: True, allowed_hosts=["dash.example"]) as (_, web):
        assert (await web.get("/runs", headers={"Host": "dash.example"})).status_code == 200
        assert (await web.get("/runs", headers={"Host": "evil.example"})).status_code == 403


async def test_a_nul_byte_in_any_parameter_of_any_route_is_a_400(scenario: Scenario) -> None:
    names = query_names()
    assert {"flow", "status", "window", "step", "health"} <= names, names
    async with dashboard(scenario.url) as (app, web):
        routes = list(paths(app.routes))
        assert any(p.startswith("/events/") for p, _ in routes) and any("{run_id}" in p for p, _ in routes)
        tried = 0
        for path_format, params in routes:
            valid = {name: "x" for name in params}
            for name in params:
                bad = path_format.format(**{**valid, name: "a%00b"})
                for path in (bad, path_format.format(**{**valid, name: "a%ffb"})):
                    response = await web.get(path)
                    assert response.status_code == 400, (path, response.status_code, response.text[:300])
                    assert len(response.text) < 200 and "Traceback" not in response.text
                    assert_secured(response)
                    tried += 1
            for query in names:
                path = path_format.format(**valid)
                response = await web.get(path, params={query: "a\x00b"})
                assert response.status_code == 400, (path, query, response.status_code, response.text[:300])
                response = await web.get(path + f"?{query}=x&a%00b=1")  # in a name too
                assert response.status_code == 400, (path, query)
                tried += 2
        assert tried > 50


async def test_security_headers_on_every_route(scenario: Scenario) -> None:
    values = {"run_id": scenario.runs["completed"], "slug": "orders", "worker_id": scenario.workers["healthy"],
              "path": "dashboard.css"}
    async with dashboard(scenario.url) as (app, web):
        for path_format, params in paths(app.routes):
            if path_format.startswith("/events/"):
                continue  # event streams do not end; their answers are checked below
            path = path_format.format(**{name: values.get(name, "x") for name in params})
            response = await web.get(path)
            assert response.status_code < 500, (path, response.status_code)
            assert_secured(response)
        missing = await web.get(f"/events/runs/{uuid.uuid4()}")
        assert missing.status_code == 404
        assert_secured(missing)
        assert_secured(await web.get("/no/such/page"))


async def test_the_csp_allows_exactly_the_inline_scripts_of_the_page(scenario: Scenario) -> None:
    async with dashboard(scenario.url) as (_, web):
        response = await web.get("/runs")
    csp = response.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)[1].split()  # type: ignore[index]
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert inline, "the page's inline theme script"
    hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline]
    assert sorted(script_src) == sorted(["'self'", *hashes])
    assert response.headers["referrer-policy"] == "same-origin"


def test_an_inline_script_with_template_syntax_is_refused_at_start() -> None:
    env = Environment(loader=DictLoader({"a.html": "<script>var x = {{ x }};</script>"}))
    with pytest.raises(ConfigurationError, match="a.html"):
        inline_script_hashes(env)
    env = Environment(loader=DictLoader({"b.html": '<script src="x.js"></script><script>go();</script>'}))
    assert inline_script_hashes(env) == [
        "'sha256-" + base64.b64encode(hashlib.sha256(b"go();").digest()).decode() + "'"]


async def test_the_stream_app_takes_the_same_auth_hook(scenario: Scenario) -> None:
    def hook(request: Any) -> bool | None:
        user = request.headers.get("x-user")
        return None if user is None else user == "ada"

    async with stream_app(scenario.url, auth=hook) as web:
        assert (await web.get("/runs/not-an-id")).status_code == 401
        assert (await web.get("/runs/not-an-id", headers={"X-User": "eve"})).status_code == 403
        allowed = await web.get("/runs/not-an-id", headers={"X-User": "ada", "Host": "dash.example"})
        assert allowed.status_code == 400 and "not a run id" in allowed.text  # past the hook, to the handler
        assert_secured(allowed)
    async with stream_app(scenario.url) as web:
        assert (await web.get("/runs/not-an-id", headers={"Host": "evil.example"})).status_code == 403
        assert (await web.get("/runs/not-an-id", headers={"Host": "localhost:9000"})).status_code == 400
        response = await web.get("/runs", params={"flow": "a\x00b"})
        assert response.status_code == 400 and "NUL" in response.text
