"""``pgflow compile`` / ``pgflow worker`` refuse a module whose flow has no steps, in one line."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli, assert_one_line_error


def test_compile_and_worker_refuse_a_flow_without_steps(pgflow_cli: Cli, project: Path) -> None:
    (project / "reports.py").write_text(
        'import pgflow\n\nreport = pgflow.Flow("daily_report", cron=pgflow.Cron("0 9 * * *"))\n')
    assert_one_line_error(pgflow_cli("compile", "reports"), "flow 'daily_report' has no steps")
    assert_one_line_error(pgflow_cli("worker", "reports", timeout=30), "flow 'daily_report' has no steps")
    assert "daily_report" not in pgflow_cli("flows", "list").stdout  # nothing was stored
