"""Where metrics are served: ``/metrics`` on the dashboard (behind its auth) and the stand-alone
``pgflow metrics`` exporter (a real subprocess, real HTTP)."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytest.importorskip("prometheus_client")

from pgflow import Client  # noqa: E402
from pgflow.web import basic_auth, create_app  # noqa: E402
from tests.helpers import eventually  # noqa: E402
from tests.integration.metrics.test_metrics import samples, shop  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


async def test_the_dashboard_serves_metrics_behind_its_own_auth(db_url: str) -> None:
    with Client(db_url) as client:
        client.compile(shop)
        client.start_flow(shop, {"lines": [1, 2]})
    app = create_app(db_url, auth=basic_auth("ops", "s3cret"))
    good = {"Authorization": "Basic " + base64.b64encode(b"ops:s3cret").decode()}
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as web:
            assert (await web.get("/metrics")).status_code == 401
            response = await web.get("/metrics", headers=good)
    finally:
        await app.state.dashboard.close()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.content)
    assert found[("pgflow_runs_active", (("flow_slug", "metrics_shop"),))] == 1
    assert found[("pgflow_queue_messages", (("queue", "metrics_shop"),))] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pgflow_metrics_serves_the_database_on_a_port(db_url: str, tmp_path: Path) -> None:
    with Client(db_url) as client:
        client.compile(shop)
    port = _free_port()
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "pgflow", "metrics", "--port", str(port)],
                                   cwd=ROOT, env=env, stdout=out, stderr=err)
    try:
        def scraped() -> dict:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            except httpx.TransportError:
                return {}
            return samples(response.content) if response.status_code == 200 else {}

        eventually(scraped, timeout=30, message="pgflow metrics answers")
        with Client(db_url) as client:
            client.start_flow(shop, {"lines": [1]})
        found = scraped()
        assert found[("pgflow_runs_started_total", (("flow_slug", "metrics_shop"),))] == 1
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=5).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_pgflow_metrics_without_a_database_says_so(tmp_path: Path) -> None:
    env = dict(os.environ, PGFLOW_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-m", "pgflow", "metrics", "--port", "0"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "cannot read the pgflow database" in done.stderr, done.stderr
