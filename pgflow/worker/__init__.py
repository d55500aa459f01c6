"""The asyncio worker: runs flow and job handlers from their pgmq queues.

    lifecycle   Worker: start, run, stop (graceful drain, hand back)
    startup     compile, register, enable notifications, hand back, mark stopped
    wiring      builds the components below, each from what it uses (never the Worker)
    context     WorkerContext (what the components share) and WorkerState
    poller      when to read which queue (DueQueues); slots
    listener    the notify signal (one LISTEN connection)
    runner      claimed tasks -> handler runs -> outcomes
    executor    one handler call: input, timeout, JSON output, error text
    reporter    complete_task / fail_task, batched
    followup    after a report: counts, wake-ups, run events
    services    heartbeat, stalled-task sweeper, scheduler (and room for more)
    scheduler   the built-in cron scheduler

Connections with retry and backoff come from :mod:`pgflow.db` (``Database``).
"""

from pgflow.worker.config import WorkerConfig
from pgflow.worker.context import WorkerState
from pgflow.worker.lifecycle import Worker

__all__ = ["Worker", "WorkerConfig", "WorkerState"]
