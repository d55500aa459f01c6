"""A web page that starts a flow from a button and shows its steps change live.

    pip install 'pgflow-py[web,examples]'
    PGFLOW_DATABASE_URL=postgresql://localhost/app uvicorn examples.live_fastapi.app:app

Open http://127.0.0.1:8000 and press the button. The page follows the run through
``pgflow.web.sse.event_stream`` (mounted at /pgflow) with ``pgflow-live.js``.

The app runs a worker for its flow in the same process. With ``PGFLOW_EXAMPLE_WORKER=0`` it
does not, and ``pgflow worker examples.live_fastapi.app:report`` runs it elsewhere.
``PGFLOW_EXAMPLE_STEP_SECONDS`` (default 0.5) is how long each task pretends to work.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse

import pgflow
from pgflow.web.sse import event_stream

HERE = Path(__file__).parent
LIVE_JS = Path(pgflow.__file__).parent / "web" / "static" / "pgflow-live.js"
WORK = float(os.environ.get("PGFLOW_EXAMPLE_STEP_SECONDS", "0.5"))

report = pgflow.Flow("live_report", max_attempts=2, base_delay=1)


@report.step
async def fetch(input):
    await asyncio.sleep(WORK)
    return {"pages": list(range(1, int(input.get("pages", 3)) + 1))}


@report.array(depends_on=[fetch])
def pages(deps):
    return deps["fetch"]["pages"]


@report.map(array=pages)
async def render(page):
    await asyncio.sleep(WORK)
    return f"page {page} rendered"


@report.step(depends_on=[render])
async def publish(deps):
    await asyncio.sleep(WORK)
    return {"published": len(deps["render"])}


client = pgflow.AsyncClient(os.environ.get("PGFLOW_DATABASE_URL") or os.environ.get("DATABASE_URL"))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await client.open()
    await client.compile(report)
    worker = None
    if os.environ.get("PGFLOW_EXAMPLE_WORKER", "1") != "0":
        worker = pgflow.Worker(client, [report], name="live-fastapi-example", shutdown_timeout=5)
        await worker.start()
    try:
        yield
    finally:
        if worker is not None:
            await worker.stop()
        await client.close()


app = FastAPI(title="pgflow live example", lifespan=lifespan)
app.mount("/pgflow", event_stream(client))


@app.get("/", response_class=HTMLResponse)
async def page() -> str:
    return (HERE / "index.html").read_text(encoding="utf-8")


@app.get("/pgflow-live.js")
async def live_js() -> FileResponse:
    return FileResponse(LIVE_JS, media_type="text/javascript")


@app.post("/runs")
async def start_run(pages: int = 3) -> dict[str, str]:
    run_id = await client.start_flow(report, {"pages": pages})
    return {"run_id": str(run_id)}
