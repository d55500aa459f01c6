"""The asyncio worker: runs flow and job handlers from their pgmq queues.

    lifecycle   Worker: start, run, stop (graceful drain, hand back)
    startup     compile, register, enable notifications, hand back, mark stopped
    poller      when to read which queue; slots
    listener    the notify signal (one LISTEN connection)
    runner      claimed tasks -> handler runs -> outcomes
    executor    one handler call: input, timeout, JSON output, error text
    reporter    complete_task / fail_task, batched
    services    heartbeat, stalled-task sweeper (and room for more)
    database    connections with retry and backoff
"""

from pgflow.worker.config import WorkerConfig
from pgflow.worker.lifecycle import Worker

__all__ = ["Worker", "WorkerConfig"]
