"""pgflow-py in a FastAPI app: the pattern of docs/guides/fastapi.md, runnable.

    pip install 'pgflow-py[web]' fastapi uvicorn
    PGFLOW_DATABASE_URL=postgresql://localhost/app uvicorn examples.fastapi_orders:app

POST /orders {"items": [1, 2]} starts a run (from a background task, after the response);
GET /orders/<run_id> reads it; the dashboard and its live events are at /pgflow/, for requests
carrying the header ``X-Staff: yes`` (stand-in for your application's own auth).
"""

from __future__ import annotations

from typing import Any

from fastapi import BackgroundTasks, Depends, FastAPI, Request

import pgflow
from pgflow.contrib.asgi import PgFlow

checkout = pgflow.Flow("fastapi_checkout")


@checkout.array
def items(input: Any) -> list[int]:
    return list(input["items"])


@checkout.map(array=items)
def price(item: int) -> int:
    return item * 100


@checkout.step(depends_on=[price])
def total(deps: Any) -> int:
    return sum(deps["price"])


def is_staff(request: Request) -> bool:  # your application's auth decides who sees the dashboard
    return request.headers.get("x-staff") == "yes"


# --- the pattern: lifespan (client + in-process worker), dependency, dashboard mounted with your auth
pg = PgFlow(flows=[checkout], worker=True)
app = FastAPI(lifespan=pg.lifespan)
app.mount("/pgflow", pg.dashboard(auth=is_staff))


@app.post("/orders", status_code=202)
async def order(body: dict[str, Any], tasks: BackgroundTasks, client: pgflow.AsyncClient = Depends(pg.client)) -> Any:
    run_id = await client.new_run_id()
    tasks.add_task(client.start_flow, checkout, body, run_id)  # after the response: a coroutine function
    return {"run_id": str(run_id)}


@app.get("/orders/{run_id}")
async def order_status(run_id: str, client: pgflow.AsyncClient = Depends(pg.client)) -> Any:
    run = await client.get_run(run_id)
    return {"status": str(run.status), "output": run.output}
