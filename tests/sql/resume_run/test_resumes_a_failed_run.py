import psycopg

from tests.sql.helpers import (
    complete_task, define_flow, drain_notifies, fail_task, listener, read_and_start, register_worker, run_row, scalar,
    start_flow, step_state,
)
from tests.sql.resume_run.helpers import queued, resume_run

ITEMS = list(range(10))


def _map_flow(conn):
    define_flow(conn, "m", [("items", [], {"step_type": "map"}), ("total", ["items"])], max_attempts=1)


def _finish(conn, run_id, outputs):
    """Claim the run's visible tasks and complete each with outputs[(step, index)](...)."""
    worker = register_worker(conn, "m")
    while True:
        claimed = [t for t in read_and_start(conn, "m", worker) if t["run_id"] == run_id]
        if not claimed:
            return
        for t in claimed:
            complete_task(conn, run_id, t["step_slug"], t["task_index"], outputs(t["step_slug"], t["task_index"]))


def _outputs(step, index):
    return index * 10 if step == "items" else "sum"


def test_a_map_with_9_of_10_items_completed_runs_exactly_1_new_task_and_the_clean_output(conn):
    _map_flow(conn)
    clean = start_flow(conn, "m", ITEMS)
    _finish(conn, clean, _outputs)
    assert run_row(conn, clean)["status"] == "completed"

    original = start_flow(conn, "m", ITEMS)
    worker = register_worker(conn, "m")
    tasks = [t for t in read_and_start(conn, "m", worker) if t["run_id"] == original]
    for t in tasks:
        if t["task_index"] != 7:
            complete_task(conn, original, "items", t["task_index"], t["task_index"] * 10)
    fail_task(conn, original, "items", 7, "boom")
    assert run_row(conn, original)["status"] == "failed"

    resumed = resume_run(conn, original)

    assert run_row(conn, resumed)["retry_of"] == original
    assert queued(conn, resumed) == [("items", 7)]
    assert step_state(conn, resumed, "items")["remaining_tasks"] == 1
    assert scalar(conn, "SELECT count(*) FROM pgmq.q_m WHERE message->>'run_id' = %s", (str(resumed),)) == 1
    _finish(conn, resumed, _outputs)
    new = run_row(conn, resumed)
    assert new["status"] == "completed"
    assert new["output"] == run_row(conn, clean)["output"]
    assert step_state(conn, resumed, "items")["output"] == [i * 10 for i in ITEMS]


def test_a_chain_failed_at_b_reuses_a_and_runs_b_then_c(conn):
    define_flow(conn, "c", [("a", []), ("b", ["a"]), ("c", ["b"])], max_attempts=1)
    original = start_flow(conn, "c", {"x": 1})
    worker = register_worker(conn, "c")
    read_and_start(conn, "c", worker)
    complete_task(conn, original, "a", 0, {"a": 1})
    read_and_start(conn, "c", worker)
    fail_task(conn, original, "b", 0, "boom")

    resumed = resume_run(conn, original)

    assert queued(conn, resumed) == [("b", 0)]
    a = step_state(conn, resumed, "a")
    assert (a["status"], a["output"]) == ("completed", {"a": 1})
    assert run_row(conn, resumed)["remaining_steps"] == 2
    claimed = read_and_start(conn, "c", worker)
    assert [(t["step_slug"], t["input"]["a"]) for t in claimed] == [("b", {"a": 1})]
    complete_task(conn, resumed, "b", 0, "B")
    assert queued(conn, resumed) == [("c", 0)]
    read_and_start(conn, "c", worker)
    complete_task(conn, resumed, "c", 0, "C")
    new = run_row(conn, resumed)
    assert (new["status"], new["output"]) == ("completed", {"c": "C"})


def test_a_cancelled_run_is_resumed(conn):
    define_flow(conn, "c", [("a", []), ("b", ["a"])])
    original = start_flow(conn, "c", {"x": 1})
    read_and_start(conn, "c", register_worker(conn, "c"))
    complete_task(conn, original, "a", 0, 1)
    conn.execute("SELECT pgflow.cancel_run(%s, 'stop')", (original,))

    resumed = resume_run(conn, original)

    assert run_row(conn, resumed)["retry_of"] == original
    assert queued(conn, resumed) == [("b", 0)]


def test_the_original_is_left_as_it_was(conn):
    define_flow(conn, "c", [("a", [])], max_attempts=1)
    original = start_flow(conn, "c", {})
    read_and_start(conn, "c", register_worker(conn, "c"))
    fail_task(conn, original, "a", 0, "boom")
    before = run_row(conn, original)

    resume_run(conn, original)

    assert run_row(conn, original) == before


def test_a_dependent_map_partly_done_reruns_only_its_failed_item_and_the_steps_after_it(conn):
    define_flow(conn, "d", [("a", []), ("b", ["a"], {"step_type": "map"}), ("c", ["b"])], max_attempts=1)
    original = start_flow(conn, "d", {})
    worker = register_worker(conn, "d")
    read_and_start(conn, "d", worker)
    complete_task(conn, original, "a", 0, ["x", "y", "z"])
    read_and_start(conn, "d", worker)
    complete_task(conn, original, "b", 0, "X")
    complete_task(conn, original, "b", 2, "Z")
    fail_task(conn, original, "b", 1, "boom")

    resumed = resume_run(conn, original)

    assert queued(conn, resumed) == [("b", 1)]
    [claimed] = read_and_start(conn, "d", worker)
    assert (claimed["step_slug"], claimed["task_index"], claimed["input"]) == ("b", 1, "y")
    complete_task(conn, resumed, "b", 1, "Y")
    assert step_state(conn, resumed, "b")["output"] == ["X", "Y", "Z"]
    [claimed] = read_and_start(conn, "d", worker)
    assert claimed["input"]["b"] == ["X", "Y", "Z"]
    complete_task(conn, resumed, "c", 0, "done")
    assert run_row(conn, resumed)["output"] == {"c": "done"}


def test_reused_steps_emit_step_completed_and_the_queued_ones_step_started(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "ev", [("a", []), ("b", ["a"])], max_attempts=1)
        original = start_flow(conn, "ev", {})
        worker = register_worker(conn, "ev")
        read_and_start(conn, "ev", worker)
        complete_task(conn, original, "a", 0, 1)
        read_and_start(conn, "ev", worker)
        fail_task(conn, original, "b", 0, "boom")
        conn.commit()
        drain_notifies(listen, timeout=2)

        resumed = resume_run(conn, original)
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=3)

        assert [(e["event_type"], e.get("step_slug")) for e in events] == [
            ("run:started", None), ("step:completed", "a"), ("step:started", "b")]
        assert {e["run_id"] for e in events} == {str(resumed)}
        assert events[1]["output"] == 1
        assert scalar(conn, "SELECT count(*) FROM pgflow.step_tasks WHERE run_id = %s AND message_id IS NULL",
                      (resumed,)) == 1  # a's copied task: no message sent


def test_the_items_a_partly_done_map_reuses_emit_task_completed(db_url):
    with psycopg.connect(db_url) as conn, listener(db_url) as listen:
        define_flow(conn, "pm", [("items", [], {"step_type": "map"})], max_attempts=1)
        original = start_flow(conn, "pm", [1, 2, 3])
        worker = register_worker(conn, "pm")
        read_and_start(conn, "pm", worker)
        complete_task(conn, original, "items", 0, "one")
        complete_task(conn, original, "items", 2, "three")
        fail_task(conn, original, "items", 1, "boom")
        conn.commit()
        drain_notifies(listen, timeout=2)

        resume_run(conn, original)
        conn.commit()
        events = drain_notifies(listen, timeout=5, stop_after=4)

        assert [e["event_type"] for e in events] == ["run:started", "step:started", "task:completed", "task:completed"]
        assert sorted((e["task_index"], e["output"]) for e in events[2:]) == [(0, "one"), (2, "three")]
