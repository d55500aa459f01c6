"""``/metrics`` on the dashboard app: Prometheus text, behind the dashboard's own guard and auth."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pgflow.errors import MissingExtra
from pgflow.web.store import Store


def metrics_route(store: Store) -> Route:
    """The route; its totals live as long as the app (see :mod:`pgflow.metrics`)."""
    state: dict[str, Any] = {}
    lock = asyncio.Lock()

    async def endpoint(request: Request) -> Response:
        from pgflow.metrics import CONTENT_TYPE, Metrics

        try:
            async with lock:  # one scrape at a time: each counts what changed since the previous one
                metrics = state.get("metrics") or state.setdefault("metrics", Metrics())
                metrics.apply(await store.run(metrics.operation()))
                body = metrics.render()
        except MissingExtra as exc:
            return PlainTextResponse(str(exc) + "\n", status_code=501)
        return Response(body, media_type=CONTENT_TYPE)

    return Route("/metrics", endpoint, name="metrics")
