"""Geometry of a flow's dependency graph and of a run's Gantt timeline, drawn as SVG by templates.

The graph is laid out left to right in layers: a step sits one column after its deepest
dependency; within a column, steps are ordered by a few barycentre sweeps (fewer crossings),
starting from their definition order. Everything here is plain arithmetic on dicts, so pages
render without any JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pgflow.models import StepStatus
NODE_W = 184
NODE_H = 62
COL_GAP = 64
ROW_GAP = 20
PAD = 12


@dataclass
class Node:
    slug: str
    step_type: str
    layer: int
    x: float = 0.0
    y: float = 0.0
    status: str | None = None
    deps: tuple[str, ...] = ()
    # map steps: tasks done / failed / in total (None when unknown yet)
    done: int = 0
    failed: int = 0
    total: int | None = None
    label: str = ""

    @property
    def cx(self) -> float:
        return self.x + NODE_W / 2

    @property
    def progress(self) -> float:
        return (self.done / self.total) if self.total else 0.0

    @property
    def failed_fraction(self) -> float:
        return (self.failed / self.total) if self.total else 0.0

    @property
    def short(self) -> str:
        return self.slug if len(self.slug) <= 22 else self.slug[:21] + "\u2026"


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[dict[str, Any]] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    node_w: int = NODE_W
    node_h: int = NODE_H


def _layers(steps: list[dict[str, Any]]) -> dict[str, int]:
    """Each step's column: one after its deepest dependency (iterative: chains of any length)."""
    known = {s["step_slug"] for s in steps}
    deps = {s["step_slug"]: [d for d in (s.get("deps") or []) if d in known] for s in steps}
    layer: dict[str, int] = {}
    for s in steps:
        stack, entered = [s["step_slug"]], set()
        while stack:
            slug = stack[-1]
            if slug in layer:
                stack.pop()
                continue
            pending = [d for d in deps[slug] if d not in layer and d not in entered]
            if pending and slug not in entered:
                entered.add(slug)
                stack.extend(pending)
                continue
            # a cycle cannot be stored, but never loop forever on bad data: unplaced deps count as 0
            layer[slug] = 1 + max((layer.get(d, 0) for d in deps[slug]), default=-1)
            stack.pop()
    # a root step that only feeds later steps sits just before its first dependent, so its
    # edges do not cross the columns in between
    dependents: dict[str, list[str]] = {slug: [] for slug in deps}
    for slug, ds in deps.items():
        for d in ds:
            dependents[d].append(slug)
    for slug in deps:
        if not deps[slug] and dependents[slug]:
            layer[slug] = min(layer[d] for d in dependents[slug]) - 1
    return layer


def _order(columns: list[list[Node]], by_slug: dict[str, Node]) -> None:
    """Barycentre sweeps: place each step near the average row of its dependencies/dependents.
    Each sweep costs O(steps + edges): the rows of the columns already placed are kept, not rebuilt."""
    dependents: dict[str, list[str]] = {n.slug: [] for n in by_slug.values()}
    for n in by_slug.values():
        for d in n.deps:
            if d in dependents:
                dependents[d].append(n.slug)

    def position(col: list[Node]) -> dict[str, int]:
        return {n.slug: i for i, n in enumerate(col)}

    for _ in range(3):
        placed = position(columns[0]) if columns else {}
        for i in range(1, len(columns)):
            prev = position(columns[i - 1])
            columns[i].sort(key=lambda n: (
                sum(placed.get(d, 0) for d in n.deps) / max(len(n.deps), 1) if n.deps else 0,
                prev.get(n.slug, 0),
            ))
            placed.update(position(columns[i]))
        placed = position(columns[-1]) if columns else {}
        for i in range(len(columns) - 2, -1, -1):
            current = position(columns[i])
            columns[i].sort(key=lambda n: (
                sum(placed.get(d, 0) for d in dependents[n.slug]) / len(dependents[n.slug])
                if dependents[n.slug] else current[n.slug],
            ))
            placed.update(position(columns[i]))


def layout(steps: list[dict[str, Any]], states: dict[str, dict[str, Any]] | None = None,
           tasks: dict[str, dict[str, Any]] | None = None) -> Graph:
    """Place ``steps`` (dicts with step_slug, step_type, deps) and colour them by ``states``."""
    states = states or {}
    tasks = tasks or {}
    layers = _layers(steps)
    by_slug: dict[str, Node] = {}
    for s in steps:
        slug = s["step_slug"]
        state = states.get(slug) or {}
        summary = tasks.get(slug) or {}
        total = state.get("initial_tasks")
        node = Node(
            slug=slug, step_type=s.get("step_type", "single"), layer=layers[slug],
            status=state.get("status"), deps=tuple(s.get("deps") or ()),
            done=int(summary.get("completed") or 0), failed=int(summary.get("failed") or 0),
            total=int(total) if total is not None else None,
        )
        node.label = node_label(node)
        by_slug[slug] = node
    columns: list[list[Node]] = [[] for _ in range(max(layers.values(), default=-1) + 1)]
    for n in by_slug.values():
        columns[n.layer].append(n)
    _order(columns, by_slug)
    tallest = max((len(c) for c in columns), default=0)
    height = PAD * 2 + tallest * NODE_H + max(tallest - 1, 0) * ROW_GAP
    for ci, col in enumerate(columns):
        col_h = len(col) * NODE_H + max(len(col) - 1, 0) * ROW_GAP
        top = (height - col_h) / 2
        for ri, n in enumerate(col):
            n.x = PAD + ci * (NODE_W + COL_GAP)
            n.y = top + ri * (NODE_H + ROW_GAP)
    edges = []
    for n in by_slug.values():
        for d in n.deps:
            src = by_slug.get(d)
            if src is None:
                continue
            x1, y1 = src.x + NODE_W, src.y + NODE_H / 2
            x2, y2 = n.x, n.y + NODE_H / 2
            bend = max((x2 - x1) / 2, 24)
            edges.append({
                "source": d, "target": n.slug, "status": src.status,
                "d": f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2 - 6:.1f},{y2:.1f}",
            })
    width = PAD * 2 + len(columns) * NODE_W + max(len(columns) - 1, 0) * COL_GAP
    ordered = [n for col in columns for n in col]
    return Graph(nodes=ordered, edges=edges, width=max(width, NODE_W + 2 * PAD), height=max(height, NODE_H + 2 * PAD))


def node_label(n: Node) -> str:
    """The second line of a node: its type and, for a started map, its progress."""
    if n.step_type == "map":
        if n.total is None:
            return "map"
        return f"map \u00b7 {n.done}/{n.total}"
    return "single"


# ------------------------------------------------------------------------------------ Gantt

GANTT_LABEL_W = 170
GANTT_W = 900
GANTT_ROW = 26


def gantt(order: list[str], states: dict[str, dict[str, Any]], run: dict[str, Any], now: datetime,
          tasks: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Bars from each step's start to its end (or now while it runs), on the run's time axis."""
    tasks = tasks or {}
    start = run["started_at"]
    end = run.get("completed_at") or run.get("failed_at") or now
    for st in states.values():
        for key in ("completed_at", "failed_at", "skipped_at"):
            if st.get(key) and st[key] > end:
                end = st[key]
    span = max((end - start).total_seconds(), 0.001)
    plot = GANTT_W - GANTT_LABEL_W - 16

    def x(t: datetime) -> float:
        return GANTT_LABEL_W + max(0.0, min(1.0, (t - start).total_seconds() / span)) * plot

    rows = []
    for i, slug in enumerate(order):
        st = states.get(slug) or {}
        status = st.get("status") or StepStatus.CREATED.value
        began = st.get("started_at") or (st.get("skipped_at") if status == StepStatus.SKIPPED else None)
        finished = st.get("completed_at") or st.get("failed_at") or st.get("skipped_at")
        row: dict[str, Any] = {"slug": slug, "status": status, "y": 20 + i * GANTT_ROW, "bar": None}
        if began is not None:
            x1 = x(began)
            x2 = x(finished or now)
            summary = tasks.get(slug) or {}
            seconds = ((finished or now) - began).total_seconds()
            row["bar"] = {"x": x1, "w": max(x2 - x1, 3.0), "seconds": seconds,
                          "offset": (began - start).total_seconds(), "running": finished is None,
                          "tasks": summary.get("total")}
        rows.append(row)
    ticks = [{"x": GANTT_LABEL_W + plot * k / 4, "seconds": span * k / 4} for k in range(5)]
    return {"rows": rows, "ticks": ticks, "width": GANTT_W, "height": 34 + len(order) * GANTT_ROW,
            "label_w": GANTT_LABEL_W, "span": span, "running": not (run.get("completed_at") or run.get("failed_at"))}
