"""``pgflow runs cancel RUN_ID... [--reason]``: exit 0 when each run was cancelled or already over,
1 when some run was not found (the others still cancelled); ``runs show`` shows the cancel."""

from __future__ import annotations

import json
import uuid

from .conftest import Cli


def _start(pgflow_cli: Cli, n: int) -> uuid.UUID:
    return uuid.UUID(pgflow_cli("start", "shop", "--input", json.dumps({"n": n})).stdout.strip())


def test_cancel_then_again_then_show(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    first, second = _start(pgflow_cli, 1), _start(pgflow_cli, 2)

    done = pgflow_cli("runs", "cancel", str(first), str(second)[-8:], "--reason", "wrong prices")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{first}  cancelled", f"{second}  cancelled"]

    again = pgflow_cli("runs", "cancel", str(first), "--json")
    assert again.returncode == 0, again.stderr
    [result] = json.loads(again.stdout)
    assert (result["run_id"], result["cancelled"], result["status"]) == (str(first), False, "failed")

    shown = pgflow_cli("runs", "show", str(first))
    assert shown.returncode == 0
    assert "cancelled " in shown.stdout and ": wrong prices" in shown.stdout


def test_an_unknown_run_exits_1_and_the_others_are_still_cancelled(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    run_id = _start(pgflow_cli, 1)
    missing = uuid.uuid4()

    result = pgflow_cli("runs", "cancel", str(missing), str(run_id))

    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{run_id}  cancelled"]
    assert str(missing) in result.stderr and "not found" in result.stderr
    assert pgflow_cli("runs", "cancel").returncode == 2  # click: RUN_ID is required
