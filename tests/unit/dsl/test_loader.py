"""load_targets: find flows and jobs by import path (what `pgflow worker` and `pgflow compile` use)."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from pgflow import ConfigurationError, Flow, FlowDefinitionError, Job
from pgflow.dsl import load_targets

FLOWS = """
    import pgflow

    order = pgflow.Flow("order_{tag}")

    @order.step
    def validate(input, ctx):
        return input

    refund = pgflow.Flow("refund_{tag}")
    refund.step(validate, slug="check")

    not_a_flow = 42
"""

JOBS = """
    import pgflow
    from {pkg}.flows import order  # re-exported: found again, returned once

    send_email = pgflow.Job("send_email_{tag}")

    @send_email.perform
    def deliver(input):
        return input
"""


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh package on sys.path with a flows and a jobs module; removed from sys.modules after."""
    tag = uuid.uuid4().hex[:8]
    name = f"dsl_targets_{tag}"
    root = tmp_path / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "flows.py").write_text(textwrap.dedent(FLOWS.format(tag=tag)))
    (root / "jobs.py").write_text(textwrap.dedent(JOBS.format(tag=tag, pkg=name)))
    (root / "empty.py").write_text("x = 1\n")
    (root / "broken.py").write_text("import surely_missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, tag
    for module in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
        del sys.modules[module]


def test_module_picks_every_flow_and_job_in_definition_order(pkg):
    name, tag = pkg
    found = load_targets(f"{name}.flows")
    assert [f.slug for f in found] == [f"order_{tag}", f"refund_{tag}"]
    assert all(isinstance(f, Flow) for f in found)


def test_module_attr_picks_one_and_duplicates_are_dropped(pkg):
    name, tag = pkg
    found = load_targets(f"{name}.flows:order", f"{name}.jobs", f"{name}.flows")
    assert [f.slug for f in found] == [f"order_{tag}", f"send_email_{tag}", f"refund_{tag}"]
    assert isinstance(found[1], Job) and found[1].handler_step.slug == f"send_email_{tag}"


def test_missing_module(pkg):
    name, _ = pkg
    with pytest.raises(ConfigurationError, match=rf"cannot import '{name}.nope' for target '{name}.nope:x': no module named '{name}.nope'"):
        load_targets(f"{name}.nope:x")
    with pytest.raises(ConfigurationError, match=r"no module named 'totally_absent_pkg_q'.*current directory is"):
        load_targets("totally_absent_pkg_q.flows")


def test_a_missing_import_inside_the_module_propagates(pkg):
    name, _ = pkg
    with pytest.raises(ModuleNotFoundError, match="surely_missing_dependency_xyz"):
        load_targets(f"{name}.broken")


def test_missing_attribute_lists_the_flows_there(pkg):
    name, tag = pkg
    with pytest.raises(ConfigurationError, match=rf"{name}.flows has no attribute 'ordr' \(target '{name}.flows:ordr'\); flows and jobs in {name}.flows: order, refund"):
        load_targets(f"{name}.flows:ordr")
    with pytest.raises(ConfigurationError, match=rf"{name}.flows:order has no attribute 'x'"):
        load_targets(f"{name}.flows:order.x")


def test_attribute_that_is_not_a_flow(pkg):
    name, _ = pkg
    with pytest.raises(ConfigurationError, match=rf"{name}.flows:not_a_flow is a int, not a pgflow.Flow or pgflow.Job"):
        load_targets(f"{name}.flows:not_a_flow")


def test_module_without_flows(pkg):
    name, _ = pkg
    with pytest.raises(ConfigurationError, match=rf"module '{name}.empty' .* defines no pgflow.Flow or pgflow.Job"):
        load_targets(f"{name}.empty")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("myapp/flows.py", r"must be a module path, not a file path: e.g. 'myapp.flows'"),
        ("a:b:c", "invalid target 'a:b:c'; write module or module:attribute"),
        ("", "invalid target"),
    ],
)
def test_malformed_specs(spec, message):
    with pytest.raises(ConfigurationError, match=message):
        load_targets(spec)


def test_no_specs():
    with pytest.raises(ConfigurationError, match="no flows given"):
        load_targets()


def test_two_definitions_with_one_slug(pkg, tmp_path):
    name, tag = pkg
    (tmp_path / name / "clash.py").write_text(f"import pgflow\norder = pgflow.Flow('order_{tag}')\n")
    with pytest.raises(FlowDefinitionError, match=rf"two different definitions use the slug 'order_{tag}'"):
        load_targets(f"{name}.flows", f"{name}.clash")


def test_current_directory_is_searched(tmp_path, monkeypatch):
    name = f"cwd_flows_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(f"import pgflow\nf = pgflow.Flow('{name}')\nf.step(lambda input: 1, slug='one')\n")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.chdir(tmp_path)
    try:
        with pytest.raises(ConfigurationError, match="no module named"):
            load_targets(name, add_cwd_to_path=False)
        assert [f.slug for f in load_targets(name)] == [name]
        assert sys.path[0] == str(tmp_path)
    finally:
        sys.modules.pop(name, None)
