"""``pgflow runs resume RUN_ID... [--force]``: prints ORIGINAL NEW per run; exit 0 when each was
resumed, 3 when some run could not be resumed, 1 when some run was not found."""

from __future__ import annotations

import json
import uuid

from .conftest import Cli


def _start(pgflow_cli: Cli, n: int) -> uuid.UUID:
    return uuid.UUID(pgflow_cli("start", "shop", "--input", json.dumps({"n": n})).stdout.strip())


def test_resume_prints_the_new_run_and_exit_codes(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    cancelled, going, missing = _start(pgflow_cli, 1), _start(pgflow_cli, 2), uuid.uuid4()
    assert pgflow_cli("runs", "cancel", str(cancelled)).returncode == 0

    done = pgflow_cli("runs", "resume", str(cancelled), "--json")
    assert done.returncode == 0, done.stderr
    [resumed] = json.loads(done.stdout)
    assert resumed["run_id"] == str(cancelled)
    shown = pgflow_cli("runs", "show", resumed["resume_run_id"])
    assert shown.returncode == 0 and f"resume of {cancelled}" in shown.stdout

    some = pgflow_cli("runs", "resume", str(going), str(cancelled), "--force")
    assert some.returncode == 3, some.stderr
    assert f"nothing to resume: run {going} is started" in some.stderr and "Traceback" not in some.stderr
    assert [line.split("  ")[0] for line in some.stdout.splitlines()] == [str(cancelled)]

    worse = pgflow_cli("runs", "resume", str(missing))
    assert worse.returncode == 1 and "not found" in worse.stderr
