"""``pgflow runs retry RUN_ID...``: prints ORIGINAL NEW per run; exit 0 when each was retried, 3 when
some run had nothing to retry, 1 when some run was not found (the others still retried);
``runs show`` shows the lineage and an idempotency key."""

from __future__ import annotations

import json
import uuid

import psycopg

from .conftest import Cli


def _start(pgflow_cli: Cli, n: int) -> uuid.UUID:
    return uuid.UUID(pgflow_cli("start", "shop", "--input", json.dumps({"n": n})).stdout.strip())


def _cancelled(pgflow_cli: Cli, n: int) -> uuid.UUID:
    run_id = _start(pgflow_cli, n)
    assert pgflow_cli("runs", "cancel", str(run_id)).returncode == 0
    return run_id


def test_retry_prints_the_new_runs_and_show_names_the_original(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    first, second = _cancelled(pgflow_cli, 1), _cancelled(pgflow_cli, 2)

    done = pgflow_cli("runs", "retry", str(first), str(second)[-8:])

    assert done.returncode == 0, done.stderr
    lines = [line.split("  ") for line in done.stdout.splitlines()]
    assert [original for original, _ in lines] == [str(first), str(second)]
    new = uuid.UUID(lines[0][1])
    shown = pgflow_cli("runs", "show", str(new))
    assert shown.returncode == 0 and f"retry of {first}" in shown.stdout
    as_json = json.loads(pgflow_cli("runs", "show", str(new), "--json").stdout)
    assert (as_json["retry_of"], as_json["input"]) == (str(first), {"n": 1})


def test_nothing_to_retry_exits_3_and_a_missing_run_1_the_others_still_retried(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    going, cancelled, missing = _start(pgflow_cli, 1), _cancelled(pgflow_cli, 2), uuid.uuid4()

    some = pgflow_cli("runs", "retry", str(going), str(cancelled), "--json")
    assert some.returncode == 3, some.stderr
    assert f"nothing to retry: run {going} is started" in some.stderr and "Traceback" not in some.stderr
    [retried] = json.loads(some.stdout)
    assert retried["run_id"] == str(cancelled)

    worse = pgflow_cli("runs", "retry", str(missing), str(going), str(cancelled))
    assert worse.returncode == 1
    assert str(missing) in worse.stderr and "not found" in worse.stderr
    assert [line.split("  ")[0] for line in worse.stdout.splitlines()] == [str(cancelled)]
    assert pgflow_cli("runs", "retry").returncode == 2  # click: RUN_ID is required


def test_show_names_the_idempotency_key(pgflow_cli: Cli, db_url: str) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    with psycopg.connect(db_url) as conn:
        run_id = conn.execute("SELECT run_id FROM pgflow.start_flow_idempotent('shop', '{\"n\": 1}', 'order-42')"
                              ).fetchone()[0]

    shown = pgflow_cli("runs", "show", str(run_id))
    as_json = json.loads(pgflow_cli("runs", "show", str(run_id), "--json").stdout)

    assert "idempotency key 'order-42' (kept 1d after the run ends)" in shown.stdout
    assert (as_json["idempotency_key"], as_json["idempotency_ttl"]) == ("order-42", 86400.0)
