"""pgflow._select_runs: the one filter of list_runs and the bulk operations, and its keyset cursor."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from psycopg.types.json import Jsonb

from tests.sql.helpers import define_flow, rows, start_flow

_SELECT = "SELECT run_id FROM pgflow._select_runs(%s, %s, %s, %s, %s, %s, %s, %s)"


def _select(conn, flow=None, status=None, since=None, until=None, input=None, before=(None, None), limit=100):
    found = rows(conn, _SELECT, (flow, status, since, until, None if input is None else Jsonb(input), *before, limit))
    return [r["run_id"] for r in found]


def _runs(conn):
    define_flow(conn, "f", [("a", [])])
    define_flow(conn, "g", [("a", [])])
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    made = []
    for i, (flow, customer) in enumerate([("f", 1), ("f", 2), ("g", 1), ("f", 1)]):
        run_id = start_flow(conn, flow, {"customer": customer, "items": [i]})
        conn.execute("UPDATE pgflow.runs SET started_at = %s WHERE run_id = %s", (base + timedelta(hours=i), run_id))
        made.append(run_id)
    return base, made


def test_no_filter_is_every_run_newest_first(conn):
    _, made = _runs(conn)

    assert _select(conn) == made[::-1]


def test_flow_status_time_and_input_filter_together(conn):
    base, made = _runs(conn)
    conn.execute("UPDATE pgflow.runs SET status = 'failed', failed_at = started_at WHERE run_id = %s", (made[3],))

    assert _select(conn, flow="f") == [made[3], made[1], made[0]]
    assert _select(conn, status="failed") == [made[3]]
    assert _select(conn, since=base + timedelta(hours=1), until=base + timedelta(hours=3)) == [made[2], made[1]]
    assert _select(conn, input={"customer": 1}) == [made[3], made[2], made[0]]
    assert _select(conn, flow="f", status="started", input={"customer": 1}) == [made[0]]
    assert _select(conn, flow="nope") == []


def test_the_cursor_pages_through_without_overlap(conn):
    _, made = _runs(conn)
    pages, cursor = [], (None, None)
    while True:
        found = rows(conn, "SELECT run_id, started_at FROM pgflow._select_runs(NULL, NULL, NULL, NULL, NULL, %s, %s, 3)",
                     cursor)
        if not found:
            break
        pages.append([r["run_id"] for r in found])
        cursor = (found[-1]["started_at"], found[-1]["run_id"])

    assert pages == [made[::-1][:3], made[::-1][3:]]
