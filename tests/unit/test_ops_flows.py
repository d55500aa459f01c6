"""pgflow.ops.flows stepped without a database."""

from __future__ import annotations

import pytest

import pgflow
from pgflow.db import Snapshot
from pgflow.errors import FlowDefinitionError, FlowNotFound, FlowShapeMismatch
from pgflow.ops import flows as flow_ops
from tests.unit.ops_steps import first, json_of, play, query


def two_steps() -> pgflow.Flow:
    flow = pgflow.Flow("orders", max_attempts=2)

    @flow.step
    def fetch(input: object) -> int:
        return 1

    @flow.step(depends_on=[fetch])
    def total(deps: object) -> int:
        return 2

    return flow


def flow_row(slug: str, flow_type: str = "flow") -> dict[str, object]:
    return {"flow_slug": slug, "flow_type": flow_type, "opt_max_attempts": 3, "opt_base_delay": 1, "opt_timeout": 60}


def step_row(flow: str, slug: str, index: int, deps: list[str] | None = None) -> dict[str, object]:
    return {"flow_slug": flow, "step_slug": slug, "step_type": "single", "step_index": index, "depends_on": deps or []}


# --- compile -------------------------------------------------------------------------------------

# what a compile stores after the shape, in one transaction that the last one commits
STORED_AFTER_COMPILE = ["flow_control_declare_limits", "client_set_wait_steps", "client_set_flow_type"]
AFTER_COMPILE = (None, 0, 1)  # their replies

def test_compile_sends_the_shape_then_stores_the_flow_type_and_commits() -> None:
    flow = two_steps()
    steps, result = play(flow_ops.compile_flow(flow), {"status": "compiled"}, *AFTER_COMPILE)
    params = query(steps[0], "client_ensure_flow_compiled", "scalar")
    assert params["flow_slug"] == "orders" and params["queue_mode"] == "flow"
    assert json_of(params["shape"]) == flow.compile_shape()
    assert json_of(params["route_map"]) == [{"stepSlug": "fetch", "queueName": "orders"},
                                            {"stepSlug": "total", "queueName": "orders"}]
    assert json_of(query(steps[1], "flow_control_declare_limits", "none")["limits"]) == {}
    assert query(steps[-1], "client_set_flow_type", commits=True) == {"flow_slug": "orders", "flow_type": "flow"}
    assert result == {"status": "compiled", "differences": []}


def test_compile_sends_step_queues_as_queue_mode_step_with_their_routes() -> None:
    flow = pgflow.Flow("Orders", step_queues=True)

    @flow.step
    def fetch(input: object) -> int:
        return 1

    steps, _ = play(flow_ops.compile_flow(flow), {"status": "compiled"}, *AFTER_COMPILE)
    params = query(steps[0], "client_ensure_flow_compiled", "scalar")
    assert params["queue_mode"] == "step"
    assert json_of(params["route_map"]) == [{"stepSlug": "fetch", "queueName": "orders__fetch"}]
    assert json_of(params["shape"]) == flow.compile_shape()  # the shape itself does not change


def test_compile_stores_a_job_as_a_job() -> None:
    job = pgflow.Job("send_email")

    @job.perform
    def send(input: object) -> None:
        return None

    steps, _ = play(flow_ops.compile_flow(job), {"status": "compiled"}, *AFTER_COMPILE)
    assert query(steps[-1], "client_set_flow_type", commits=True)["flow_type"] == "job"


def test_compile_declares_the_limits_the_code_sets_outside_the_shape() -> None:
    flow = pgflow.Flow("orders", max_running=20)

    @flow.step(max_running=2)
    def fetch(input: object) -> int:
        return 1

    steps, _ = play(flow_ops.compile_flow(flow), {"status": "compiled"}, *AFTER_COMPILE)
    declared = query(steps[1], "flow_control_declare_limits", "none")
    assert json_of(declared["limits"]) == {"max_running": 20, "steps": {"fetch": {"max_running": 2}}}
    assert "maxRunning" not in json_of(query(steps[0], "client_ensure_flow_compiled")["shape"])["steps"][0]


def test_compile_raises_flow_shape_mismatch_in_its_own_words_and_stores_nothing_more() -> None:
    op = flow_ops.compile_flow(two_steps())
    next(op)
    stored = op.send({"status": "mismatch", "differences": ["Step count differs: 2 vs 1"]})
    assert query(stored, "client_stored_shape", "scalar") == {"flow_slug": "orders"}
    with pytest.raises(FlowShapeMismatch) as mismatch:
        op.send({"steps": [{"slug": "fetch"}]})
    assert mismatch.value.differences == ["step count differs: 2 in code, 1 in database",
                                          'step 1: "total" exists only in code']


def test_compile_with_allow_data_loss_deletes_and_compiles_again_in_one_transaction() -> None:
    steps, result = play(flow_ops.compile_flow(two_steps(), allow_data_loss=True),
                         {"status": "mismatch", "differences": []}, {"steps": [{"slug": "fetch"}]}, None,
                         {"status": "compiled"}, *AFTER_COMPILE)
    assert [s.sql for s in steps] == ["client_ensure_flow_compiled", "client_stored_shape",
                                       "client_delete_flow_and_data", "client_ensure_flow_compiled",
                                       *STORED_AFTER_COMPILE]
    assert not any(s.commits for s in steps[:-1])
    assert result["status"] == "recompiled"
    assert result["differences"] == ["step count differs: 2 in code, 1 in database", 'step 1: "total" exists only in code']


# --- reading -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("found", "expected"), [(True, True), (None, False), (False, False)])
def test_flow_exists(found: object, expected: bool) -> None:
    steps, exists = play(flow_ops.flow_exists(pgflow.Job("j")), found)
    assert query(steps[0], "client_flow_exists", "scalar") == {"flow_slug": "j"}
    assert exists is expected


def test_get_flow_reads_flows_and_steps_in_one_snapshot() -> None:
    op = flow_ops.get_flow("orders")
    snapshot = next(op)
    assert isinstance(snapshot, Snapshot)
    assert [(q.sql, q.params) for q in snapshot.queries] == [("client_select_flows", {"flow_slug": "orders"}),
                                                            ("client_select_flow_steps", {"flow_slug": "orders"})]
    with pytest.raises(StopIteration) as done:
        op.send([[flow_row("orders")], [step_row("orders", "fetch", 0), step_row("orders", "total", 1, ["fetch"])]])
    info = done.value.value
    assert (info.flow_slug, info.max_attempts, [s.step_slug for s in info.steps]) == ("orders", 3, ["fetch", "total"])
    assert info.dependents("fetch") == ["total"]


def test_get_flow_raises_flow_not_found() -> None:
    with pytest.raises(FlowNotFound, match="nope"):
        play(flow_ops.get_flow("nope"), [[], []])


def test_list_flows_gives_each_flow_its_own_steps() -> None:
    steps, flows = play(flow_ops.list_flows(), [[flow_row("a"), flow_row("j", "job")],
                                                [step_row("a", "x", 0), step_row("j", "y", 0)]])
    assert [q.params for q in steps[0].queries] == [{"flow_slug": None}, {"flow_slug": None}]
    assert [(f.flow_slug, f.flow_type, [s.step_slug for s in f.steps]) for f in flows] == [
        ("a", "flow", ["x"]), ("j", "job", ["y"])]


# --- delete, upsert ------------------------------------------------------------------------------

def test_delete_flow_checks_it_exists_then_deletes_and_commits() -> None:
    steps, result = play(flow_ops.delete_flow("orders"), True, [])
    query(steps[0], "client_flow_exists")
    assert query(steps[1], "client_delete_flow_and_data", commits=True) == {"flow_slug": "orders"}
    assert result is None


def test_delete_flow_raises_flow_not_found_and_deletes_nothing() -> None:
    with pytest.raises(FlowNotFound):
        play(flow_ops.delete_flow("orders"), False)


STEPS = [{"slug": "a"}, {"slug": "b", "deps": ["a"], "step_type": "map"}]


def test_upsert_flow_compiles_a_new_slug() -> None:
    steps, result = play(flow_ops.upsert_flow("tenant", STEPS, max_attempts=4), False, {"status": "compiled"},
                         *AFTER_COMPILE)
    assert [s.sql for s in steps] == ["client_flow_exists", "client_ensure_flow_compiled", *STORED_AFTER_COMPILE]
    shape = json_of(steps[1].params["shape"])
    assert [s["slug"] for s in shape["steps"]] == ["a", "b"] and shape["options"]["maxAttempts"] == 4
    assert result == {"status": "compiled"}


def test_upsert_flow_replaces_an_existing_slug_in_the_same_transaction() -> None:
    steps, result = play(flow_ops.upsert_flow("tenant", STEPS), True, [], {"status": "compiled"}, *AFTER_COMPILE)
    assert [(s.sql, s.commits) for s in steps] == [
        ("client_flow_exists", False), ("client_delete_flow_and_data", False),
        ("client_ensure_flow_compiled", False),
        *[(name, name == "client_set_flow_type") for name in STORED_AFTER_COMPILE]]
    assert result == {"status": "recompiled"}


def test_upsert_flow_validates_the_steps_before_any_query() -> None:
    with pytest.raises(FlowDefinitionError, match="'missing'"):
        first(flow_ops.upsert_flow("tenant", [{"slug": "a", "deps": ["missing"]}]))
