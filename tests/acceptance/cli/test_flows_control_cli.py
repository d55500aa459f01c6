"""``pgflow flows pause|resume|limits``: flow control from the command line."""

from __future__ import annotations

import json

from .conftest import Cli


def test_pause_resume_and_limits(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0

    paused = pgflow_cli("flows", "pause", "shop", "--reason", "incident 42")
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.startswith("shop: paused since ") and ": incident 42" in paused.stdout

    limited = pgflow_cli("flows", "limits", "shop", "--max-running", "3", "--step", "double=1", "--json")
    assert limited.returncode == 0, limited.stderr
    state = json.loads(limited.stdout)
    assert (state["paused"], state["limits"]) == (True, {"max_running": 3, "steps": {"double": {"max_running": 1}}})

    resumed = pgflow_cli("flows", "resume", "shop")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines() == ["shop: claiming", "  running 0 (max 3), queued 0",
                                           "  step double: running 0 (max 1)"]

    cleared = pgflow_cli("flows", "limits", "shop", "--max-running", "none", "--step", "double=none")
    assert cleared.stdout.splitlines() == ["shop: claiming", "  running 0 (no limit), queued 0"]


def test_bad_limits_and_unknown_flows_exit_1_with_one_line(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0

    zero = pgflow_cli("flows", "limits", "shop", "--max-running", "0")
    assert zero.returncode == 1
    assert "max_running of flow 'shop' must be a whole number of at least 1" in zero.stderr

    step = pgflow_cli("flows", "limits", "shop", "--step", "nope=1")
    assert step.returncode == 1 and "flow 'shop' has no step 'nope'" in step.stderr

    unknown = pgflow_cli("flows", "pause", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr and "Traceback" not in unknown.stderr

    words = pgflow_cli("flows", "limits", "shop", "--max-running", "lots")
    assert words.returncode == 2 and "--max-running takes a whole number" in words.stderr


def test_start_and_enqueue_take_a_priority(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop", "shopflows:mailer").returncode == 0
    started = pgflow_cli("start", "shop", "--input", '{"n": 1}', "--priority", "5")
    assert started.returncode == 0, started.stderr
    shown = pgflow_cli("runs", "show", started.stdout.strip(), "--json")
    assert json.loads(shown.stdout)["priority"] == 5
    enqueued = pgflow_cli("enqueue", "mailer", "--input", "{}", "--priority", "2")
    assert enqueued.returncode == 0, enqueued.stderr
    too_high = pgflow_cli("enqueue", "mailer", "--input", "{}", "--priority", "1001")
    assert too_high.returncode == 2 and "--priority" in too_high.stderr


def test_runs_show_says_why_a_run_waits(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    assert pgflow_cli("flows", "pause", "shop", "--reason", "maintenance").returncode == 0
    run_id = pgflow_cli("start", "shop", "--input", '{"n": 1}').stdout.strip()
    shown = pgflow_cli("runs", "show", run_id)
    assert shown.returncode == 0 and "waiting: paused: maintenance" in shown.stdout


def test_rate_limits_from_the_command_line(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    limited = pgflow_cli("flows", "limits", "shop", "--rate", "10/1", "--step-rate", "double=3/60")
    assert limited.returncode == 0, limited.stderr
    assert limited.stdout.splitlines() == ["shop: claiming", "  running 0 (no limit), at most 10 starts per 1 s, queued 0",
                                           "  step double: running 0, at most 3 starts per 60 s"]
    zero = pgflow_cli("flows", "limits", "shop", "--rate", "10/0")
    assert zero.returncode == 1 and "rate_limit of flow 'shop' must be" in zero.stderr
    cleared = pgflow_cli("flows", "limits", "shop", "--rate", "none", "--step-rate", "double=none", "--json")
    assert json.loads(cleared.stdout)["limits"] == {}


def test_per_key_limits_from_the_command_line(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0

    limited = pgflow_cli("flows", "limits", "shop", "--max-running-per-key", "2", "--concurrency-key", "customer.id")
    assert limited.returncode == 0, limited.stderr
    assert limited.stdout.splitlines()[-1] == "  per key (customer.id): max 2 per key; running: none"
    shown = json.loads(pgflow_cli("flows", "limits", "shop", "--json").stdout)
    assert shown["limits"] == {"concurrency_key": "customer.id", "max_running_per_key": 2}
    run_id = pgflow_cli("start", "shop", "--input", '{"n": 1, "customer": {"id": 7}}').stdout.strip()
    assert "concurrency key '7'" in pgflow_cli("runs", "show", run_id).stdout.splitlines()

    zero = pgflow_cli("flows", "limits", "shop", "--max-running-per-key", "0")
    assert zero.returncode == 1 and "max_running_per_key of flow 'shop' must be a whole number" in zero.stderr
    bad = pgflow_cli("flows", "limits", "shop", "--concurrency-key", "a..b")
    assert bad.returncode == 1 and "concurrency_key of flow 'shop' must be a path into the run input" in bad.stderr

    rated = pgflow_cli("flows", "limits", "shop", "--rate-per-key", "2/60")
    assert rated.stdout.splitlines()[-1] == ("  per key (customer.id): max 2 per key, at most 2 starts per 60 s per key; "
                                             "running: none")
    assert "rate_limit_per_key of flow 'shop' must be" in pgflow_cli("flows", "limits", "shop", "--rate-per-key",
                                                                     "2/0").stderr
    cleared = pgflow_cli("flows", "limits", "shop", "--max-running-per-key", "none", "--concurrency-key", "none",
                         "--rate-per-key", "none")
    assert cleared.stdout.splitlines() == ["shop: claiming", "  running 0 (no limit), queued 1"]  # the run above
