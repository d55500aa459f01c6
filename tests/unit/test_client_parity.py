"""Client and AsyncClient expose the same public methods with the same signatures.

The only allowed differences: AsyncClient's methods are coroutine functions, and ``subscribe``
(an async iterator of events) exists only on AsyncClient. Each shared method is its operation's
(pgflow.ops): same parameters, same docstring.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from pgflow.client import CLOCK, AsyncClient, Client, _Methods, _shared
from pgflow.ops.flow_control import KEEP

ASYNC_ONLY = {"subscribe"}


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, callable)
        if not name.startswith("_")
    }


def test_same_method_names() -> None:
    sync, asyn = public_methods(Client), public_methods(AsyncClient)
    assert set(sync) == set(asyn) - ASYNC_ONLY
    assert "start_flow_sync" in sync and "enqueue_at" in sync  # the check sees the real API


def test_same_parameters_names_kinds_and_defaults() -> None:
    sync, asyn = public_methods(Client), public_methods(AsyncClient)
    for name, signature in sync.items():
        assert list(signature.parameters.values()) == list(asyn[name].parameters.values()), name


def test_lifecycle_methods_are_sync_on_client_and_coroutines_on_async_client() -> None:
    for name in ("open", "close"):
        assert not inspect.iscoroutinefunction(getattr(Client, name))
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name))
    assert inspect.iscoroutinefunction(AsyncClient._run) and not inspect.iscoroutinefunction(Client._run)


def test_every_shared_method_goes_through_run() -> None:
    """No method is re-implemented in one client only (the one-implementation rule)."""
    for cls in (Client, AsyncClient):
        own = {name for name in vars(cls) if not name.startswith("_")}
        assert own <= {"open", "close"} | ASYNC_ONLY, (cls.__name__, own)


def shared_methods(cls: type) -> dict[str, Any]:
    """Method name -> (method, operation) for the methods made from an operation."""
    return {name: (getattr(cls, name), vars(_Methods)[name].operation) for name in public_methods(cls)
            if isinstance(vars(_Methods).get(name), _shared)}


def test_async_client_methods_are_coroutine_functions_on_the_class_and_on_an_instance() -> None:
    """Frameworks ask ``inspect.iscoroutinefunction`` (FastAPI's BackgroundTasks runs the others in a
    thread, where a returned coroutine is never awaited)."""
    client = AsyncClient(dsn="postgresql://unused")  # never connects: no method is called
    names = set(public_methods(AsyncClient)) - ASYNC_ONLY
    assert len(names) == 43, sorted(names)  # 41 operations, open and close
    for name in names:
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name
        assert inspect.iscoroutinefunction(getattr(client, name)), name
    sync = Client(dsn="postgresql://unused")
    for name in names:
        assert not inspect.iscoroutinefunction(getattr(Client, name)), name
        assert not inspect.iscoroutinefunction(getattr(sync, name)), name


def test_each_shared_method_has_its_operations_signature_and_docstring() -> None:
    """The operation (pgflow.ops) is the one place a method's parameters and docstring are written;
    only the operation's test clock ``now`` is left out."""
    for cls in (Client, AsyncClient):
        methods = shared_methods(cls)
        assert len(methods) == 41, sorted(methods)
        for name, (method, operation) in methods.items():
            own = [p for p in inspect.signature(operation).parameters.values() if p.name != CLOCK]
            assert list(inspect.signature(method).parameters.values())[1:] == own, name
            assert method.__doc__ and method.__doc__ == operation.__doc__, name
            assert method.__name__ == name and method.__qualname__ == f"{cls.__name__}.{name}"


def test_unwrapping_a_method_does_not_lead_to_its_operation() -> None:
    """Tools that follow ``__wrapped__`` (FastAPI classifies dependencies so) must find the method,
    not the operation, which is a generator function."""
    for cls in (Client, AsyncClient):
        for name, (method, _) in shared_methods(cls).items():
            assert inspect.unwrap(method) is method, name
            assert not inspect.isgeneratorfunction(inspect.unwrap(method)), name


def test_the_test_clock_of_an_operation_is_not_a_client_parameter() -> None:
    client = Client(dsn="postgresql://unused")  # the arguments are refused before any connection
    with pytest.raises(TypeError, match="now"):
        client.get_schedule("nightly", now=None)
    with pytest.raises(TypeError, match="too many positional arguments"):
        client.get_schedule("nightly", None)
    with pytest.raises(TypeError, match="now"):
        client.schedule("orders", "@daily", now=None)


# The public parameters as they were when the methods became operations (names, kinds, defaults):
# a change here is a change of the public API, so it is made on purpose.
P, K = "POSITIONAL_OR_KEYWORD", "KEYWORD_ONLY"
E = inspect.Parameter.empty
PUBLIC_PARAMETERS = {
    "compile": [("flow", P, E), ("allow_data_loss", P, False)],
    "delete_flow": [("flow", P, E)],
    "cancel_run": [("run_id", P, E), ("reason", P, None)],
    "pause_flow": [("flow", P, E), ("reason", P, None)],
    "resume_flow": [("flow", P, E)],
    "set_limits": [("flow", P, E), ("max_running", K, KEEP), ("rate_limit", K, KEEP), ("steps", K, None),
                   ("max_running_per_key", K, KEEP), ("concurrency_key", K, KEEP),
                   ("rate_limit_per_key", K, KEEP)],
    "get_flow_control": [("flow", P, E)],
    "cancel_runs": [("flow", P, None), ("status", P, None), ("since", K, None), ("until", K, None),
                    ("input_match", K, None), ("reason", K, None), ("dry_run", K, False), ("limit", K, None),
                    ("batch_size", K, 200)],
    "enqueue": [("job", P, E), ("input", P, E), ("delay_seconds", P, None), ("scheduled_at", P, None), ("idempotency_key", K, None), ("idempotency_ttl", K, timedelta(hours=24)), ("priority", K, None)],
    "enqueue_at": [("job", P, E), ("input", P, E), ("when", P, E), ("idempotency_key", K, None), ("idempotency_ttl", K, timedelta(hours=24)), ("priority", K, None)],
    "enqueue_in": [("job", P, E), ("input", P, E), ("seconds", P, E), ("idempotency_key", K, None), ("idempotency_ttl", K, timedelta(hours=24)), ("priority", K, None)],
    "find_run_id": [("part", P, E)],
    "flow_exists": [("flow", P, E)],
    "get_flow": [("flow", P, E)],
    "get_run": [("run_id", P, E)],
    "get_run_with_states": [("run_id", P, E)],
    "get_schedule": [("slug", P, E)],
    "health_check": [("stale_after", P, 15.0), ("dead_after", P, 60.0), ("include_stopped", K, False)],
    "install": [("pgmq", P, "auto")],
    "list_flows": [],
    "list_runs": [("flow", P, None), ("status", P, None), ("limit", P, 50), ("since", K, None), ("until", K, None),
                  ("input_match", K, None)],
    "list_schedules": [],
    "new_run_id": [],
    "pause_schedule": [("slug", P, E)],
    "prune": [("older_than", P, E), ("flows", P, None), ("batch_size", K, 10_000)],
    "recompile": [("flow", P, E)],
    "resume_schedule": [("slug", P, E)],
    "resume_run": [("run_id", P, E), ("force", P, False)],
    "retry_run": [("run_id", P, E)],
    "retry_runs": [("flow", P, None), ("status", P, None), ("since", K, None), ("until", K, None),
                   ("input_match", K, None), ("again", K, False), ("dry_run", K, False), ("limit", K, None),
                   ("batch_size", K, 200)],
    "resume_runs": [("flow", P, None), ("status", P, None), ("since", K, None), ("until", K, None),
                    ("input_match", K, None), ("force", K, False), ("again", K, False), ("dry_run", K, False),
                    ("limit", K, None), ("batch_size", K, 200)],
    "run_schedule_now": [("slug", P, E)],
    "schedule": [("flow", P, E), ("cron", P, E), ("input", P, None), ("timezone", P, None), ("slug", K, None),
                 ("catch_up", K, None), ("backend", K, "builtin")],
    "schedule_history": [("slug", P, E), ("limit", P, 50)],
    "set_schedule_backend": [("slug", P, E), ("backend", P, E)],
    "signal": [("run_id", P, E), ("step", P, E), ("payload", P, None)],
    "signal_by_key": [("flow", P, E), ("key", P, E), ("step", P, E), ("payload", P, None)],
    "start_flow": [("flow", P, E), ("input", P, E), ("run_id", P, None), ("idempotency_key", K, None), ("idempotency_ttl", K, timedelta(hours=24)), ("signal_key", K, None), ("priority", K, None)],
    "start_flow_sync": [("flow", P, E), ("input", P, E), ("timeout", P, 60.0), ("idempotency_key", K, None), ("idempotency_ttl", K, timedelta(hours=24))],
    "unschedule": [("slug", P, E)],
    "upsert_flow": [("slug", P, E), ("steps", P, E), ("max_attempts", K, None), ("base_delay", K, None),
                    ("timeout", K, None)],
}


def test_public_parameters_are_unchanged() -> None:
    methods = shared_methods(Client)
    assert set(methods) == set(PUBLIC_PARAMETERS)
    for name, (method, _) in methods.items():
        found = [(p.name, p.kind.name, p.default) for p in list(inspect.signature(method).parameters.values())[1:]]
        assert found == PUBLIC_PARAMETERS[name], name
