"""A LiveRun of a run cancelled while it runs: it ends failed and cancelled, with the reason,
exactly as the database holds it, whatever the order of the events."""

from __future__ import annotations

import dataclasses
import random

from pgflow.events import RunCancelledEvent
from pgflow.live import EventHub, LiveRun, apply_event
from tests.live.flows import maps
from tests.live.scenarios import differences, record_until_finished, without_untracked


async def test_a_live_run_of_a_cancelled_run_ends_cancelled(client, db_url):
    await client.compile(maps)
    async with EventHub(db_url) as recorder_hub:
        recorder = await recorder_hub.subscribe_all(tasks=True)
        run_id = await client.start_flow(maps, {"items": [1, 2, 3]})
        async with await LiveRun.open(client, run_id) as live:
            initial = live.run
            await client.cancel_run(run_id, reason="from the test")
            final = await live.wait_for("finished", timeout=10)
            in_db = await client.get_run_with_states(run_id)
            assert (final.status, final.cancelled, final.cancel_reason) == ("failed", True, "from the test")
            assert differences(dataclasses.asdict(final), dataclasses.asdict(in_db)) == []

            events = await record_until_finished(recorder, run_id)
            assert any(isinstance(e, RunCancelledEvent) for e in events)
            shuffled = events * 2
            random.Random(7).shuffle(shuffled)
            replayed = initial
            for event in shuffled:
                replayed = apply_event(replayed, event)
            assert differences(without_untracked(replayed), without_untracked(in_db)) == []
