"""The end of a run reaches live viewers without reading the whole run back: a LiveRun with
``reload_on_finish="unknown"`` (what the SSE streams use) reads only what the events left unknown,
and nothing at all when they told everything, and still ends in the database's final state."""

from __future__ import annotations

import dataclasses

import pytest

import pgflow
from pgflow.live import LiveRun
from tests.live.driver import SqlDriver
from tests.live.flows import large
from tests.live.scenarios import SCENARIOS, differences

roots = pgflow.Flow("live_root_map")


@roots.map(slug="each")
def each(item: int) -> int:
    return item + 1


async def _follow(client, db_url, flow, flow_input) -> tuple[list[str], LiveRun, object]:
    """Run the flow with the SQL driver under a LiveRun opened right after its start; returns
    the kinds of changes the LiveRun reported, the LiveRun, and the run as stored."""
    await client.compile(flow)
    run_id = await client.start_flow(flow, flow_input)
    kinds: list[str] = []
    live = await LiveRun.open(client, run_id, reload_on_finish="unknown")
    live.listen(lambda kind, _event: kinds.append(kind))
    async with live, SqlDriver(db_url, flow) as driver:
        await driver.drain()
        final = await live.wait_for("finished", timeout=30)
    return kinds, final, await client.get_run_with_states(run_id)


async def test_a_run_whose_events_told_everything_ends_without_a_reading(client, db_url):
    # the map's tasks are in the first snapshot (a root map starts with the run); every event is
    # small: nothing is unknown at the end, so no "resync" (a reading) comes before "finished"
    kinds, final, in_db = await _follow(client, db_url, roots, [1, 2, 3, 4, 5])
    assert kinds[-1] == "finished" and "resync" not in kinds, kinds
    assert differences(dataclasses.asdict(final), dataclasses.asdict(in_db)) == []


@pytest.mark.parametrize("scenario", [*SCENARIOS, "large-output"])
async def test_reading_back_only_what_is_unknown_ends_in_the_database_state(client, db_url, scenario):
    # maps whose tasks appear after the snapshot, a failed run, skipped steps, truncated outputs
    flow, flow_input, _ = SCENARIOS[scenario] if scenario in SCENARIOS else (large, {}, "completed")
    kinds, final, in_db = await _follow(client, db_url, flow, flow_input)
    assert kinds[-1] == "finished", kinds
    assert differences(dataclasses.asdict(final), dataclasses.asdict(in_db)) == []
