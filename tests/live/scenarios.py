"""Scenarios shared by the live tests: runs with maps and retries, failures, skipped steps."""

from __future__ import annotations

import dataclasses
from typing import Any

from pgflow.events import _ts
from pgflow.live import EventHub, RunFinished
from tests.live.driver import SqlDriver
from tests.live.flows import failing, maps, skipping

SCENARIOS = {
    "map-with-retry": (maps, {"items": [1, 2, 3]}, "completed"),
    "failure": (failing, {"n": 1}, "failed"),
    "skipped-steps": (skipping, {"go": False}, "completed"),
}


async def record_until_finished(sub, run_id) -> list:
    """The events of ``run_id`` a hub subscription received, up to its RunFinished."""
    events = []
    while True:
        item = await sub.get(timeout=10)
        if getattr(item, "run_id", None) != run_id:
            continue
        if isinstance(item, RunFinished):
            return events
        events.append(item)


async def play(client, db_url: str, scenario: str):
    """Run a scenario with the SQL driver; returns (first snapshot, its events, final state)."""
    flow, flow_input, _ = SCENARIOS[scenario]
    async with EventHub(db_url) as hub:
        recorder = await hub.subscribe_all(tasks=True)
        run_id = await client.start_flow(flow, flow_input)
        initial = await client.get_run_with_states(run_id)
        async with SqlDriver(db_url, flow) as driver:
            await driver.drain()
        events = await record_until_finished(recorder, run_id)
    return initial, events, await client.get_run_with_states(run_id)


def without_untracked(run: Any) -> dict:
    """A run (model or its JSON) minus what no event carries: a later task's message_id and
    queued_at, and remaining_deps of steps that never started; timestamps parsed."""
    data = dataclasses.asdict(run) if dataclasses.is_dataclass(run) else run
    data = _normalized(data)
    for step in data["step_states"]:
        if step["status"] in ("created", "skipped"):
            step.pop("remaining_deps")
        for task in step["tasks"]:
            task.pop("message_id", None)
            task.pop("queued_at", None)
    return data


def _normalized(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _normalized(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalized(v) for v in value]
    if key.endswith("_at") and isinstance(value, str):
        return _ts(value)
    if key in ("run_id", "last_worker_id") and value is not None:
        return str(value)
    return value


def differences(got: Any, want: Any, path: str = "run") -> list[str]:
    """Where two nested structures differ, as readable paths."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [d for k in sorted(set(got) | set(want), key=str)
                for d in differences(got.get(k), want.get(k), f"{path}.{k}")]
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]
