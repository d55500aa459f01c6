"""``pgflow dashboard --allow-actions``: buttons for this machine's requests; refused beyond loopback."""

from __future__ import annotations

import signal

import httpx

from tests.helpers import eventually
from tests.web.conftest import Scenario
from tests.web.test_cli import free_port, pgflow


def test_allow_actions_on_loopback_offers_the_buttons(scenario: Scenario) -> None:
    port = free_port()
    proc = pgflow("-d", scenario.url, "--port", str(port), "--allow-actions")
    url = f"http://127.0.0.1:{port}/runs/{scenario.runs['running']}"
    try:
        def answers() -> httpx.Response | None:
            try:
                return httpx.get(url, timeout=2)
            except httpx.TransportError:
                return None

        page = eventually(answers, timeout=30, interval=0.1, message="the dashboard answers")
        assert page.status_code == 200 and 'data-action="cancel"' in page.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)


def test_allow_actions_without_auth_beyond_loopback_is_refused(scenario: Scenario) -> None:
    proc = pgflow("-d", scenario.url, "--host", "0.0.0.0", "--port", str(free_port()), "--allow-actions")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and "--allow-actions without --basic-auth works only on a loopback" in err.decode()
