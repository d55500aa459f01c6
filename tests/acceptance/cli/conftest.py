"""Run the real ``pgflow`` command as a subprocess against a test database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FLOWS_MODULE = '''
import pgflow

shop = pgflow.Flow("shop", max_attempts=1)


@shop.step
def double(input):
    return input["n"] * 2


@shop.step(depends_on=[double])
def add_one(deps):
    return deps["double"] + 1


mailer = pgflow.Job("mailer")


@mailer.perform
def send(input):
    return {"sent": True}
'''

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env["PGFLOW_DATABASE_URL"] = db_url
    return env


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding a module of flows (``shopflows``), the CLI's working directory."""
    (tmp_path / "shopflows.py").write_text(FLOWS_MODULE)
    return tmp_path


@pytest.fixture
def pgflow_cli(db_url: str, project: Path) -> Cli:
    def run(*args: str, url: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pgflow", *args],
            cwd=project, env=cli_env(url or db_url), capture_output=True, text=True, timeout=timeout,
        )

    return run


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """A failed command: non-zero exit, one ``error:`` line on stderr, no traceback."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
