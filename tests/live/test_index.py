"""RunState (the indexed live state) ends exactly where folding apply_event ends, in any order."""

from __future__ import annotations

import dataclasses
import random
import uuid

import pytest

from pgflow.live import apply_event
from pgflow.live.index import RunState
from pgflow.live.state import copy_with
from pgflow.models import Run, RunStatus, StepState, StepStatus, StepTask, TaskStatus
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


@pytest.mark.parametrize("model", [Run, StepState, StepTask])
def test_copy_with_makes_what_replace_makes(model):
    """copy_with skips __init__: right only while the models have no __post_init__ and no field
    outside __init__ (a model that gains one must be copied with dataclasses.replace again)."""
    assert not hasattr(model, "__post_init__")
    assert all(f.init for f in dataclasses.fields(model))
    run_id = uuid.uuid4()
    original = {Run: Run(run_id=run_id, flow_slug="f", status=RunStatus.STARTED),
                StepState: StepState(step_slug="s", status=StepStatus.STARTED),
                StepTask: StepTask(flow_slug="f", run_id=run_id, step_slug="s", task_index=3,
                                   status=TaskStatus.QUEUED)}[model]
    changes = {"status": "failed", "error_message": "boom"} if model is not Run else {"status": RunStatus.FAILED}
    copied = copy_with(original, **changes)
    assert copied == dataclasses.replace(original, **changes) and copied is not original
    assert dataclasses.asdict(copied) == dataclasses.asdict(dataclasses.replace(original, **changes))
    assert dataclasses.asdict(original) == dataclasses.asdict(dataclasses.replace(original))  # left as it was
    with pytest.raises(TypeError, match="no field nonsense"):
        copy_with(original, nonsense=1)
