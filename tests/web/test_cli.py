"""``pgflow dashboard`` as a real subprocess."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys

import httpx

from tests.helpers import eventually
from tests.web.conftest import Scenario


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pgflow(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "pgflow", "dashboard", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_serves_under_a_base_path_with_basic_auth(scenario: Scenario) -> None:
    port = free_port()
    proc = pgflow("-d", scenario.url, "--port", str(port), "--base-path", "/pgflow", "--basic-auth", "ops:pw",
                  "--timezone", "Europe/Paris")
    base = f"http://127.0.0.1:{port}/pgflow"
    try:
        def answers() -> httpx.Response:
            try:
                return httpx.get(base + "/", timeout=2)
            except httpx.TransportError:
                return None  # type: ignore[return-value]

        denied = eventually(answers, timeout=30, interval=0.1, message="the dashboard answers")
        assert denied.status_code == 401
        token = base64.b64encode(b"ops:pw").decode()
        page = httpx.get(base + "/runs", headers={"Authorization": f"Basic {token}"}, timeout=5)
        assert page.status_code == 200 and "Times in <strong>Europe/Paris</strong>" in page.text
        assert 'href="/pgflow/flows"' in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    # uvicorn shuts down gracefully, then lets SIGTERM end the process as usual
    assert proc.returncode in (0, -signal.SIGTERM), err.decode()
    assert f"pgflow dashboard on http://localhost:{port}/pgflow/" in err.decode()
    assert "NO AUTHENTICATION" not in err.decode()


def test_warns_loudly_when_listening_beyond_localhost_without_auth(scenario: Scenario) -> None:
    # 192.0.2.1 (TEST-NET-1) is not this machine's: the warning comes first, then binding fails
    proc = pgflow("-d", scenario.url, "--host", "192.0.2.1", "--port", str(free_port()))
    _, err = proc.communicate(timeout=30)
    assert "NO AUTHENTICATION" in err.decode() and "192.0.2.1" in err.decode()
    assert proc.returncode != 0


def test_rejects_a_malformed_basic_auth(scenario: Scenario) -> None:
    proc = pgflow("-d", scenario.url, "--basic-auth", "just-a-user")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "--basic-auth takes USER:PASSWORD" in err.decode()


def test_basic_auth_from_the_environment_and_allowed_hosts(scenario: Scenario) -> None:
    # credentials in the environment, not on the command line where `ps` shows them
    port = free_port()
    env = {**os.environ, "PGFLOW_DASHBOARD_BASIC_AUTH": "ops:from-env"}
    proc = subprocess.Popen([sys.executable, "-m", "pgflow", "dashboard", "-d", scenario.url, "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        denied = eventually(lambda: answer(base + "/runs"), timeout=30, interval=0.1, message="the dashboard answers")
        assert denied.status_code == 401
        token = base64.b64encode(b"ops:from-env").decode()
        page = httpx.get(base + "/runs", headers={"Authorization": f"Basic {token}", "Host": "dash.example"},
                         timeout=5)
        assert page.status_code == 200 and "orders" in page.text  # the hook decides, whatever the host name
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    port = free_port()
    proc = pgflow("-d", scenario.url, "--port", str(port), "--allowed-host", "dash.example")
    base = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: answer(base + "/runs"), timeout=30, interval=0.1,
                          message="the dashboard answers").status_code == 200
        assert httpx.get(base + "/runs", headers={"Host": "dash.example:8088"}, timeout=5).status_code == 200
        refused = httpx.get(base + "/runs", headers={"Host": "evil.example"}, timeout=5)
        assert refused.status_code == 403 and "orders" not in refused.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def answer(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None
