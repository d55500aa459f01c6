"""``create_app``: the dashboard as a Starlette app, standalone or mounted under any path."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import psycopg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pgflow.db import first_line
from pgflow.errors import DatabaseUnavailable, SchemaError
from pgflow.web.actions import Actions
from pgflow.web.auth import AuthHook
from pgflow.web.metrics import metrics_route
from pgflow.web.dashboard import Dashboard, dashboard_of
from pgflow.web.filters import BadFilter
from pgflow.web.render import Renderer
from pgflow.web.security import guard, inline_script_hashes, page_csp
from pgflow.web.store import Store, conninfo_of

log = logging.getLogger("pgflow.web")

EVENTS_PATH = "/events"


def create_app(
    client: Any = None,
    *,
    base_path: str = "",
    auth: AuthHook | None = None,
    allowed_hosts: Iterable[str] | None = None,
    timezone: str = "UTC",
    title: str = "pgflow",
    refresh_interval: float = 5.0,
    live: bool = True,
    stale_after: float = 15.0,
    dead_after: float = 60.0,
    query_timeout: float = 10.0,
    pool_size: int = 4,
    allow_actions: bool | None = None,
    secret: str | bytes | None = None,
    overview_cache_ttl: float = 1.0,
) -> Starlette:
    """The dashboard as an ASGI app.

    ``client`` is a pgflow ``Client``/``AsyncClient``, a PostgreSQL URL, or None for the
    configured database (``PGFLOW_DATABASE_URL``, ``DATABASE_URL``, else the embedded server).
    Mount it anywhere (``app.mount("/pgflow", create_app(client))``) or serve it alone; with
    ``base_path`` the app itself answers under that prefix. ``auth`` decides per request (see
    :mod:`pgflow.web.auth`); without it, only requests for a loopback ``Host`` (localhost,
    127.0.0.1, [::1]) are served, unless ``allowed_hosts`` lists more names (``"*"``: any) for a
    dashboard behind your own proxy, and requests from beyond localhost get a loud warning. See
    :mod:`pgflow.web.security` for the checks and headers every request goes through.
    Workers are *stale* after ``stale_after`` seconds without a heartbeat (three of pgflow's
    five-second heartbeats) and *dead* after ``dead_after``. Pages refresh live from the
    database's events, or every ``refresh_interval`` seconds when events cannot be streamed.
    Actions (cancel, retry, resume; see :mod:`pgflow.web.actions`) are on with an ``auth`` hook
    (``allow_actions=False`` turns them off), and without one only with ``allow_actions=True``
    for requests from this machine; ``secret`` signs their CSRF tokens (default: random per process).
    One reading of the overview serves every viewer for ``overview_cache_ttl`` seconds, or until
    a run event (0: every request reads).
    """
    dash = Dashboard(
        store=Store(conninfo_of(client), max_size=pool_size, query_timeout=query_timeout),
        renderer=Renderer(timezone=timezone, title=title, refresh_interval=refresh_interval, live=live),
        stale_after=timedelta(seconds=stale_after),
        dead_after=timedelta(seconds=dead_after),
        live=live,
        cache_ttl=overview_cache_ttl,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> Any:
        try:
            yield
        finally:
            await dash.close()

    dash.actions = Actions(conninfo=lambda: dash.store.conninfo, has_auth=auth is not None, allow=allow_actions,
                           secret=secret.encode() if isinstance(secret, str) else (secret or b""))
    dash.renderer.env.globals["actions_on"] = dash.actions.enabled  # the footer says whether pages can act
    routes = _routes(dash, client)
    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    csp = page_csp(inline_script_hashes(dash.renderer.env))
    guarded = [guard(auth, allowed_hosts, csp)]
    app = Starlette(
        routes=routes,
        middleware=[] if prefix else guarded,
        exception_handlers={
            404: _not_found, HTTPException: _http_error, BadFilter: _bad_filter,
            psycopg.OperationalError: _db_unavailable, psycopg.Error: _db_error,
            DatabaseUnavailable: _db_unavailable, SchemaError: _db_error,
        },
        lifespan=lifespan,
    )
    app.state.dashboard = dash
    if not prefix:
        return app
    outer = Starlette(
        routes=[Route("/", lambda r: RedirectResponse(prefix + "/")), Mount(prefix, app=app)],
        middleware=guarded,
        lifespan=lifespan,
    )
    outer.state.dashboard = dash
    return outer


def _routes(dash: Dashboard, client: Any) -> list[BaseRoute]:
    from pgflow.web import actions, run_actions  # noqa: F401 - run_actions declares the run-control actions
    from pgflow.web import flow_control  # noqa: F401 - declares pause_flow / resume_flow
    from pgflow.web.pages import flows, overview, run, runs, schedules, workers

    routes: list[BaseRoute] = [
        *overview.routes(), *runs.routes(), *run.routes(), *flows.routes(), *schedules.routes(), *workers.routes(),
        *actions.routes(),
        Mount("/static", app=StaticFiles(packages=[("pgflow.web", "static")]), name="static"),
        metrics_route(dash.store),
    ]
    if dash.live:
        routes.append(Mount(EVENTS_PATH, app=_event_stream(dash, client), name="events"))
        dash.renderer.env.globals["sse_path"] = EVENTS_PATH
    return routes


def _event_stream(dash: Dashboard, client: Any) -> Any:
    """The Server-Sent Events app of pgflow.web.sse, on an AsyncClient (the given one, or ours)."""
    from pgflow.client import AsyncClient
    from pgflow.web.sse import stream_routes

    if not isinstance(client, AsyncClient):
        client = dash.events_client = AsyncClient(conninfo_of(client), max_size=2)
    dash.live_client = client  # its events also end the overview's shared readings
    return Starlette(routes=stream_routes(client))  # behind the dashboard's own guard


async def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    dash = dashboard_of(request)
    return dash.page(request, "error.html", {"title": title, "message": message}, status_code=status, live=None)


async def _not_found(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", None)
    message = detail if isinstance(detail, str) and detail != "Not Found" else "There is no such page."
    return await _error_page(request, 404, "Not found", message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return await _error_page(request, exc.status_code, "Error", str(exc.detail))


async def _bad_filter(request: Request, exc: Exception) -> Response:
    return await _error_page(request, 400, "Bad request", str(exc))


async def _db_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("pgflow dashboard: database unavailable: %s", exc)
    first = first_line(exc)
    return await _error_page(request, 503, "Database unavailable",
                             f"The dashboard cannot reach PostgreSQL ({first}). Check the database URL and that "
                             "the server is running; this page retries by itself.")


async def _db_error(request: Request, exc: Exception) -> Response:
    log.exception("pgflow dashboard: query failed", exc_info=exc)
    first = first_line(exc)
    hint = ""
    if isinstance(exc, (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedFunction,
                        psycopg.errors.InvalidSchemaName)):
        hint = " The pgflow schema looks missing or old: run `pgflow db install` against this database."
    return await _error_page(request, 500, "Database error", f"A dashboard query failed: {first}.{hint}")
