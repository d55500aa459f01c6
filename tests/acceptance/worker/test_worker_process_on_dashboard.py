"""One ``pgflow worker`` process serving several flows is one worker on the dashboard's overview."""

from __future__ import annotations

import re

import httpx
import psycopg

from pgflow.web.app import create_app
from tests.acceptance.worker.conftest import FLOWS, StartWorker
from tests.helpers import eventually


async def test_one_process_with_three_queues_is_one_worker_with_its_queues(db_url, start_worker: StartWorker):
    worker = start_worker(f"{FLOWS}:pipeline", f"{FLOWS}:sleepy", f"{FLOWS}:fanout", name="three-queues")
    eventually(lambda: "worker ids" in worker.stdout or worker.process.poll() is not None, timeout=30,
               message="the worker prints its banner")
    assert worker.process.poll() is None, worker.stderr
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT queue_name FROM pgflow.workers ORDER BY queue_name").fetchall()
    assert [r[0] for r in rows] == ["fanout", "pipeline", "sleepy"]  # one row per queue in the database

    app = create_app(db_url, timezone="UTC")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as web:
            text = (await web.get("/")).text
    finally:
        await app.state.dashboard.close()
    processes = re.findall(r'<tr data-testid="worker-process">(.*?)</tr>', text, re.S)
    assert len(processes) == 1, processes
    assert "three-queues" in processes[0] and "fanout, pipeline, sleepy" in processes[0]
    assert re.search(r'data-testid="metric-workers">1<', text)
