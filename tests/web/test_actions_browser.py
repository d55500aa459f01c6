"""Dashboard actions in headless Chromium: with an auth hook a run is cancelled through its confirm
page and the audit row (the signed-in user) is shown on the run page; POSTs without the CSRF token
or with a wrong one are refused; without auth (and without allow_actions) there is no button, and
without credentials the action is refused."""

from __future__ import annotations

import re

import httpx
import pytest

import pgflow
from pgflow.web import basic_auth
from tests.web.browser import browser_page, serve

pytestmark = pytest.mark.browser


def _running_run(db_url: str) -> str:
    flow = pgflow.Flow("browser_actions", max_attempts=1)

    @flow.step
    def only(input):
        return 1

    with pgflow.Client(db_url) as client:
        client.compile(flow)
        return str(client.start_flow(flow, {"order": 1}))


def test_cancel_through_the_confirm_page_is_audited_and_csrf_is_checked(db_url: str) -> None:
    run_id = _running_run(db_url)
    with serve(db_url, auth=basic_auth("ada", "s3cret")) as base, \
            browser_page(http_credentials={"username": "ada", "password": "s3cret"}) as page:
        page.goto(f"{base}/runs/{run_id}")
        # a forged POST from this very browser (it has the session): no token, then a wrong one
        page.goto(f"{base}/actions/retry?target={run_id}")  # sets the CSRF cookie
        for form in ({"target": run_id}, {"target": run_id, "csrf": "0" * 64}):
            refused = page.request.post(f"{base}/actions/cancel", form=form)
            assert refused.status == 403 and "CSRF" in refused.text()
        page.goto(f"{base}/runs/{run_id}")
        assert page.get_by_test_id("run-status").inner_text().strip().endswith("running")

        page.get_by_role("link", name="Cancel run").click()
        page.wait_for_url(re.compile(r"/actions/cancel\?target="))
        page.get_by_label("Reason (stored with the run)").fill("customer asked")
        page.get_by_test_id("action-submit").click()

        page.wait_for_url(f"{base}/runs/{run_id}#run-actions")
        assert "cancelled" in page.get_by_test_id("run-status").inner_text()
        row = page.get_by_test_id("audit").locator('tr[data-action="cancel"]')
        assert row.get_attribute("data-outcome") == "done"
        assert "ada" in row.inner_text() and "customer asked" in row.inner_text()
        assert page.get_by_role("link", name="Resume run").is_visible()  # a failed run can be resumed

    with serve(db_url) as base, browser_page() as page:  # no auth hook, no allow_actions
        page.goto(f"{base}/runs/{run_id}")
        assert page.get_by_test_id("audit").is_visible()  # the record stays readable
        assert page.get_by_role("link", name="Resume run").count() == 0


def test_without_credentials_an_action_is_refused(db_url: str) -> None:
    run_id = _running_run(db_url)
    with serve(db_url, auth=basic_auth("ada", "s3cret")) as base:
        assert httpx.get(f"{base}/actions/cancel?target={run_id}").status_code == 401
        assert httpx.post(f"{base}/actions/cancel", data={"target": run_id}).status_code == 401
    with pgflow.Client(db_url) as client:
        assert client.get_run(run_id).status == "started"
