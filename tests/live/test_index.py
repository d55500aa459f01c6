"""RunState (the indexed live state) ends exactly where folding apply_event ends, in any order."""

from __future__ import annotations

import dataclasses
import random

import pytest

from pgflow.live import apply_event
from pgflow.live.index import RunState
from tests.live.scenarios import SCENARIOS, differences, play


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_run_state_matches_apply_event_in_every_order(client, db_url, scenario):
    initial, events, final = await play(client, db_url, scenario)
    assert events
    for seed in range(8):
        order = list(events) if seed == 0 else events * 2
        random.Random(seed).shuffle(order) if seed else None
        folded, state = initial, RunState(initial)
        for event in order:
            after = apply_event(folded, event)
            assert state.apply(event) == (after is not folded), (seed, event)
            folded = after
            assert differences(dataclasses.asdict(state.to_run()), dataclasses.asdict(folded)) == [], (seed, event)


async def test_an_unchanged_state_is_the_snapshot_itself_and_rebuilt_only_after_a_change(client, db_url):
    initial, events, _ = await play(client, db_url, "map-with-retry")
    state = RunState(initial)
    assert state.to_run() is initial
    changing = next(e for e in events if apply_event(initial, e) is not initial)
    assert state.apply(changing) and state.version == 1
    first = state.to_run()
    assert state.to_run() is first
    assert not state.apply(changing)  # a duplicate changes nothing
    assert state.to_run() is first and state.version == 1


async def test_step_progress_counts_the_tasks_by_status(client, db_url):
    initial, events, _ = await play(client, db_url, "map-with-retry")
    state = RunState(initial)
    for event in events:
        state.apply(event)
    slug = next(s.step_slug for s in state.to_run().step_states if len(s.tasks) == 3)
    progress = state.step_progress(slug)
    assert progress["tasks"] == {"completed": 3} and progress["status"] == "completed"
