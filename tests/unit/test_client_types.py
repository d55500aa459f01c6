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


STRICT = ["pgflow/dsl/flow.py", "pgflow/db/driver.py", "pgflow/ops/runs.py", "pgflow/events.py", "pgflow/models.py",
          "pgflow/types.py", "pgflow/client.py"]  # one module of each part that [tool.mypy] makes strict
PROBE = '''from typing import Any


def untyped(x):
    return x


def loose(x: Any) -> int:
    return x


def bare(x: list) -> None:
    return None
'''


def test_mypy_is_strict_on_the_typed_core(tmp_path: Path) -> None:
    """pyproject.toml's [tool.mypy] makes these parts strict: each module, replaced by a probe with an
    untyped function, a returned Any and a bare generic, gets the three errors a strict run reports."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    shadows = [arg for path in STRICT for arg in ("--shadow-file", path, str(probe))]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), "--follow-imports", "silent",
         *shadows, *STRICT],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    found = {(line.split(":")[0], line.rsplit("[", 1)[-1].rstrip("]")) for line in result.stdout.splitlines()
             if ": error:" in line}
    assert found == {(path, code) for path in STRICT for code in ("no-untyped-def", "no-any-return", "type-arg")}, \
        result.stdout
