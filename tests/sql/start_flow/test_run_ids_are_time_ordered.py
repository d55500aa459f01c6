"""New run ids are version 7 UUIDs: the start time in milliseconds, then random bits, so runs
started later sort later (and land at the right edge of every run-keyed index)."""

from __future__ import annotations

import time
import uuid

from tests.sql.helpers import define_flow, scalar, start_flow


def millis(run_id: uuid.UUID) -> int:
    return int.from_bytes(run_id.bytes[:6], "big")


def test_every_way_of_starting_a_run_gets_a_time_ordered_version_7_id(conn):
    define_flow(conn, "plain", [("only", [])])  # the one-statement start
    define_flow(conn, "guarded", [("only", [], {"required_input_pattern": {"go": True}})])  # the general path
    before = int(time.time() * 1000)
    ids = []
    for make in (lambda: start_flow(conn, "plain", {}),
                 lambda: start_flow(conn, "guarded", {"go": True}),
                 lambda: scalar(conn, "INSERT INTO pgflow.runs (flow_slug, input) VALUES ('plain', '{}') "
                                      "RETURNING run_id")):
        time.sleep(0.002)  # a later millisecond than the id before
        ids.append(make())
    after = int(time.time() * 1000)

    assert [(i.version, i.variant) for i in ids] == [(7, uuid.RFC_4122)] * 3
    assert ids == sorted(ids)
    assert all(before - 1000 <= millis(i) <= after + 1000 for i in ids)  # clocks of client and server agree


def test_ids_started_in_one_millisecond_still_differ(conn):
    ids = [row[0] for row in conn.execute("SELECT pgflow._new_run_id() FROM generate_series(1, 1000)")]

    assert len(set(ids)) == 1000
    assert all(i.version == 7 for i in ids)
