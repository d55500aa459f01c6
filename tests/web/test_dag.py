"""The geometry of the dependency graph and of the Gantt timeline (pure functions, no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pgflow.web import dag

DIAMOND = [
    {"step_slug": "fetch", "step_type": "single", "deps": []},
    {"step_slug": "items", "step_type": "map", "deps": ["fetch"]},
    {"step_slug": "audit", "step_type": "single", "deps": []},  # a root that only feeds the last step
    {"step_slug": "notify", "step_type": "single", "deps": ["fetch"]},
    {"step_slug": "save", "step_type": "single", "deps": ["items", "notify", "audit"]},
]


def test_steps_sit_one_column_after_their_deepest_dependency() -> None:
    graph = dag.layout(DIAMOND)
    layer = {n.slug: n.layer for n in graph.nodes}
    assert layer == {"fetch": 0, "items": 1, "notify": 1, "audit": 1, "save": 2}
    # every edge goes left to right between adjacent columns, and no two nodes overlap
    x = {n.slug: n.x for n in graph.nodes}
    assert all(x[e["source"]] < x[e["target"]] for e in graph.edges) and len(graph.edges) == 5
    boxes = [(n.x, n.y) for n in graph.nodes]
    assert len(set(boxes)) == len(boxes)
    assert all(0 <= n.y and n.y + graph.node_h <= graph.height for n in graph.nodes)


def test_map_nodes_carry_their_width_and_progress() -> None:
    states = {"items": {"status": "started", "initial_tasks": 100}, "fetch": {"status": "completed", "initial_tasks": 1}}
    tasks = {"items": {"completed": 37, "failed": 2}}
    nodes = {n.slug: n for n in dag.layout(DIAMOND, states, tasks).nodes}
    assert nodes["items"].label == "map · 37/100" and nodes["items"].progress == 0.37
    assert nodes["items"].failed_fraction == 0.02
    assert nodes["fetch"].label == "single" and nodes["save"].status is None
    assert dag.layout(DIAMOND).nodes[1].label == "map"  # not started: width unknown


def test_gantt_bars_follow_the_run_clock() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    now = start + timedelta(seconds=10)
    states = {
        "fetch": {"status": "completed", "started_at": start, "completed_at": start + timedelta(seconds=2)},
        "items": {"status": "started", "started_at": start + timedelta(seconds=2)},
        "save": {"status": "created"},
    }
    g = dag.gantt(["fetch", "items", "save"], states, {"started_at": start}, now)
    fetch, items, save = g["rows"]
    assert fetch["bar"]["seconds"] == 2 and not fetch["bar"]["running"]
    assert items["bar"]["running"] and items["bar"]["offset"] == 2 and items["bar"]["seconds"] == 8
    assert save["bar"] is None
    assert abs(items["bar"]["x"] + items["bar"]["w"] - (g["width"] - 16)) < 0.01  # ends at "now"
    assert g["span"] == 10 and g["running"]
