"""Building a running worker's components, in one place, from what each one uses.

    slots       how many tasks may still start
    due         the queues due for a read; everything that knows of new work wakes them
    followup    after a report: counts, wake-ups, run events
    reporter    outcomes -> complete_tasks / fail_task
    runner      claimed tasks -> handler calls -> outcomes (to the reporter)
    poller      due queues -> claimed tasks (to the runner)
    listener    pgmq's insert notifications -> due queues (``signal="notify"`` only)

Each receives explicit arguments or the :class:`~pgflow.worker.context.WorkerContext`, never the
``Worker``; the background services are chosen when the ``Worker`` is created and get the
context when they run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import dataclasses
from dataclasses import dataclass
from uuid import UUID

from pgflow.dsl.flow import Flow
from pgflow.worker.config import WorkerConfig
from pgflow.worker.context import WorkerContext
from pgflow.db import Database
from pgflow.worker.followup import Followup
from pgflow.worker.listener import Listener
from pgflow.worker.plan import StepPlan
from pgflow.worker.poller import DueQueues, Poller, QueueInfo, Slots
from pgflow.worker.reporter import Reporter
from pgflow.worker.runner import TaskRunner


@dataclass(frozen=True)
class Parts:
    """The components of one running worker."""

    ctx: WorkerContext
    slots: Slots
    due: DueQueues
    followup: Followup
    reporter: Reporter
    runner: TaskRunner
    poller: Poller
    listener: Listener | None


def wire(
    *,
    database: Database,
    config: WorkerConfig,
    name: str,
    conninfo: str,
    flows: list[Flow],
    worker_ids: Mapping[str, UUID],
    plans: Mapping[tuple[str, str], StepPlan],
    queues: list[QueueInfo],
    throttles: dict[str, int],
    stopping: asyncio.Event,
    request_stop: Callable[[str], None],
    listen_database: Database | None = None,
) -> Parts:
    """Build the components; ``throttles`` (queue -> ms) is empty unless the signal is ``notify``."""
    slots = Slots(config.max_concurrency)
    due = DueQueues(queues)
    ctx = WorkerContext(
        database=database, config=config, name=name, conninfo=conninfo, flows=tuple(flows),
        worker_ids=worker_ids, plans=plans, stopping=stopping, wake=due.wake, request_stop=request_stop,
    )
    followup = Followup(plans, name, wake=due.wake, wake_later=due.wake_later, freed=due.freed)
    reporter = Reporter(database, followup.on_reported, linger=config.report_linger, busy=lambda: due.busy)
    runner = TaskRunner(ctx, slots, submit=reporter.submit)
    ctx = dataclasses.replace(ctx, running_runs=runner.running_runs, cancel_runs=runner.cancel_runs)
    poller = Poller(database, config, slots, due, dispatch=runner.dispatch, stop=stopping)
    listener = Listener(listen_database or database, throttles, on_notify=due.notified, on_connected=due.wake, stop=stopping) \
        if throttles else None
    return Parts(ctx, slots, due, followup, reporter, runner, poller, listener)
