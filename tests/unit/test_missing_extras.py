"""An optional library that is not installed: the error names the extra to install."""

from __future__ import annotations

import sys

import pytest

from pgflow.errors import MissingExtra, PgFlowError


def test_metrics_without_prometheus_client_name_the_metrics_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pgflow.metrics import Metrics

    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # what an absent package looks like to import
    with pytest.raises(MissingExtra, match=r"pip install 'pgflow-py\[metrics\]'") as raised:
        Metrics()
    assert isinstance(raised.value, PgFlowError) and isinstance(raised.value, ImportError)


def test_the_django_integration_without_django_names_the_django_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pgflow.contrib.django" or m.startswith("pgflow.contrib.django.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "django", None)
    with pytest.raises(MissingExtra, match=r"pip install 'pgflow-py\[django\]'"):
        import pgflow.contrib.django  # noqa: F401


def test_an_in_process_worker_without_flows_is_refused_with_the_fix() -> None:
    from pgflow.contrib.asgi import PgFlow
    from pgflow.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match=r"PgFlow\(flows=\[\.\.\.\], worker=True\)"):
        PgFlow("postgresql://localhost/app", worker=True)
