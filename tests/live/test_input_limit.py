"""PGFLOW_MAX_INPUT_BYTES: an optional cap on a run input's size, refused before anything is written."""

from __future__ import annotations

import pytest

from pgflow.errors import ConfigurationError, InvalidInput
from tests.live.flows import maps


async def test_an_input_over_the_limit_is_refused_with_what_to_do_and_nothing_is_started(client, monkeypatch):
    monkeypatch.setenv("PGFLOW_MAX_INPUT_BYTES", "1_000")
    with pytest.raises(InvalidInput, match=r"input is \d,\d{3} bytes of JSON, more than PGFLOW_MAX_INPUT_BYTES=1,000.*by reference"):
        await client.start_flow(maps, {"items": [1], "blob": "é" * 1_000})
    assert await client.list_runs(flow="live_map") == []
    run_id = await client.start_flow(maps, {"items": [1]})  # under the limit: started
    assert [r.run_id for r in await client.list_runs(flow="live_map")] == [run_id]


async def test_no_limit_unless_set_and_a_bad_setting_says_so(client, monkeypatch):
    monkeypatch.delenv("PGFLOW_MAX_INPUT_BYTES", raising=False)
    await client.start_flow(maps, {"items": [1], "blob": "x" * 100_000})
    monkeypatch.setenv("PGFLOW_MAX_INPUT_BYTES", "1MB")
    with pytest.raises(ConfigurationError, match="positive number of bytes"):
        await client.start_flow(maps, {"items": [1]})
