"""What the worker's components share: a :class:`WorkerContext`, and the worker's state.

The components (runner, reporter follow-up, services) receive this context or explicit
arguments, never the :class:`~pgflow.worker.lifecycle.Worker`; :mod:`pgflow.worker.wiring`
builds it with them. (Handlers get a different object: :class:`pgflow.context.Context`.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from enum import Enum
from uuid import UUID

from pgflow.dsl.flow import Flow
from pgflow.worker.config import WorkerConfig
from pgflow.db import Database
from pgflow.worker.plan import StepPlan


class WorkerState(str, Enum):
    """A worker's state; a ``str``, so ``worker.state == "running"`` holds."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class WorkerContext:
    """One running worker, as its components see it (built once the database is reached)."""

    database: Database
    config: WorkerConfig
    name: str  # pgflow.workers.function_name
    conninfo: str
    flows: tuple[Flow, ...]
    worker_ids: Mapping[str, UUID]  # queue -> this worker's row in pgflow.workers for it
    plans: Mapping[tuple[str, str], StepPlan]  # (flow slug, step slug) -> what the hot path needs
    stopping: asyncio.Event  # set when the worker stops taking work
    wake: Callable[[str | None], None]  # make a queue (None: every queue) due for a read now
    request_stop: Callable[[str], None]  # ask the worker to stop, giving the reason
    # the runs of the tasks in flight, and what to do once some of them were cancelled (the
    # heartbeat asks; pgflow.worker.runner answers; wiring fills them in)
    running_runs: Callable[[], Collection[UUID]] = tuple
    cancel_runs: Callable[[Collection[UUID]], None] = lambda run_ids: None
