"""Client and AsyncClient expose the same public methods with the same signatures.

The only allowed differences: AsyncClient's methods are awaited, and ``subscribe`` (an async
iterator of events) exists only on AsyncClient.
"""

from __future__ import annotations

import inspect

from pgflow.client import AsyncClient, Client

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
