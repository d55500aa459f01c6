"""Events are sent only to channels someone follows (pgflow.subscribe), and the race a
subscription opens is closed by pgflow.await_event_writers."""

import json
import threading
import uuid

import psycopg
import pytest

from tests.sql.helpers import define_flow, drain_notifies, rows, scalar, start_flow

FENCE = """SELECT pg_notify(%s, '{"event_type": "fence"}')"""
PROBE = "SELECT pgflow._emit(jsonb_build_object('event_type', 'run:probe', 'run_id', %s::uuid))"


def raw_listener(url: str, *channels: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    for channel in channels:
        conn.execute(psycopg.sql.SQL("LISTEN {}").format(psycopg.sql.Identifier(channel)))
    return conn


def fenced(conn: psycopg.Connection, listen: psycopg.Connection, channel: str) -> list[str]:
    """Event types received on ``listen`` before a fence notified on ``channel`` after the rest."""
    conn.execute(FENCE, (channel,))
    conn.commit()
    types = []
    for note in listen.notifies(timeout=5):
        event_type = json.loads(note.payload)["event_type"]
        if event_type == "fence":
            return types
        types.append(event_type)
    raise AssertionError(f"no fence within 5 s (received {types})")


def test_nobody_subscribed_no_notification(db_url):
    with psycopg.connect(db_url) as conn, raw_listener(db_url, "pgflow:events") as listen:
        define_flow(conn, "f", [("a", [])])
        start_flow(conn, "f", {})
        conn.commit()
        assert fenced(conn, listen, "pgflow:events") == []


def test_a_subscriber_of_every_run_gets_every_event(db_url):
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url, autocommit=True) as listen:
        listen.execute("SELECT pgflow.subscribe('pgflow:events')")
        define_flow(conn, "f", [("a", [])])
        start_flow(conn, "f", {})
        conn.commit()
        assert fenced(conn, listen, "pgflow:events") == ["run:started", "step:started"]


def test_a_run_subscription_notifies_that_run_on_its_channel_only(db_url):
    followed, other = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url, autocommit=True) as listen:
        listen.execute("SELECT pgflow.subscribe(%s)", (f"pgflow:run:{followed}",))
        listen.execute('LISTEN "pgflow:events"')  # a bare LISTEN registers nothing
        for run_id in (other, followed):
            conn.execute(PROBE, (run_id,))
        conn.commit()
        for channel in (f"pgflow:run:{followed}", "pgflow:events"):
            conn.execute(FENCE, (channel,))
        conn.commit()
        received = drain_notifies(listen, timeout=5, stop_after=3)
    assert [(e["event_type"], e.get("run_id")) for e in received] == [
        ("run:probe", str(followed)), ("fence", None), ("fence", None)]


def test_events_always_notifies_plain_listeners(db_url):
    with psycopg.connect(db_url) as conn, raw_listener(db_url, "pgflow:events") as listen:
        define_flow(conn, "f", [("a", [])])
        conn.execute("SET pgflow.events = 'always'")
        start_flow(conn, "f", {})
        conn.commit()
        assert fenced(conn, listen, "pgflow:events") == ["run:started", "step:started"]


def test_unsubscribe_stops_and_gone_sessions_are_forgotten(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        with psycopg.connect(db_url, autocommit=True) as gone:
            gone.execute("SELECT pgflow.subscribe('pgflow:events')")
            gone_pid = gone.info.backend_pid
        conn.execute("SELECT pgflow.subscribe('pgflow:run:00000000-0000-0000-0000-000000000001')")
        conn.execute("SELECT pgflow.subscribe('pgflow:events')")
        subscribed = rows(conn, "SELECT channel, pid FROM pgflow.subscribers ORDER BY channel")
        assert subscribed == [{"channel": "pgflow:events", "pid": conn.info.backend_pid},
                              {"channel": "pgflow:run:00000000-0000-0000-0000-000000000001",
                               "pid": conn.info.backend_pid}]
        assert gone_pid not in [r["pid"] for r in subscribed]
        assert set(scalar(conn, "SELECT array_agg(c) FROM pg_listening_channels() AS c")) == {
            "pgflow:events", "pgflow:run:00000000-0000-0000-0000-000000000001"}
        conn.execute("SELECT pgflow.unsubscribe('pgflow:events')")
        assert scalar(conn, "SELECT array_agg(channel) FROM pgflow.subscribers") == [
            "pgflow:run:00000000-0000-0000-0000-000000000001"]
        conn.execute("SELECT pgflow.unsubscribe()")
        assert scalar(conn, "SELECT count(*) FROM pgflow.subscribers") == 0
        assert scalar(conn, "SELECT count(*) FROM pg_listening_channels()") == 0


def test_subscribe_refuses_other_channels(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InvalidParameterValue) as failed:
            conn.execute("SELECT pgflow.subscribe('jobs')")
        assert "not a pgflow event channel" in str(failed.value)
        assert "pgflow:run:<run_id>" in failed.value.diag.message_hint


def test_await_event_writers_waits_for_transactions_that_decided_before_the_subscription(db_url):
    """The race: a transaction checks for subscribers (none), a subscription commits, and the
    transaction commits afterwards without notifying. await_event_writers returns only once it
    has ended, so a read after it sees its change."""
    with psycopg.connect(db_url) as setup:
        define_flow(setup, "f", [("a", [])])
        setup.commit()
    with psycopg.connect(db_url) as writer, psycopg.connect(db_url, autocommit=True) as follower:
        run_id = start_flow(writer, "f", {})  # emitted run:started to nobody; still open
        follower.execute("SELECT pgflow.subscribe('pgflow:events')")
        assert scalar(follower, "SELECT pgflow.await_event_writers(0.2)") is False  # it still runs
        done = threading.Event()

        def wait() -> None:
            assert scalar(follower, "SELECT pgflow.await_event_writers(30)") is True
            done.set()

        waiter = threading.Thread(target=wait)
        waiter.start()
        assert not done.wait(0.3)  # waiting for the writer (which nobody blocks) ...
        writer.commit()
        waiter.join(timeout=30)
        assert done.is_set()  # ... and done once it committed: a read now sees the run
        assert scalar(follower, "SELECT status FROM pgflow.runs WHERE run_id = %s", (run_id,)) == "started"


def test_await_event_writers_ignores_transactions_that_never_emitted(db_url):
    with psycopg.connect(db_url) as idle, psycopg.connect(db_url, autocommit=True) as follower:
        idle.execute("SELECT count(*) FROM pgflow.runs")  # open, but never looked for subscribers
        follower.execute("SELECT pgflow.subscribe('pgflow:events')")
        assert scalar(follower, "SELECT pgflow.await_event_writers(5)") is True


@pytest.mark.parametrize("channel", ["pgflow:events:steps", "pgflow:run:{run_id}:steps"])
def test_the_steps_channels_carry_run_and_step_events_never_task_events(db_url, channel):
    """pgflow-py's task-free channels: a follower of one of them is sent no task event at all."""
    run_id = uuid.uuid4()
    channel = channel.format(run_id=run_id)
    with psycopg.connect(db_url) as conn, psycopg.connect(db_url, autocommit=True) as listen:
        listen.execute("SELECT pgflow.subscribe(%s)", (channel,))
        for event_type in ("run:started", "task:started", "task:completed", "step:completed", "run:completed"):
            conn.execute("SELECT pgflow._emit(jsonb_build_object('event_type', %s::text, 'run_id', %s::uuid))",
                         (event_type, run_id))
        conn.commit()
        assert fenced(conn, listen, channel) == ["run:started", "step:completed", "run:completed"]
        assert rows(conn, "SELECT channel FROM pgflow.subscribers") == [{"channel": channel}]
