"""``pgflow.testing.run_inline`` against the real engine: the same flows, the same outcomes.

Every case of ``tests/parity_flows.py`` runs once inline and once on a real database with a real
worker (all engine runs share one database and one drain, so the module takes seconds); each
test compares one case: the run's status and output, every step's status, output, skip reason
and error message, and the tasks (status, output, attempts, error) of each step whose tasks all
ran to an end; values are also compared as JSON text (types and object key order included).
The engine is the reference: when they disagree, ``pgflow/testing.py`` is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pgflow
from pgflow.testing import InlineRun, drain, run_inline
from tests.conftest import create_database, drop_database, url_for
from tests.parity_flows import CASES, FLOWS, REFUSED, Case


@pytest.fixture(scope="module")
def engine_runs(pg_admin_url: str, template_url: str) -> Iterator[dict[str, pgflow.Run]]:
    """Every case run on the engine: compiled, started, drained by a worker, read back."""
    name = create_database(pg_admin_url)
    try:
        with pgflow.Client(url_for(pg_admin_url, name)) as client:
            for flow in FLOWS:
                client.compile(flow)
            run_ids = {case.name: client.enqueue(case.flow, case.input) if isinstance(case.flow, pgflow.Job)
                       else client.start_flow(case.flow, case.input) for case in CASES}
            drain(client, FLOWS, timeout=60)
            yield {case: client.get_run_with_states(run_id) for case, run_id in run_ids.items()}
    finally:
        drop_database(pg_admin_url, name)


PACKAGE = str(Path(pgflow.__file__).parent)


def _user_frames(error: str | None) -> str | None:
    """An error message without the traceback frames inside pgflow itself.

    The worker calls a sync handler from a thread, ``run_inline`` directly: the frames between
    the executor and the handler differ by design, the message and the user's frames must not.
    """
    if error is None:
        return None
    kept: list[str] = []
    in_package = False
    for line in error.splitlines():
        if line.startswith('  File "'):
            in_package = line[len('  File "'):].startswith(PACKAGE)
        elif not line.startswith("    "):
            in_package = False
        if not in_package:
            kept.append(line)
    return "\n".join(kept)


def _settled(status: str, tasks: list[Any]) -> bool:
    """Whether a step's tasks all ran to an end on both sides.

    A failed or skipped map step stops its other tasks wherever they were on the engine (its
    siblings run concurrently); inline they are never started. Their tasks are not compared.
    """
    return status == "completed" or len(tasks) <= 1


def engine_outcome(run: pgflow.Run) -> dict[str, Any]:
    steps = {}
    for s in run.step_states:
        tasks = sorted(s.tasks, key=lambda t: t.task_index)
        steps[s.step_slug] = {
            "status": s.status, "output": s.output, "skip_reason": s.skip_reason,
            "error_message": _user_frames(s.error_message),
            "tasks": [(t.task_index, t.status, t.output, t.attempts_count, _user_frames(t.error_message))
                      for t in tasks]
            if _settled(s.status, tasks) else "unsettled",
        }
    return {"status": run.status, "output": run.output, "steps": steps}


def inline_outcome(run: InlineRun) -> dict[str, Any]:
    steps = {}
    for s in run.step_states:
        steps[s.step_slug] = {
            "status": s.status, "output": s.output, "skip_reason": s.skip_reason,
            "error_message": _user_frames(s.error_message),
            "tasks": [(t.task_index, t.status, t.output, t.attempts, _user_frames(t.error_message))
                      for t in s.tasks]
            if _settled(s.status, s.tasks) else "unsettled",
        }
    return {"status": run.status, "output": run.output, "steps": steps}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_run_inline_ends_as_the_engine_does(case: Case, engine_runs: dict[str, pgflow.Run]) -> None:
    engine = engine_outcome(engine_runs[case.name])
    inline = inline_outcome(run_inline(case.flow, case.input, raise_on_failure=False))
    assert inline["status"] == engine["status"]
    assert inline["output"] == engine["output"]
    assert list(inline["steps"]) == list(engine["steps"]), "the steps, in step order"
    for slug, expected in engine["steps"].items():
        assert inline["steps"][slug] == expected, f"step {slug!r}"
    # and as JSON text: == takes True for 1 and ignores the order of object keys, handlers do not
    assert json.dumps(inline) == json.dumps(engine)


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.name)
def test_run_inline_refuses_what_the_engine_refuses(case: Case, db_url: str) -> None:
    with pgflow.Client(db_url) as client:
        client.compile(case.flow)
        with pytest.raises(pgflow.PgFlowError) as by_engine:
            client.start_flow(case.flow, case.input)
    with pytest.raises(pgflow.PgFlowError) as inline:
        run_inline(case.flow, case.input)
    assert type(inline.value) is type(by_engine.value)


def test_the_cases_cover_every_outcome(engine_runs: dict[str, pgflow.Run]) -> None:
    """The parity cases keep reaching every status and skip reason (so the comparison means something)."""
    runs = engine_runs.values()
    assert {r.status for r in runs} == {"completed", "failed"}
    steps = [s for r in runs for s in r.step_states]
    assert {s.status for s in steps} >= {"created", "completed", "failed", "skipped"}
    assert {s.skip_reason for s in steps} >= {"condition_unmet", "dependency_skipped", "handler_failed"}
    assert any(t.attempts_count > 1 and t.status == "completed" for s in steps for t in s.tasks)
    assert any(s.error_message and s.error_message.startswith("[TYPE_VIOLATION]") for s in steps)
