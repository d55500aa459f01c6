"""The dashboard's shared state: what every page handler needs, and how a request finds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pgflow.web.render import Renderer
from pgflow.web.store import Store


@dataclass
class Dashboard:
    """What every page handler needs: the store, the templates and the settings."""

    store: Store
    renderer: Renderer
    stale_after: timedelta
    dead_after: timedelta
    live: bool
    events_client: Any = None  # the AsyncClient behind the event stream, when this app made it
    actions: Any = None  # pgflow.web.actions.Actions: who may act, and the writable connections

    async def close(self) -> None:
        """Close the dashboard's connections (the standalone app's lifespan does it on shutdown)."""
        await self.store.close()
        client, self.events_client = self.events_client, None
        if client is not None:
            await client.close()
        if self.actions is not None:
            await self.actions.close()

    def page(self, request: Request, template: str, context: dict[str, Any], **kw: Any) -> Response:
        return self.renderer.page(request, template, {"nav": template.split(".")[0], **context}, **kw)


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard
