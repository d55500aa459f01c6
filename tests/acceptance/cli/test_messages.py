"""Messages a new user meets: which variable to fix, a malformed URL, a flow never compiled, the
embedded server's line once per terminal session, colour only on a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import pgflow
from tests.acceptance.cli.test_db_url_cli import embedded_env, pgdata  # noqa: F401 - the fixture

from .conftest import Cli, assert_one_line_error

UNREACHABLE = "postgresql://pgflow@127.0.0.1:1/nowhere?connect_timeout=2"


def pgflow_with(env: dict[str, str], *args: str, cwd: Path | None = None,
                stderr: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pgflow", *args], env=env, cwd=cwd, text=True, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE if stderr is None else stderr)


def env_with(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PGFLOW_DATABASE_URL", "DATABASE_URL")}
    env.update(values)
    return env


@pytest.mark.parametrize("variable", ["DATABASE_URL", "PGFLOW_DATABASE_URL"])
def test_an_unreachable_database_names_the_variable_that_was_set(variable: str) -> None:
    result = pgflow_with(env_with(**{variable: UNREACHABLE}), "flows", "list")
    assert_one_line_error(result, "cannot reach the database", f"that {variable} points at it")


def test_a_malformed_url_is_called_malformed(tmp_path: Path) -> None:
    result = pgflow_with(env_with(DATABASE_URL="not a url"), "flows", "list")
    assert_one_line_error(result, "DATABASE_URL is not a valid PostgreSQL URL", "postgresql://")
    with pytest.raises(pgflow.ConfigurationError, match="the database URL you passed is not a valid PostgreSQL URL"):
        pgflow.Client("not a url").open()


def test_a_flow_that_was_never_compiled_says_how_to_compile_it(pgflow_cli: Cli, db_url: str) -> None:
    assert_one_line_error(pgflow_cli("start", "shop"), "flow 'shop' not found", "pgflow compile", "client.compile")
    never = pgflow.Flow("never_compiled")
    never.step(lambda input: 1, slug="one")
    with pgflow.Client(db_url) as client:
        with pytest.raises(pgflow.FlowNotFound, match=r"the flow 'never_compiled' you passed is defined in Python "
                                                       r"but not compiled into this database; call client.compile"):
            client.start_flow(never, {})
        with pytest.raises(pgflow.FlowNotFound, match="flow 'never_compiled' not found; check the slug"):
            client.start_flow("never_compiled", {})


def on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the command with stderr on a pseudo-terminal; its exit code and what it wrote there."""
    primary, secondary = pty.openpty()
    try:
        result = pgflow_with(env, *args, stderr=secondary)
    finally:
        os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal's other end is closed: all read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    return result.returncode, b"".join(chunks).decode()


def test_the_embedded_server_line_comes_once_per_terminal_session_or_with_v(pgdata: Path,  # noqa: F811
                                                                             tmp_path: Path) -> None:
    env = {**embedded_env(pgdata), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    piped = pgflow_with(env, "db", "url")
    assert piped.returncode == 0 and "using the embedded PostgreSQL" not in piped.stderr, piped.stderr
    assert "using the embedded PostgreSQL" in pgflow_with(env, "-v", "db", "status").stderr
    first = on_terminal(env, "db", "status")
    again = on_terminal(env, "db", "status")
    assert first[0] == 0 and "using the embedded PostgreSQL" in first[1]
    assert again[0] == 0 and "using the embedded PostgreSQL" not in again[1]  # same terminal session


def test_errors_are_red_on_a_terminal_and_plain_when_piped() -> None:
    env = env_with(PGFLOW_DATABASE_URL="not a url")
    code, text = on_terminal(env, "flows", "list")
    assert code == 1 and "\x1b[31m" in text and "error:" in text
    assert "\x1b[" not in pgflow_with(env, "flows", "list").stderr
