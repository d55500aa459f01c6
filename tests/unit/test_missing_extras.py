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
