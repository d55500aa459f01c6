"""``pgflow compile``, ``pgflow flows list|show`` as a subprocess."""

from __future__ import annotations

import json

from .conftest import Cli, assert_one_line_error


def test_compile_then_verify_a_module(pgflow_cli: Cli) -> None:
    first = pgflow_cli("compile", "shopflows")
    assert first.returncode == 0, first.stderr
    assert first.stdout.split() == ["compiled", "flow", "shop", "compiled", "job", "mailer"]
    again = pgflow_cli("compile", "shopflows:shop", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == [
        {"flow_slug": "shop", "flow_type": "flow", "status": "verified", "differences": []}
    ]


def test_compile_mismatch_explains_and_allow_data_loss_fixes(pgflow_cli: Cli, project) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    (project / "shopflows.py").write_text(
        "import pgflow\nshop = pgflow.Flow('shop')\n\n@shop.step\ndef only(input):\n    return 1\n"
    )
    mismatch = pgflow_cli("compile", "shopflows:shop")
    assert mismatch.returncode == 1 and "Traceback" not in mismatch.stderr
    assert "differs" in mismatch.stderr and "--allow-data-loss" in mismatch.stderr
    fixed = pgflow_cli("compile", "shopflows:shop", "--allow-data-loss")
    assert fixed.returncode == 0 and fixed.stdout.startswith("recompiled")


def test_compile_bad_target_is_one_line(pgflow_cli: Cli) -> None:
    assert_one_line_error(pgflow_cli("compile", "no_such_module:flow"), "no_such_module")


def test_flows_list_and_show(pgflow_cli: Cli) -> None:
    assert pgflow_cli("compile", "shopflows").returncode == 0
    listed = pgflow_cli("flows", "list")
    assert listed.returncode == 0
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0][:3] == ["FLOW", "TYPE", "STEPS"]
    assert [r[:3] for r in rows[1:]] == [["mailer", "job", "1"], ["shop", "flow", "2"]]
    as_json = json.loads(pgflow_cli("flows", "list", "--json").stdout)
    assert [f["flow_slug"] for f in as_json] == ["mailer", "shop"]

    shown = pgflow_cli("flows", "show", "shop")
    assert shown.returncode == 0
    assert shown.stdout.splitlines()[1:] == ["└── double", "    └── add_one"]
    detail = json.loads(pgflow_cli("flows", "show", "shop", "--json").stdout)
    assert [(s["step_slug"], s["depends_on"]) for s in detail["steps"]] == [("double", []), ("add_one", ["double"])]


def test_flows_show_unknown_slug_is_one_line(pgflow_cli: Cli) -> None:
    assert_one_line_error(pgflow_cli("flows", "show", "nope"), "'nope'", "compile")


def _change_shop(project) -> None:
    (project / "shopflows.py").write_text(
        "import pgflow\nshop = pgflow.Flow('shop', step_queues=True)\n\n@shop.step\ndef only(input):\n    return 1\n"
    )


def test_flows_recompile_replaces_the_stored_flow_after_confirmation(pgflow_cli: Cli, project) -> None:
    assert pgflow_cli("compile", "shopflows:shop").returncode == 0
    _change_shop(project)
    refused = pgflow_cli("flows", "recompile", "shop", "shopflows")  # no terminal: the prompt reads EOF
    assert refused.returncode != 0 and "Delete flow 'shop'" in refused.stderr
    assert "recompile shop" in pgflow_cli("compile", "shopflows:shop").stderr  # still the old flow

    done = pgflow_cli("flows", "recompile", "shop", "shopflows", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["flow_slug"] == "shop" and result["status"] == "recompiled"
    assert "step count differs: 1 in code, 2 in database" in result["differences"]
    shown = json.loads(pgflow_cli("flows", "show", "shop", "--json").stdout)
    assert shown["queue_mode"] == "step" and [s["queue_name"] for s in shown["steps"]] == ["shop__only"]


def test_flows_recompile_of_a_slug_the_module_does_not_define_is_one_line(pgflow_cli: Cli) -> None:
    assert_one_line_error(pgflow_cli("flows", "recompile", "nope", "shopflows", "--yes"), "no flow or job 'nope'")
