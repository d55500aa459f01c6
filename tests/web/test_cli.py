"""``pgflow dashboard`` as a real subprocess."""

from __future__ import annotations

import base64
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
