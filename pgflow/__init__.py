"""pgflow-py: workflows, background jobs and cron for Python, in PostgreSQL on pgmq.

The public API is what this module exports (guarded by tests/unit/test_public_api.py).
"""

from __future__ import annotations

from pgflow.errors import (
    ConfigurationError,
    DatabaseUnavailable,
    FlowDefinitionError,
    FlowNotFound,
    FlowShapeMismatch,
    InvalidInput,
    NonSerializableOutput,
    PgFlowError,
    RunFailed,
    RunNotFound,
    RunStateError,
    RunTimeout,
    ScheduleError,
    SchemaError,
    TaskError,
    TaskTimeout,
)
from pgflow.dsl import Flow, Job, StepDefinition
from pgflow.dsl.cron import Cron
from pgflow.client import AsyncClient, Client
from pgflow.models import (
    FlowInfo,
    Run,
    RunStatus,
    Schedule,
    StepInfo,
    StepState,
    StepStatus,
    StepTask,
    TaskStatus,
    WorkerInfo,
)
from pgflow.context import Context
from pgflow.worker import Worker
from pgflow.live import EventHub, LiveClient, LiveRun

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncClient",
    "Client",
    "ConfigurationError",
    "Context",
    "Cron",
    "DatabaseUnavailable",
    "EventHub",
    "Flow",
    "FlowDefinitionError",
    "FlowInfo",
    "FlowNotFound",
    "FlowShapeMismatch",
    "InvalidInput",
    "Job",
    "LiveClient",
    "LiveRun",
    "NonSerializableOutput",
    "PgFlowError",
    "Run",
    "RunFailed",
    "RunNotFound",
    "RunStateError",
    "RunStatus",
    "RunTimeout",
    "Schedule",
    "ScheduleError",
    "SchemaError",
    "StepDefinition",
    "StepInfo",
    "StepState",
    "StepStatus",
    "StepTask",
    "TaskError",
    "TaskStatus",
    "TaskTimeout",
    "Worker",
    "WorkerInfo",
    "__version__",
]
