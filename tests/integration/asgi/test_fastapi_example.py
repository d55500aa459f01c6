"""The FastAPI pattern (examples/fastapi_orders.py) under uvicorn: a real server process, real
HTTP. A route starts a run from BackgroundTasks with the lifespan's AsyncClient; the in-process
worker runs it; the dashboard and its live events answer under /pgflow behind the app's auth."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually

ROOT = Path(__file__).resolve().parents[3]
STAFF = {"x-staff": "yes"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url)
    env.pop("DATABASE_URL", None)
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        process = subprocess.Popen([sys.executable, "-m", "uvicorn", "examples.fastapi_orders:app", "--port",
                                    str(port), "--log-level", "warning"], cwd=ROOT, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/docs", timeout=2).status_code == 200
        except httpx.TransportError:
            assert process.poll() is None, (tmp_path / "err").read_text()
            return False

    try:
        eventually(up, timeout=30, message="uvicorn serves the example")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        assert "Traceback" not in (tmp_path / "err").read_text(), (tmp_path / "err").read_text()


def test_a_route_starts_a_run_that_the_in_process_worker_completes(server: str) -> None:
    accepted = httpx.post(server + "/orders", json={"items": [1, 2, 3]}, timeout=10)
    assert accepted.status_code == 202
    run_id = accepted.json()["run_id"]

    def completed() -> dict:
        response = httpx.get(f"{server}/orders/{run_id}", timeout=10)
        return response.json() if response.status_code == 200 and response.json()["status"] == "completed" else {}

    assert eventually(completed, timeout=60, message="the run completes")["output"] == {"total": 600}

    assert httpx.get(server + "/pgflow/", timeout=10).status_code == 403  # the app's auth says no
    page = httpx.get(server + "/pgflow/", headers=STAFF, timeout=10)
    assert page.status_code == 200 and "fastapi_checkout" in page.text
    assert httpx.get(f"{server}/pgflow/events/runs/{run_id}", timeout=10).status_code == 403
    with httpx.stream("GET", f"{server}/pgflow/events/runs/{run_id}", headers=STAFF, timeout=10) as stream:
        assert stream.status_code == 200
        first = next(line for line in stream.iter_lines() if line.startswith("event:"))
    assert first == "event: snapshot"
