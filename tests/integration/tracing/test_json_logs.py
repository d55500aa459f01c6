"""``pgflow worker --log-format json``: every line a JSON object with the run, step and task ids
and the trace id of the run, so logs and traces join up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402

from pgflow import Client  # noqa: E402
from tests.helpers import eventually  # noqa: E402
from tests.integration.tracing import flows  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]


def test_json_lines_carry_the_ids_and_the_trace_id(db_url: str, tmp_path: Path) -> None:
    env = dict(os.environ, PGFLOW_DATABASE_URL=db_url, PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    env.pop("PGFLOW_TEST_SPANS", None)
    out_path, err_path = tmp_path / "out", tmp_path / "err"
    with Client(db_url) as client:
        client.compile(flows.traced)
        with TracerProvider().get_tracer("test").start_as_current_span("request") as request:
            run_id = client.start_flow(flows.traced, {"n": 2})
        with open(out_path, "w") as out, open(err_path, "w") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "pgflow", "worker", "tests.integration.tracing.flows", "--log-format", "json",
                 "--name", "json-worker"], cwd=ROOT, env=env, stdout=out, stderr=err)
        try:
            eventually(lambda: client.get_run(run_id).status == "completed", timeout=60, message="the run completes")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)

    lines: list[dict[str, Any]] = [json.loads(line) for line in out_path.read_text().splitlines()]
    assert lines[0]["event"] == "worker.start" and lines[-1]["event"] == "worker.stopped"
    trace_id = f"{request.get_span_context().trace_id:032x}"
    tasks = [line for line in lines if line["event"] in ("task.started", "task.completed", "task.failed")]
    assert {line["step_slug"] for line in tasks} == {"items", "double", "total"}
    for line in tasks:
        assert line["run_id"] == str(run_id) and line["flow_slug"] == "traced"
        assert line["trace_id"] == trace_id
        assert {"task_index", "attempt", "time", "level"} <= set(line)
    failed = next(line for line in tasks if line["event"] == "task.failed")
    assert failed["step_slug"] == "total" and failed["level"] == "WARNING" and "first attempt" in failed["error"]
    for text in err_path.read_text().splitlines():  # the log records on stderr are JSON too
        json.loads(text)
