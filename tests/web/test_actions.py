"""Dashboard actions over HTTP: off without an auth hook or allow_actions, on loopback only with
allow_actions; a confirm page, then a POST that must carry the CSRF cookie and its signed token;
each action recorded (who, what, outcome) and shown on the run page; bulk actions on the runs list."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
import psycopg

import pgflow
from pgflow.web import basic_auth, create_app


def _flow(slug: str) -> pgflow.Flow:
    flow = pgflow.Flow(slug, max_attempts=1)

    @flow.step
    def only(input):
        return 1

    return flow


@asynccontextmanager
async def _web(db_url: str, host: str = "127.0.0.1", **options: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(db_url, timezone="UTC", **options)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{host}") as web:
        yield web
    await app.state.dashboard.close()


def _form(page: str) -> dict[str, str]:
    """The hidden fields of a confirm page's form."""
    return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', page)}


def _status(db_url: str, run_id: UUID) -> str:
    with pgflow.Client(db_url) as client:
        return client.get_run(run_id).status.value


def _audit(db_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT actor, action, run_id, outcome, detail, new_run_id FROM pgflow.run_actions "
                            "ORDER BY action_id").fetchall()


async def _started(db_url: str, slug: str, n: int = 1) -> list[UUID]:
    with pgflow.Client(db_url) as client:
        client.compile(_flow(slug))
        return [client.start_flow(slug, {"i": i}) for i in range(n)]


async def test_without_auth_or_allow_actions_there_are_no_actions(db_url: str) -> None:
    [run_id] = await _started(db_url, "no_actions")
    async with _web(db_url) as web:
        page = (await web.get(f"/runs/{run_id}")).text
        assert 'data-action="cancel"' not in page and "· read-only ·" in page
        assert (await web.get(f"/actions/cancel?target={run_id}")).status_code == 403
        refused = await web.post("/actions/cancel", data={"target": str(run_id), "csrf": "x"})
        assert refused.status_code == 403 and "turned off" in refused.text
    async with _web(db_url, auth=lambda request: True, allow_actions=False) as web:
        assert (await web.get(f"/actions/cancel?target={run_id}")).status_code == 403
    assert _status(db_url, run_id) == "started" and _audit(db_url) == []


async def test_allow_actions_on_loopback_confirm_then_post_with_the_token(db_url: str) -> None:
    [run_id] = await _started(db_url, "loopback_actions")
    async with _web(db_url, allow_actions=True) as web:
        page = (await web.get(f"/runs/{run_id}")).text
        assert f'href="/actions/cancel?target={run_id}"' in page and 'data-action="retry"' not in page
        assert "· actions on ·" in page
        confirm = await web.get(f"/actions/cancel?target={run_id}")
        assert confirm.status_code == 200 and "Cancel run" in confirm.text
        fields = _form(confirm.text)
        assert _status(db_url, run_id) == "started"  # the confirm page changes nothing

        done = await web.post("/actions/cancel", data={**fields, "reason": "from the dashboard"})

        assert done.status_code == 303 and done.headers["location"] == f"/runs/{run_id}#run-actions"
        assert _status(db_url, run_id) == "failed"
        shown = (await web.get(f"/runs/{run_id}")).text
        audit = shown.split('data-testid="audit"')[1]
        assert "local user" in audit and "cancel" in audit and "from the dashboard" in audit
        assert 'data-action="retry"' in shown and 'data-action="resume"' in shown  # a failed run now

        retried = await web.post("/actions/retry", data={**_form((await web.get(f"/actions/retry?target={run_id}")).text)})
        assert retried.status_code == 303
    [(_, _, _, _, _, _), (actor, action, audited_run, outcome, _, new_run_id)] = _audit(db_url)
    assert (actor, action, audited_run, outcome) == ("local user", "retry", run_id, "done")
    with pgflow.Client(db_url) as client:
        assert client.get_run(new_run_id).retry_of == run_id


async def test_a_post_without_or_with_a_wrong_token_or_from_another_site_is_refused(db_url: str) -> None:
    [run_id] = await _started(db_url, "csrf_actions")
    async with _web(db_url, allow_actions=True) as web:
        fields = _form((await web.get(f"/actions/cancel?target={run_id}")).text)
        cookie = web.cookies.get("pgflow_csrf")
        assert cookie and fields["csrf"] and fields["csrf"] != cookie  # signed, not the cookie itself

        no_token = await web.post("/actions/cancel", data={"target": str(run_id)})
        wrong = await web.post("/actions/cancel", data={**fields, "csrf": "0" * 64})
        other_site = await web.post("/actions/cancel", data=fields, headers={"Origin": "http://evil.example"})
        web.cookies.clear()
        no_cookie = await web.post("/actions/cancel", data=fields)

    for refused in (no_token, wrong, other_site, no_cookie):
        assert refused.status_code == 403 and "nothing was done" in refused.text
    assert _status(db_url, run_id) == "started" and _audit(db_url) == []


async def test_allow_actions_is_not_enough_beyond_localhost(db_url: str) -> None:
    [run_id] = await _started(db_url, "remote_actions")
    async with _web(db_url, host="dash.example", allow_actions=True, allowed_hosts=["dash.example"]) as web:
        assert 'data-action="cancel"' not in (await web.get(f"/runs/{run_id}")).text
        assert (await web.get(f"/actions/cancel?target={run_id}")).status_code == 403


async def test_with_an_auth_hook_the_audit_names_the_user(db_url: str) -> None:
    [run_id] = await _started(db_url, "auth_actions")
    token = base64.b64encode(b"ada:s3cret").decode()
    async with _web(db_url, host="dash.example", auth=basic_auth("ada", "s3cret")) as web:
        web.headers["Authorization"] = f"Basic {token}"
        fields = _form((await web.get(f"/actions/cancel?target={run_id}")).text)
        assert (await web.post("/actions/cancel", data=fields)).status_code == 303
        again = await web.post("/actions/cancel", data=fields)  # already over: nothing to do, recorded
        assert again.status_code == 303
    assert [(a[0], a[3], a[4]) for a in _audit(db_url)] == [("ada", "done", None),
                                                           ("ada", "nothing to do", "already over (failed)")]


async def test_bulk_cancel_from_the_runs_list(db_url: str) -> None:
    runs = await _started(db_url, "bulk_actions", 3)
    other = (await _started(db_url, "bulk_other"))[0]
    async with _web(db_url, allow_actions=True) as web:
        listing = (await web.get("/runs?flow=bulk_actions&range=1h")).text
        link = re.search(r'href="(/actions/bulk_cancel\?target=[^"]+)"', listing)
        assert link and 'data-action="bulk_retry"' in listing
        confirm = (await web.get(html.unescape(link[1]))).text
        assert "3 runs match now" in confirm

        done = await web.post("/actions/bulk_cancel", data=_form(confirm))

        assert done.status_code == 200 and "3 done" in done.text
        again = (await web.get(html.unescape(link[1]))).text
        assert "No run matches these filters: nothing to cancel" in again and "action-submit" not in again
        assert 'data-action="bulk_cancel"' not in (await web.get("/runs?status=failed")).text
        assert 'data-testid="bulk-actions"' not in (await web.get("/runs?type=job")).text
    assert {_status(db_url, r) for r in runs} == {"failed"} and _status(db_url, other) == "started"
    assert sorted(a[2] for a in _audit(db_url)) == sorted(runs)
