"""The DSL: define flows and jobs in Python (pure Python, no I/O).

``Flow`` and ``Job`` build validated definitions; ``Flow.shape()`` gives the canonical shape that
``pgflow.ensure_flow_compiled`` stores and compares; ``load_targets`` finds definitions by import
path. ``Cron`` lives in :mod:`pgflow.dsl.cron`.
"""

from __future__ import annotations

from pgflow.dsl.flow import Flow
from pgflow.dsl.job import Job
from pgflow.dsl.loader import load_targets
from pgflow.dsl.options import FlowOptions
from pgflow.dsl.step import StepDefinition

__all__ = ["Flow", "FlowOptions", "Job", "StepDefinition", "load_targets"]
