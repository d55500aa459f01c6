"""The public API is exactly what pgflow/__init__.py exports; adding a name is a decision."""

from __future__ import annotations

import pgflow

EXPECTED = {
    "AsyncClient", "Client", "ConfigurationError", "Context", "Cron", "DatabaseUnavailable",
    "EventHub", "Flow", "FlowDefinitionError", "FlowInfo", "FlowNotFound", "FlowShapeMismatch",
    "InvalidInput", "Job", "LiveClient", "LiveRun", "NonSerializableOutput", "PgFlowError", "Run",
    "RunFailed", "RunNotFound", "RunStateError", "RunStatus", "RunTimeout", "Schedule", "ScheduleError", "SchemaError", "StepDefinition",
    "StepInfo", "StepState", "StepStatus", "StepTask", "TaskError", "TaskStatus", "TaskTimeout", "Worker", "WorkerInfo",
    "__version__",
}


def test_all_lists_exactly_the_curated_names() -> None:
    assert set(pgflow.__all__) == EXPECTED
    assert list(pgflow.__all__) == sorted(pgflow.__all__), "keep __all__ sorted"


def test_every_exported_name_exists_and_comes_from_pgflow() -> None:
    for name in pgflow.__all__:
        value = getattr(pgflow, name)
        if name != "__version__":
            assert value.__module__.startswith("pgflow."), name


def test_every_error_derives_from_pgflow_error() -> None:
    errors = [getattr(pgflow, n) for n in pgflow.__all__ if n.endswith(("Error", "NotFound", "Mismatch", "Failed",
                                                                        "Timeout", "Unavailable", "Input", "Output"))]
    assert errors
    for cls in errors:
        assert issubclass(cls, pgflow.PgFlowError), cls


def test_no_private_names_are_exported() -> None:
    assert not [n for n in pgflow.__all__ if n.startswith("_") and n != "__version__"]
