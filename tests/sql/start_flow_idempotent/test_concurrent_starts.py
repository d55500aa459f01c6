"""Two connections start the same flow with the same key at the same time: one run."""

import threading

import psycopg
from psycopg.types.json import Jsonb

from tests.helpers import eventually
from tests.sql.helpers import define_flow

START = "SELECT run_id FROM pgflow.start_flow_idempotent('f', %s, 'order-42')"


def test_the_second_start_waits_for_the_first_and_returns_its_run(db_url):
    with psycopg.connect(db_url, autocommit=True) as setup:
        define_flow(setup, "f", [("a", [])])

    with psycopg.connect(db_url) as first, psycopg.connect(db_url) as second:
        first_run = first.execute(START, (Jsonb({"from": "first"}),)).fetchone()[0]  # not committed yet
        second_pid = second.info.backend_pid
        result: dict[str, object] = {}

        def start_second() -> None:
            try:
                result["run_id"] = second.execute(START, (Jsonb({"from": "second"}),)).fetchone()[0]
                second.commit()
            except BaseException as exc:  # reported by the main thread
                result["error"] = exc

        thread = threading.Thread(target=start_second)
        thread.start()
        try:
            with psycopg.connect(db_url, autocommit=True) as watcher:
                # the second start is blocked on the (flow, key) lock while the first is open
                eventually(lambda: watcher.execute(
                    "SELECT 1 FROM pg_locks WHERE pid = %s AND locktype = 'advisory' AND NOT granted",
                    (second_pid,)).fetchone())
            first.commit()
        finally:
            thread.join(timeout=30)
        assert not thread.is_alive()
        assert "error" not in result, result.get("error")
        assert result["run_id"] == first_run

    with psycopg.connect(db_url) as check:
        runs = check.execute("SELECT run_id, input FROM pgflow.runs WHERE flow_slug = 'f'").fetchall()
    assert runs == [(first_run, {"from": "first"})]
