"""pgflow.telemetry: attach, spans, patterns, and the OpenTelemetry bridge."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pgflow import telemetry


@pytest.fixture
def seen():
    events: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    telemetry.attach("unit", ["demo.*"], lambda e, m, md: events.append((e, dict(m), dict(md))))
    yield events
    telemetry.detach("unit")


def test_a_span_emits_start_and_stop_with_a_shared_id_and_a_duration(seen):
    with telemetry.span("demo.op", {"what": "x"}) as span:
        span.measurements["rows"] = 3
    (start, _, md1), (stop, ms, md2) = seen
    assert (start, stop) == ("demo.op.start", "demo.op.stop")
    assert md1["span_id"] == md2["span_id"] and md2["what"] == "x"
    assert ms["rows"] == 3 and ms["duration"] >= 0


def test_a_span_that_raises_emits_exception_and_reraises(seen):
    with pytest.raises(KeyError):
        with telemetry.span("demo.op"):
            raise KeyError("k")
    assert seen[-1][0] == "demo.op.exception" and seen[-1][2]["error"] == "KeyError: 'k'"


def test_a_span_can_fail_without_raising(seen):
    with telemetry.span("demo.task") as span:
        span.fail("timeout", "timed out")
    assert seen[-1][0] == "demo.task.exception" and seen[-1][2]["kind"] == "timeout"


def test_patterns_select_events():
    got: list[str] = []
    telemetry.attach("unit-exact", ["demo.a"], lambda e, m, md: got.append("exact:" + e))
    telemetry.attach("unit-all", "*", lambda e, m, md: got.append("all:" + e) if e.startswith("demo") else None)
    try:
        telemetry.execute("demo.a")
        telemetry.execute("demo.b")
    finally:
        telemetry.detach("unit-exact")
        telemetry.detach("unit-all")
    assert got == ["exact:demo.a", "all:demo.a", "all:demo.b"]
    assert telemetry.detach("unit-exact") is False


def test_every_event_of_the_worker_is_documented():
    docs = (Path(__file__).resolve().parents[3] / "docs" / "reference" / "telemetry.md").read_text()
    for name in telemetry.EVENTS:
        assert f"`{name}`" in docs, name


def test_opentelemetry_spans_follow_pgflow_spans():
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    telemetry.attach_opentelemetry(provider.get_tracer("pgflow"), spans=["demo.job"])
    try:
        with telemetry.span("demo.job", {"flow_slug": "f"}):
            pass
        with telemetry.span("demo.job", {"flow_slug": "g"}) as span:
            span.fail("error", "boom")
    finally:
        telemetry.detach_opentelemetry()
    ok, failed = memory.get_finished_spans()
    assert ok.name == "pgflow.demo.job" and ok.status.status_code.name == "UNSET"
    assert ok.attributes["pgflow.flow_slug"] == "f" and "pgflow.duration" in ok.attributes
    assert failed.status.status_code.name == "ERROR" and failed.attributes["error.type"] == "error"
    assert "pgflow.opentelemetry" not in telemetry.attached()


def test_attach_opentelemetry_without_the_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from pgflow.errors import MissingExtra, PgFlowError

    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # what an absent package looks like to import
    with pytest.raises(MissingExtra, match=r"pip install 'pgflow-py\[otel\]'") as raised:
        telemetry.attach_opentelemetry()
    assert isinstance(raised.value, PgFlowError) and "pgflow.opentelemetry" not in telemetry.attached()


def test_wants_asks_a_handler_that_can_decline_events():
    class Picky:
        def __init__(self) -> None:
            self.got: list[str] = []

        def enabled(self, event: str) -> bool:
            return event == "demo.kept"

        def __call__(self, event: str, measurements: dict[str, Any], metadata: dict[str, Any]) -> None:
            self.got.append(event)

    assert not telemetry.wants("demo.kept")
    telemetry.attach("unit-picky", "demo.*", Picky())
    try:
        assert telemetry.wants("demo.kept") and not telemetry.wants("demo.dropped")
        assert not telemetry.wants_span("demo.dropped")
    finally:
        telemetry.detach("unit-picky")


def test_the_logging_handler_declines_what_its_logger_would_drop():
    logger = logging.getLogger("pgflow.run")
    level = logger.level
    try:
        logger.setLevel(logging.WARNING)
        assert telemetry.wants("run.failed") and not telemetry.wants("run.completed")
        logger.setLevel(logging.INFO)
        assert telemetry.wants("run.completed")
    finally:
        logger.setLevel(level)


def test_a_span_nobody_wants_emits_nothing_but_still_gives_its_body_a_span(seen):
    with telemetry.span("quiet.op", {"what": "x"}) as span:
        span.measurements["rows"] = 1
        span.fail("error", "ignored")
    assert seen == []


def test_a_span_begun_by_hand_ends_with_its_duration(seen):
    span = telemetry.begin("demo.manual", {"what": "y"})
    span.end(duration=0.25)
    (start, _, md1), (stop, ms, md2) = seen
    assert (start, stop) == ("demo.manual.start", "demo.manual.stop")
    assert md1["span_id"] == md2["span_id"] and ms["duration"] == 0.25
