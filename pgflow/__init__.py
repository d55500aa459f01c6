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
    RunTimeout,
    ScheduleError,
    SchemaError,
    TaskError,
    TaskTimeout,
)
from pgflow.dsl import Flow, Job, StepDefinition
from pgflow.dsl.cron import Cron

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfigurationError",
    "Cron",
    "DatabaseUnavailable",
    "Flow",
    "FlowDefinitionError",
    "FlowNotFound",
    "FlowShapeMismatch",
    "InvalidInput",
    "Job",
    "NonSerializableOutput",
    "PgFlowError",
    "RunFailed",
    "RunNotFound",
    "RunTimeout",
    "ScheduleError",
    "SchemaError",
    "StepDefinition",
    "TaskError",
    "TaskTimeout",
    "__version__",
]
