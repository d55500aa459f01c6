"""Setup helpers for the SQL behaviour tests (plain SQL through psycopg, no pgflow Python API).

Flows are described compactly: ``define_flow(conn, "f", [("a", []), ("b", ["a"], {"step_type": "map"})])``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

StepSpec = tuple[str, Sequence[str]] | tuple[str, Sequence[str], dict[str, Any]]

_ADD_STEP = """
    SELECT pgflow.add_step(%(flow)s, %(step)s, %(deps)s::text[],
        max_attempts => %(max_attempts)s, base_delay => %(base_delay)s, timeout => %(timeout)s,
        start_delay => %(start_delay)s, step_type => %(step_type)s,
        required_input_pattern => %(required_input_pattern)s,
        forbidden_input_pattern => %(forbidden_input_pattern)s,
        when_unmet => %(when_unmet)s, when_exhausted => %(when_exhausted)s)
"""

_STEP_DEFAULTS: dict[str, Any] = {
    "max_attempts": None, "base_delay": None, "timeout": None, "start_delay": None,
    "step_type": "single", "required_input_pattern": None, "forbidden_input_pattern": None,
    "when_unmet": "skip", "when_exhausted": "fail",
}


def rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    """Run a query and return its rows as dicts."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def row(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any] | None:
    found = rows(conn, query, params)
    return found[0] if found else None


def scalar(conn: psycopg.Connection, query: str, params: Any = None) -> Any:
    result = conn.execute(query, params).fetchone()
    return None if result is None else result[0]


def add_step(conn: psycopg.Connection, flow: str, step: str, deps: Sequence[str] = (), **options: Any) -> None:
    params = {**_STEP_DEFAULTS, **options, "flow": flow, "step": step, "deps": list(deps)}
    for key in ("required_input_pattern", "forbidden_input_pattern"):
        if params[key] is not None:
            params[key] = Jsonb(params[key])
    conn.execute(_ADD_STEP, params)


def define_flow(conn: psycopg.Connection, flow: str, steps: Iterable[StepSpec], *, max_attempts: int | None = None,
                base_delay: int | None = None, timeout: int | None = None) -> None:
    """Create a flow and add its steps in the given order."""
    conn.execute("SELECT pgflow.create_flow(%s, %s, %s, %s)", (flow, max_attempts, base_delay, timeout))
    for spec in steps:
        slug, deps = spec[0], spec[1]
        options = spec[2] if len(spec) > 2 else {}  # type: ignore[misc]
        add_step(conn, flow, slug, deps, **options)


def start_flow(conn: psycopg.Connection, flow: str, flow_input: Any = None, run_id: uuid.UUID | None = None) -> uuid.UUID:
    """Start a run through pgflow.start_flow and return its run_id."""
    return scalar(conn, "SELECT run_id FROM pgflow.start_flow(%s, %s, %s)",
                  (flow, Jsonb({} if flow_input is None else flow_input), run_id))


def register_worker(conn: psycopg.Connection, queue: str, function_name: str = "tests") -> uuid.UUID:
    """Insert a pgflow.workers row (start_tasks records the worker in step_tasks.last_worker_id)."""
    worker_id = uuid.uuid4()
    conn.execute("INSERT INTO pgflow.workers (worker_id, queue_name, function_name) VALUES (%s, %s, %s)",
                 (worker_id, queue, function_name))
    return worker_id


def read_and_start(conn: psycopg.Connection, flow: str, worker_id: uuid.UUID, qty: int = 100,
                   vt: int = 60) -> list[dict[str, Any]]:
    """Read visible messages of the flow's queue (lower(flow)) and claim their tasks with start_tasks."""
    queue = flow.lower()
    msg_ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read(%s, %s, %s)", (queue, vt, qty))]
    if not msg_ids:
        return []
    return rows(conn, "SELECT * FROM pgflow.start_tasks(%s, %s::bigint[], %s, %s)", (flow, msg_ids, worker_id, queue))


def complete_task(conn: psycopg.Connection, run_id: uuid.UUID, step: str, task_index: int, output: Any) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM pgflow.complete_task(%s, %s, %s, %s)", (run_id, step, task_index, Jsonb(output)))


def fail_task(conn: psycopg.Connection, run_id: uuid.UUID, step: str, task_index: int, error: str) -> list[dict[str, Any]]:
    return rows(conn, "SELECT * FROM pgflow.fail_task(%s, %s, %s, %s)", (run_id, step, task_index, error))


def run_row(conn: psycopg.Connection, run_id: uuid.UUID) -> dict[str, Any]:
    found = row(conn, "SELECT * FROM pgflow.runs WHERE run_id = %s", (run_id,))
    assert found is not None, f"run {run_id} not found"
    return found


def step_state(conn: psycopg.Connection, run_id: uuid.UUID, step: str) -> dict[str, Any]:
    found = row(conn, "SELECT * FROM pgflow.step_states WHERE run_id = %s AND step_slug = %s", (run_id, step))
    assert found is not None, f"step state {step} of run {run_id} not found"
    return found


def task(conn: psycopg.Connection, run_id: uuid.UUID, step: str, task_index: int = 0) -> dict[str, Any]:
    found = row(conn, "SELECT * FROM pgflow.step_tasks WHERE run_id = %s AND step_slug = %s AND task_index = %s",
                (run_id, step, task_index))
    assert found is not None, f"task {step}[{task_index}] of run {run_id} not found"
    return found


def queue_messages(conn: psycopg.Connection, flow: str) -> list[dict[str, Any]]:
    """Rows of the flow's pgmq queue table (active messages), ordered by msg_id."""
    return rows(conn, sql.SQL("SELECT * FROM pgmq.{} ORDER BY msg_id").format(
        sql.Identifier("q_" + flow.lower())))


def archived_messages(conn: psycopg.Connection, flow: str) -> list[dict[str, Any]]:
    """Rows of the flow's pgmq archive table, ordered by msg_id."""
    return rows(conn, sql.SQL("SELECT * FROM pgmq.{} ORDER BY msg_id").format(
        sql.Identifier("a_" + flow.lower())))


def drain_notifies(conn: psycopg.Connection, timeout: float = 0.5, stop_after: int | None = None) -> list[dict[str, Any]]:
    """Collect pgflow event payloads received by a LISTENing autocommit connection."""
    events: list[dict[str, Any]] = []
    for note in conn.notifies(timeout=timeout, stop_after=stop_after):
        events.append(json.loads(note.payload))
    return events


def mark_step_completed(conn: psycopg.Connection, run_id: uuid.UUID, step: str, output: Any) -> None:
    """Set one step state to completed with ``output`` (no cascade): set-up for tests of the run-side
    functions that read completed dependencies."""
    conn.execute(
        "UPDATE pgflow.step_states SET status = 'completed', output = %s, remaining_tasks = 0,"
        " started_at = coalesce(started_at, now()), completed_at = now()"
        " WHERE run_id = %s AND step_slug = %s",
        (Jsonb(output), run_id, step))


def set_step_state(conn: psycopg.Connection, run_id: uuid.UUID, step: str, **columns: Any) -> None:
    """Overwrite columns of one step state (set-up only), e.g. ``remaining_deps=0, initial_tasks=3``."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in columns)
    conn.execute(sql.SQL("UPDATE pgflow.step_states SET {} WHERE run_id = %(run_id)s AND step_slug = %(step)s")
                 .format(assignments), {**columns, "run_id": run_id, "step": step})


def listener(url: str) -> psycopg.Connection:
    """An autocommit connection LISTENing to every pgflow event (``drain_notifies`` reads them)."""
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("SELECT pgflow.subscribe('pgflow:events')")
    return conn


def shape_of(steps: Iterable[StepSpec]) -> dict[str, Any]:
    """A FlowShape for ``steps`` given as in define_flow (options: step_type, when_unmet, when_exhausted)."""
    shape_steps = []
    for spec in steps:
        options = spec[2] if len(spec) > 2 else {}  # type: ignore[misc]
        shape_steps.append({
            "slug": spec[0], "stepType": options.get("step_type", "single"), "dependencies": sorted(spec[1]),
            "whenUnmet": options.get("when_unmet", "skip"), "whenExhausted": options.get("when_exhausted", "fail"),
            "requiredInputPattern": {"defined": False}, "forbiddenInputPattern": {"defined": False},
        })
    return {"steps": shape_steps}


def compile_flow(conn: psycopg.Connection, flow: str, steps: Iterable[StepSpec], queue_mode: str = "flow",
                 route_map: Any = None) -> dict[str, Any]:
    """pgflow.ensure_flow_compiled with the shape of ``steps`` (queue_mode 'step': private step queues)."""
    return scalar(conn, "SELECT pgflow.ensure_flow_compiled(%s, %s, %s, %s)",
                  (flow, Jsonb(shape_of(steps)), queue_mode, None if route_map is None else Jsonb(route_map)))


def read_and_start_step(conn: psycopg.Connection, flow: str, step: str, queue: str, worker_id: uuid.UUID,
                        qty: int = 100) -> list[dict[str, Any]]:
    """Read visible messages of a step's private queue and claim them with start_tasks' step selector."""
    msg_ids = [r[0] for r in conn.execute("SELECT msg_id FROM pgmq.read(%s, 60, %s)", (queue, qty))]
    if not msg_ids:
        return []
    return rows(conn, "SELECT * FROM pgflow.start_tasks(%s, %s::bigint[], %s, %s, %s)",
                (flow, msg_ids, worker_id, queue, step))


def listed_queues(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT queue_name FROM pgmq.list_queues() ORDER BY queue_name")]


def in_thread(db_url: str, call: Any, results: list[Any]) -> tuple[Any, psycopg.Connection]:
    """Run ``call(conn)`` on a new connection in a thread, then commit; its result or exception
    is appended to ``results``. Returns the thread and the connection (for races on locks)."""
    import threading

    conn = psycopg.connect(db_url)

    def run() -> None:
        try:
            results.append(call(conn))
            conn.commit()
        except BaseException as exc:  # reported by the test
            results.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, conn
