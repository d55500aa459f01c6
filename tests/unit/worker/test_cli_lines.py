"""The lines ``pgflow worker`` prints per task event."""

from __future__ import annotations

import uuid

from pgflow.cli.worker import _Printer, redact

RUN = uuid.UUID("12345678-1234-5678-1234-567812345678")
META = {"flow_slug": "order", "step_slug": "charge", "task_index": 2, "run_id": RUN, "attempt": 1, "worker_id": "w"}


def test_key_value_lines_for_log_collectors(capsys):
    printer = _Printer(human=False)
    printer("task.stop", {"duration": 0.0123}, META)
    printer("task.exception", {"duration": 1}, {**META, "kind": "error", "error": "ValueError: bad thing\ntraceback"})
    done, failed = capsys.readouterr().out.splitlines()
    assert "event=task.completed flow=order" in done and "step=charge task=2 attempt=1" in done
    assert f"run={RUN}" in done and "duration_ms=12.3" in done
    assert 'kind=error error="ValueError: bad thing"' in failed and "traceback" not in failed


def test_human_lines_for_a_terminal(capsys):
    printer = _Printer(human=True)
    printer("task.start", {}, META)
    printer("task.stop", {"duration": 0.5}, META)
    printer("run.completed", {}, {"run_id": RUN, "flow_slug": "order"})
    started, done, run = capsys.readouterr().out.splitlines()
    assert "▶ order/charge[2] run 12345678 attempt 1" in started
    assert "✓ order/charge[2] run 12345678 500 ms" in done
    assert "run 12345678 of order completed" in run


def test_the_banner_hides_the_password():
    assert "secret" not in redact("postgresql://app:secret@db.example/prod")
    assert "***" in redact("postgresql://app:secret@db.example/prod")
