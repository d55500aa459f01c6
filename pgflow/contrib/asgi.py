"""pgflow-py in a FastAPI, Starlette or any ASGI application, in a few lines::

    from fastapi import BackgroundTasks, Depends, FastAPI
    from pgflow.contrib.asgi import PgFlow

    pgflow_app = PgFlow(flows=[checkout], worker=True)     # an AsyncClient (and a worker in this process)
    app = FastAPI(lifespan=pgflow_app.lifespan)
    app.mount("/pgflow", pgflow_app.dashboard(auth=is_staff))  # dashboard + live events, your auth

    @app.post("/orders")
    async def order(body: dict, tasks: BackgroundTasks, client=Depends(pgflow_app.client)):
        tasks.add_task(client.start_flow, checkout, body)   # client methods are coroutine functions

``lifespan`` opens the client, compiles the flows, starts the optional worker, and closes all of
it (and the dashboards' connections) at shutdown; inside a lifespan of your own, use
``async with pgflow_app.lifespan(app):``. ``client`` is a dependency returning the open
:class:`pgflow.AsyncClient`. ``dashboard(auth=...)`` is :func:`pgflow.web.create_app` on that
client: pages and the server-sent events under the prefix you mount it at, behind your auth hook
(a function of the request returning True, False/None, or a Response).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from pgflow.client import AsyncClient
from pgflow.dsl.flow import Flow
from pgflow.errors import ConfigurationError
from pgflow.worker import Worker


class PgFlow:
    """One application's pgflow: its client, its optional in-process worker, its dashboards.

    ``database_url`` defaults to the configured database (``PGFLOW_DATABASE_URL``,
    ``DATABASE_URL``). ``flows`` are compiled at startup and, with ``worker=True``, run by a worker
    in this process (for small deployments; ``worker_options`` go to :class:`pgflow.Worker`).
    """

    def __init__(self, database_url: str | None = None, *, flows: Iterable[Flow] = (), worker: bool = False,
                 compile: bool = True, **worker_options: Any) -> None:
        self.flows = list(flows)
        if worker and not self.flows:
            raise ConfigurationError("PgFlow(worker=True) needs the flows it runs: PgFlow(flows=[...], worker=True)")
        self._client = AsyncClient(database_url)
        self._run_worker = worker
        self._compile = compile
        self._worker_options = worker_options
        self.worker: Worker | None = None
        self._dashboards: list[Any] = []
        self._open = False

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Open the client (compile the flows, start the worker) for the application's life."""
        await self._client.open()
        self._open = True
        try:
            if self._compile:
                for flow in self.flows:
                    await self._client.compile(flow)
            if self._run_worker:
                self.worker = Worker(self._client, self.flows, **self._worker_options)
                await self.worker.start()
            yield
        finally:
            self._open = False
            if self.worker is not None:
                await self.worker.stop()
                self.worker = None
            for dashboard in self._dashboards:
                await dashboard.state.dashboard.close()
            await self._client.close()

    def client(self) -> AsyncClient:
        """The open client (a FastAPI dependency: ``Depends(pgflow_app.client)``)."""
        if not self._open:
            raise ConfigurationError("the pgflow client is not open: give PgFlow.lifespan to the application "
                                     "(FastAPI(lifespan=pgflow_app.lifespan)) or enter it in your own lifespan")
        return self._client

    def dashboard(self, auth: Any = None, **options: Any) -> Any:
        """The dashboard and its live events as an ASGI app to mount (see :func:`pgflow.web.create_app`)."""
        from pgflow.web import create_app

        app = create_app(self._client, auth=auth, **options)
        self._dashboards.append(app)
        return app
