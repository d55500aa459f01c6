"""LiveRun against real runs: it ends exactly in the database's final state, whatever the order."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pgflow.errors import RunFailed, RunTimeout
from pgflow.live import EventHub, LiveRun, RunFinished, apply_event
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


def without_untracked(run):
    """The run minus what no event carries: a later task's message_id/queued_at, and
    remaining_deps of steps that never started."""
    data = dataclasses.asdict(run)
    for step in data["step_states"]:
        if step["status"] in ("created", "skipped"):
            step.pop("remaining_deps")
        for task in step["tasks"]:
            task.pop("message_id")
            task.pop("queued_at")
    return data


def differences(got, want, path="run") -> list[str]:
    """Where two nested structures differ, as readable paths."""
    if isinstance(got, dict) and isinstance(want, dict):
        return [d for k in sorted(set(got) | set(want), key=str)
                for d in differences(got.get(k), want.get(k), f"{path}.{k}")]
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want)) for d in differences(g, w, f"{path}[{i}]")]
    return [] if got == want else [f"{path}: {got!r} != {want!r}"]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_live_run_ends_in_the_database_state_whatever_the_event_order(client, db_url, scenario):
    flow, flow_input, outcome = SCENARIOS[scenario]
    async with EventHub(db_url) as recorder_hub:
        recorder = await recorder_hub.subscribe_all(tasks=True)
        run_id = await client.start_flow(flow, flow_input)
        async with await LiveRun.open(client, run_id) as live:
            initial = live.run
            async with SqlDriver(db_url, flow) as driver:
                await driver.drain()
            final = await live.wait_for("finished", timeout=10)
            in_db = await client.get_run_with_states(run_id)
            assert final.status == outcome
            assert differences(dataclasses.asdict(final), dataclasses.asdict(in_db)) == []

            events = await record_until_finished(recorder, run_id)
            shuffled = events * 2
            random.Random(scenario).shuffle(shuffled)
            for event in shuffled:  # every event again, twice, out of order: nothing moves
                live.apply(event)
            assert differences(dataclasses.asdict(live.run), dataclasses.asdict(in_db)) == []

            replayed = initial  # from the first snapshot, with only the shuffled events
            for event in shuffled:
                replayed = apply_event(replayed, event)
            assert differences(without_untracked(replayed), without_untracked(in_db)) == []
