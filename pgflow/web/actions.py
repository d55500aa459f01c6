"""Dashboard actions: buttons that change something (cancel a run, retry it, pause a flow, ...),
declared once, each confirmed on a page of its own, sent as a POST with a CSRF token, and
recorded in ``pgflow.run_actions`` (who, when, what, on which run or flow, how it ended).

Declare an action with :func:`register`; a page shows its buttons with the ``_actions.html``
macro ``buttons(actions_for(request, target, row), value)``::

    register(Action(
        name="pause_flow", target="flow", label="Pause flow", danger=True,
        question="Pause flow {target}? Its queued tasks wait until it is resumed.",
        shown=lambda flow: not flow.get("paused"),
        perform=lambda slug, form: pause_flow_outcomes(slug),  # an Operation returning [Outcome(...)]
    ))

The button is a link to ``GET /actions/<name>?target=<value>``: a page that says what will
happen and holds a form (with the action's fields and the CSRF token); only its POST acts.
Actions are enabled only when the dashboard has an auth hook, or when ``allow_actions=True``
and the request comes from this machine (loopback address and host name); ``allow_actions=False``
turns them off everywhere. Without them, buttons are not shown and the routes answer 403.

CSRF: signed double submit. The confirm page sets a random cookie (HttpOnly, SameSite=Strict)
and puts HMAC(secret, cookie) in the form; a POST must carry both, matching, and an ``Origin``
header, when sent, naming this host. Another site can neither read the cookie nor forge the
HMAC (the secret never leaves the server: ``create_app(secret=...)``, by default random per
process, so forms opened before a restart must be reloaded).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from pgflow import telemetry
from pgflow.db import ClientOperation, Operation, Query, drive_async, new_pool
from pgflow.errors import PgFlowError, RunStateError
from pgflow.web.auth import is_loopback
from pgflow.web.dashboard import dashboard_of
from pgflow.web.security import host_name, is_loopback_host

log = logging.getLogger("pgflow.web")

COOKIE = "pgflow_csrf"
MAX_FORM_BYTES = 65_536
OUTCOMES = ("done", "nothing to do", "failed")


@dataclass(frozen=True)
class Outcome:
    """How an action ended for one run or flow (one audit row)."""

    outcome: str = "done"  # one of OUTCOMES
    detail: str | None = None
    run_id: UUID | None = None
    flow_slug: str | None = None
    new_run_id: UUID | None = None


@dataclass(frozen=True)
class Field:
    """An input of an action's confirm form: ``kind`` "text" or "checkbox"."""

    name: str
    label: str
    kind: str = "text"


@dataclass(frozen=True)
class Preview:
    """What a confirm page shows before the form (``text``), the hidden ``fields`` the form then
    carries (e.g. how many runs were confirmed), and whether there is anything to do at all."""

    text: str
    fields: Mapping[str, str] = dataclass_field(default_factory=dict)
    possible: bool = True


Perform = Callable[[str, Mapping[str, str]], ClientOperation[list[Outcome]]]


@dataclass(frozen=True)
class Action:
    """A dashboard action. ``target``: what ``?target=`` names - "run" (a run id), "flow" (a slug)
    or "runs" (a runs-list query string). ``perform(target, form)`` is an operation (run on a
    writable connection) returning one Outcome per run or flow it touched. ``shown(row)`` says
    whether a page offers the button for its run or flow row. ``preview(target)``, when given, is
    an operation giving the confirm page's :class:`Preview` (e.g. how many runs a filter matches)."""

    name: str
    target: str
    label: str
    question: str
    perform: Perform
    shown: Callable[[Mapping[str, Any]], bool] = lambda row: True
    fields: tuple[Field, ...] = ()
    danger: bool = False
    preview: Callable[[str], ClientOperation[Preview]] | None = None


ACTIONS: dict[str, Action] = {}


def register(action: Action) -> Action:
    """Make ``action`` available to every dashboard (its name is its URL and its audit name)."""
    if action.target not in ("run", "flow", "runs"):
        raise ValueError(f"action {action.name!r}: target must be 'run', 'flow' or 'runs', not {action.target!r}")
    ACTIONS[action.name] = action
    return action


@dataclass
class Actions:
    """One dashboard's action settings and its writable connections (opened on the first action)."""

    conninfo: Callable[[], str]
    has_auth: bool
    allow: bool | None = None
    secret: bytes = b""
    _pool: AsyncConnectionPool | None = None

    def __post_init__(self) -> None:
        self.secret = self.secret or secrets.token_bytes(32)
        self._lock = asyncio.Lock()

    def enabled(self, request: Request) -> bool:
        """Whether ``request`` may see and use actions (see the module's docstring)."""
        if self.allow is False:
            return False
        if self.has_auth:
            return True
        if not self.allow or request.scope.get("pgflow_exposed_without_auth"):
            return False
        host = request.headers.get("host")
        client = request.client.host if request.client else None
        return is_loopback(client) and (host is None or is_loopback_host(host_name(host)))

    def token(self, cookie: str) -> str:
        return hmac.new(self.secret, cookie.encode(), hashlib.sha256).hexdigest()

    async def run(self, operation: Any) -> Any:
        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    pool = await asyncio.to_thread(new_pool, AsyncConnectionPool, self.conninfo(), max_size=2,
                                                   name="pgflow-dashboard-actions", connect_timeout=5)
                    await pool.open(wait=True, timeout=10.0)
                    self._pool = pool
        async with self._pool.connection() as conn:
            return await drive_async(conn, operation)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()


def actions_of(request: Request) -> Actions | None:
    return getattr(dashboard_of(request), "actions", None)


def actions_for(request: Request, target: str, row: Mapping[str, Any]) -> list[Action]:
    """The actions a page offers for its run or flow ``row`` (none when actions are off)."""
    settings = actions_of(request)
    if settings is None or not settings.enabled(request):
        return []
    return [a for a in ACTIONS.values() if a.target == target and a.shown(row)]


def actor_of(request: Request) -> str:
    """Who acts, as the auth hook named them: ``request.state.user`` (basic_auth sets the user
    name), else Starlette's ``request.user``; else "local user" (allow_actions on loopback) or
    "signed-in user" (a hook that names nobody)."""
    user = getattr(request.state, "user", None)
    if user is None and "user" in request.scope:
        user = getattr(request.scope["user"], "display_name", None) or str(request.scope["user"])
    if user:
        return str(user)[:200]
    settings = actions_of(request)
    return "signed-in user" if settings is not None and settings.has_auth else "local user"


def _settings_for(request: Request) -> Actions:
    settings = actions_of(request)
    if settings is None or not settings.enabled(request):
        raise HTTPException(403, "Actions are turned off on this dashboard: they need an auth hook (create_app(auth=...), "
                                 "$PGFLOW_DASHBOARD_BASIC_AUTH), or allow_actions=True (--allow-actions) and a request "
                                 "from this machine.")
    return settings


def _action(request: Request) -> Action:
    action = ACTIONS.get(request.path_params["name"])
    if action is None:
        raise HTTPException(404, f"There is no dashboard action {request.path_params['name']!r}.")
    return action


async def confirm_page(request: Request) -> Response:
    """GET /actions/<name>?target=...: what will happen, and the form that does it."""
    settings, action = _settings_for(request), _action(request)
    target = request.query_params.get("target", "")
    if not target:
        raise HTTPException(400, f"The action {action.name!r} needs ?target=<the {action.target}>.")
    try:
        preview = await settings.run(action.preview(target)) if action.preview is not None else None
    except PgFlowError as exc:
        raise HTTPException(400, str(exc)) from None
    cookie = request.cookies.get(COOKIE) or secrets.token_urlsafe(32)
    dash = dashboard_of(request)
    response = dash.page(request, "action_confirm.html", {
        "title": action.label, "nav": "runs" if action.target != "flow" else "flows", "action": action,
        "target": target, "question": action.question.format(target=target), "preview": preview,
        "csrf": settings.token(cookie), "back": _back(request, action, target),
    }, live=None)
    response.set_cookie(COOKIE, cookie, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path=(request.scope.get("root_path", "").rstrip("/") or "") + "/")
    return response


async def perform(request: Request) -> Response:
    """POST /actions/<name>: check the CSRF token, act, record, then show where it went."""
    settings, action = _settings_for(request), _action(request)
    form = await _form(request)
    _check_csrf(request, settings, form)
    target = form.get("target", "")
    if not target:
        raise HTTPException(400, "The form names no target: open the action from its page again.")
    actor = actor_of(request)
    try:
        outcomes = await settings.run(action.perform(target, form))
    except PgFlowError as exc:  # refused as a whole: a run in the wrong state, an unknown run, a bad filter
        kind = "nothing to do" if isinstance(exc, RunStateError) else "failed"
        outcomes = [Outcome(kind, str(exc), **_subject(action, target))]
    await settings.run(record(action.name, actor, outcomes))
    counts = {o: sum(1 for x in outcomes if x.outcome == o) for o in OUTCOMES}
    telemetry.execute("dashboard.action", {"count": len(outcomes)},
                      {"action": action.name, "target": target, "actor": actor, "outcomes": counts})
    log.info("pgflow dashboard: %s did %s on %s (%d)", actor, action.name, target, len(outcomes))
    if action.target == "run":
        return RedirectResponse(_url(request, f"/runs/{target}") + "#run-actions", status_code=303)
    if action.target == "flow":
        return RedirectResponse(_url(request, f"/flows/{target}"), status_code=303)
    return dashboard_of(request).page(request, "action_result.html", {
        "title": action.label, "nav": "runs", "action": action, "outcomes": outcomes[:500],
        "counts": counts,
        "back": _back(request, action, target),
    }, live=None)


def record(action: str, actor: str, outcomes: Sequence[Outcome]) -> Operation[None]:
    """Write one audit row per outcome (one statement)."""
    if outcomes:
        yield Query.execute(
            "actions_record", actor=actor, action=action,
            run_ids=[o.run_id for o in outcomes], flow_slugs=[o.flow_slug for o in outcomes],
            outcomes=[o.outcome for o in outcomes], details=[o.detail for o in outcomes],
            new_run_ids=[o.new_run_id for o in outcomes],
        ).and_commit()


def _subject(action: Action, target: str) -> dict[str, Any]:
    if action.target == "run":
        try:
            return {"run_id": UUID(target)}
        except ValueError:
            return {}
    return {"flow_slug": target} if action.target == "flow" else {}


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "The form is too large.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "The form is not UTF-8.") from None
    if any("\x00" in k or "\x00" in v for k, v in pairs):
        raise HTTPException(400, "The form holds a NUL character.")
    return dict(pairs)


def _check_csrf(request: Request, settings: Actions, form: Mapping[str, str]) -> None:
    cookie, given = request.cookies.get(COOKIE), form.get("csrf", "")
    if not cookie or not given or not hmac.compare_digest(settings.token(cookie), given):
        raise HTTPException(403, "The form's security token is missing or wrong (CSRF check): nothing was done. "
                                 "Open the action from its page again and confirm it there.")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != (request.headers.get("host") or "").lower():
        raise HTTPException(403, f"The form was sent from another site ({origin}): nothing was done.")


def _url(request: Request, path: str) -> str:
    return request.scope.get("root_path", "").rstrip("/") + path


def _back(request: Request, action: Action, target: str) -> str:
    if action.target == "run":
        return _url(request, f"/runs/{target}")
    if action.target == "flow":
        return _url(request, f"/flows/{target}")
    return _url(request, "/runs") + (f"?{target}" if target else "")


def routes() -> list[Route]:
    return [
        Route("/actions/{name}", confirm_page, methods=["GET"], name="action_confirm"),
        Route("/actions/{name}", perform, methods=["POST"], name="action_perform"),
    ]
