"""DueQueues and flow control: a queue the database held work back from is read again after
RECHECK_AFTER, or at once when this worker finishes one of its tasks (a slot freed)."""

from __future__ import annotations

import uuid

from pgflow.worker.poller import RECHECK_AFTER, DueQueues, QueueInfo


def _due() -> DueQueues:
    worker_id = uuid.uuid4()
    due = DueQueues([QueueInfo("limited", worker_id, flow_slug="limited"),
                     QueueInfo("other", worker_id, flow_slug="other")])
    due.names.clear()
    return due


async def test_a_held_back_queue_is_due_again_after_the_recheck_delay() -> None:
    due = _due()
    due.hold("limited", True)
    assert due.names == set()
    woken = await due.idle(timeout=RECHECK_AFTER + 2)
    assert woken and due.names == {"limited"}
    due.cancel_timers()


async def test_a_finished_task_wakes_its_held_back_queue_at_once_and_only_that_one() -> None:
    due = _due()
    due.hold("limited", True)
    due.freed("other")  # not held back: nothing to do
    assert due.names == set()
    due.freed("limited")
    assert due.names == {"limited"} and due.held_back == set()
    due.cancel_timers()


async def test_a_read_that_was_not_held_back_clears_the_mark() -> None:
    due = _due()
    due.hold("limited", True)
    due.hold("limited", False)
    due.freed("limited")
    assert due.names == set()
    due.cancel_timers()
