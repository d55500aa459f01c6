"""One trace from the code that starts a run to every task of it, across a real worker process.

The test process starts the run inside an OpenTelemetry span (the SDK's in-memory exporter);
a ``pgflow worker --otel`` subprocess runs the tasks and writes its spans to a file. Every task
span must be in the test's trace, a child of the ``start_flow`` call's span; the handler's own
span a child of its task's; each report a child of the task it reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from pgflow import Client, telemetry  # noqa: E402
from tests.helpers import eventually  # noqa: E402
from tests.integration.tracing import flows  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def exporter() -> Iterator[tuple[InMemorySpanExporter, Any]]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.attach_opentelemetry(provider.get_tracer("pgflow"))
    try:
        yield memory, provider.get_tracer("test")
    finally:
        telemetry.detach_opentelemetry()


@pytest.fixture
def traced_worker(db_url: str, tmp_path: Path) -> Iterator[Path]:
    spans = tmp_path / "spans.jsonl"
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url, PGFLOW_TEST_SPANS=str(spans), PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    with open(tmp_path / "worker.out", "w") as out, open(tmp_path / "worker.err", "w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "pgflow", "worker", "tests.integration.tracing.flows", "--otel",
             "--name", "traced-worker"], cwd=ROOT, env=env, stdout=out, stderr=err)
    try:
        yield spans
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_every_task_of_a_run_continues_the_trace_that_started_it(db_url: str, exporter: Any,
                                                                  traced_worker: Path) -> None:
    memory, tracer = exporter
    with Client(db_url) as client:
        client.compile(flows.traced)
        with tracer.start_as_current_span("POST /orders") as request:
            run_id = client.start_flow(flows.traced, {"n": 3})
        trace_id = f"{request.get_span_context().trace_id:032x}"
        eventually(lambda: client.get_run(run_id).status == "completed", timeout=60,
                   message="the worker completes the run (total fails once, then succeeds)")

    local = {s.name: s for s in memory.get_finished_spans()}
    start = local["pgflow.db.query start_flow"]
    assert f"{start.context.trace_id:032x}" == trace_id
    assert start.parent is not None and start.parent.span_id == request.get_span_context().span_id

    def complete_set() -> list[dict[str, Any]]:
        found = _read(traced_worker)
        assert sum(s["name"] == "pgflow.complete" for s in found) >= 5, [s["name"] for s in found]
        return found

    spans = eventually(complete_set, timeout=30, message="the worker exported the spans of every task and report")
    tasks = [s for s in spans if s["name"].startswith("pgflow.task ")]
    # items (1), double (3), total (2 attempts)
    assert sorted(s["name"] for s in tasks) == ["pgflow.task traced.double"] * 3 + ["pgflow.task traced.items"] + \
        ["pgflow.task traced.total"] * 2
    start_span_id = f"{start.context.span_id:016x}"
    for task in tasks:
        assert task["trace_id"] == trace_id, task
        assert task["parent_id"] == start_span_id, task
        assert task["kind"] == "CONSUMER"
        attributes = task["attributes"]
        assert attributes["messaging.system"] == "pgmq"
        assert attributes["messaging.operation.type"] == "process"
        assert attributes["messaging.destination.name"] == "traced"
        assert attributes["pgflow.run_id"] == str(run_id)
        assert {"pgflow.step_slug", "pgflow.task_index", "pgflow.attempt", "messaging.message.id"} <= set(attributes)

    by_id = {s["span_id"]: s for s in spans}
    inside = [s for s in spans if s["name"] == "inside double"]
    assert len(inside) == 3
    assert all(by_id[s["parent_id"]]["name"] == "pgflow.task traced.double" for s in inside)

    failed_attempt = next(t for t in tasks if t["name"].endswith(".total") and t["attributes"]["pgflow.attempt"] == 1)
    assert failed_attempt["status"] == "ERROR"
    fails = [s for s in spans if s["name"] == "pgflow.fail"]
    assert [by_id[s["parent_id"]]["span_id"] for s in fails] == [failed_attempt["span_id"]]
    for report in (s for s in spans if s["name"] == "pgflow.complete"):
        assert report["trace_id"] == trace_id
        assert by_id[report["parent_id"]]["name"].startswith("pgflow.task ")
        assert report["attributes"]["messaging.operation.type"] == "settle"


def test_the_run_stores_the_w3c_context_of_the_span_current_at_its_start(db_url: str) -> None:
    import psycopg

    tracer = TracerProvider().get_tracer("test")  # the application's tracing; pgflow's bridge not attached
    with Client(db_url) as client:
        client.compile(flows.traced)
        outside = client.start_flow(flows.traced, {"n": 1})
        with tracer.start_as_current_span("request") as request:
            inside = client.start_flow(flows.traced, {"n": 1})
        after = client.start_flow(flows.traced, {"n": 1})
    with psycopg.connect(db_url) as conn:
        rows = dict(conn.execute("SELECT run_id, trace_context FROM pgflow.runs").fetchall())
    assert rows[outside] is None and rows[after] is None
    context = request.get_span_context()
    assert rows[inside] == {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"}
