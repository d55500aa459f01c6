"""mypy finds no error in the package, and sees each client method's real result: ``T`` on Client,
``Awaitable[T]`` on AsyncClient."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
CHECKED = Path(__file__).parent / "typecheck" / "client_types.py"


def test_mypy_finds_no_error_in_the_package(tmp_path: Path) -> None:
    # settings from [tool.mypy] in pyproject.toml, as for a plain `mypy pgflow`
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), "-p", "pgflow"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # no module mypy: pip install -e '.[dev]'


def test_mypy_sees_the_result_types_of_both_clients(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-version", "3.10", "--warn-unused-ignores",
         "--cache-dir", str(tmp_path / "mypy"), "--follow-imports", "silent", str(CHECKED)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr  # no module mypy: pip install -e '.[dev]'
