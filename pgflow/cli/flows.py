"""``pgflow flows list|show|recompile`` and ``pgflow compile``: flow definitions in the database."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from pgflow.cli.common import client_for, database_option, echo_json, echo_table, fail, json_option, main_group


def when(value: datetime | None) -> str:
    """A timestamp for tables: local time, to the second."""
    if value is None:
        return ""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def when_zoned(value: datetime) -> str:
    """A moment in local time with its zone's name, for a line that stands alone."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def when_in(value: datetime | None, zone: str) -> str:
    """A moment in the IANA time zone ``zone``, named after the time (a schedule's own zone)."""
    if value is None:
        return ""
    try:
        return f"{value.astimezone(ZoneInfo(zone)).strftime('%Y-%m-%d %H:%M:%S')} {zone}"
    except (ZoneInfoNotFoundError, ValueError):
        return when_zoned(value)


MAX_INDENT = 40


def draw_dag(steps: Sequence[Any], label: Callable[[Any], str]) -> list[str]:
    """Steps (with ``.step_slug`` and ``.depends_on``, in step order) drawn as a tree.

    Roots at the top, each step under the steps it depends on. A step with several
    dependencies is drawn in full under the first one reached and referred to elsewhere.
    """
    by_slug = {s.step_slug: s for s in steps}
    children: dict[str, list[str]] = {s.step_slug: [] for s in steps}
    for step in steps:
        for dep in step.depends_on:
            if dep in children:
                children[dep].append(step.step_slug)
    roots = [s.step_slug for s in steps if not s.depends_on]
    lines: list[str] = []
    drawn: set[str] = set()
    # iterative (a chain of 1,000 steps is 1,000 levels deep); past MAX_INDENT levels the
    # indentation stops growing, so each line stays short
    stack = [(root, "", i == len(roots) - 1, 0) for i, root in reversed(list(enumerate(roots)))]
    while stack:
        slug, prefix, last, depth = stack.pop()
        branch = "└── " if last else "├── "
        step = by_slug[slug]
        if slug in drawn:
            lines.append(f"{prefix}{branch}{slug} (see above)")
            continue
        drawn.add(slug)
        needs = f"  [needs {', '.join(step.depends_on)}]" if len(step.depends_on) > 1 else ""
        lines.append(f"{prefix}{branch}{label(step)}{needs}")
        below = children[slug]
        inner = prefix + ("    " if last else "│   ") if depth < MAX_INDENT else prefix
        if depth == MAX_INDENT and below:
            lines.append(f"{prefix}    ⋮ (deeper steps are not indented further)")
        stack.extend((child, inner, i == len(below) - 1, depth + 1) for i, child in reversed(list(enumerate(below))))
    return lines


def _options(item: Any) -> str:
    parts = [f"{name}={getattr(item, name)}" for name in ("max_attempts", "base_delay", "timeout", "start_delay")
             if getattr(item, name, None) is not None]
    return " ".join(parts)


def _step_label(step: Any) -> str:
    extras = [step.step_type] if step.step_type == "map" else []
    if step.required_input_pattern is not None:
        extras.append(f"if {json.dumps(step.required_input_pattern)}")
    if step.forbidden_input_pattern is not None:
        extras.append(f"if not {json.dumps(step.forbidden_input_pattern)}")
    options = _options(step)
    if options:
        extras.append(options)
    return step.step_slug + (f"  ({', '.join(extras)})" if extras else "")


@main_group.group()
def flows() -> None:
    """Flows and jobs stored in the database."""


@flows.command("list")
@database_option
@json_option
def list_command(database_url: str | None, as_json: bool) -> None:
    """Every flow and job, with its options."""
    with client_for(database_url) as client:
        found = client.list_flows()
    if as_json:
        echo_json(found)
        return
    echo_table(
        [(f.flow_slug, f.flow_type, len(f.steps), f.max_attempts, f.base_delay, f.timeout, when(f.created_at))
         for f in found],
        ["flow", "type", "steps", "max attempts", "base delay", "timeout", "created"],
    )


@flows.command("show")
@click.argument("slug")
@database_option
@json_option
def show_command(slug: str, database_url: str | None, as_json: bool) -> None:
    """A flow's options, and its steps drawn as a dependency tree."""
    with client_for(database_url) as client:
        flow = client.get_flow(slug)
    if as_json:
        echo_json(flow)
        return
    click.echo(f"{flow.flow_slug} ({flow.flow_type}, {len(flow.steps)} steps)  {_options(flow)}")
    for line in draw_dag(flow.steps, _step_label):
        click.echo(line)


@main_group.command("compile")
@click.argument("targets", nargs=-1, required=True, metavar="MODULE[:ATTR]...")
@click.option("--allow-data-loss", is_flag=True,
              help="Recreate a flow whose stored structure differs, DELETING its runs.")
@database_option
@json_option
def compile_command(targets: tuple[str, ...], allow_data_loss: bool, database_url: str | None, as_json: bool) -> None:
    """Store the flows and jobs defined in Python modules (module:attr, or a module for all of them)."""
    from pgflow.dsl import load_targets

    found = load_targets(*targets)
    results = []
    with client_for(database_url) as client:
        for flow in found:
            result = client.compile(flow, allow_data_loss=allow_data_loss)
            results.append({"flow_slug": flow.slug, "flow_type": flow.flow_type, **result})
            if not as_json:
                click.echo(f"{result['status']:<10}  {flow.flow_type} {flow.slug}")
                for difference in result["differences"]:
                    click.echo(f"            - {difference}")
    if as_json:
        echo_json(results)


@flows.command("recompile")
@click.argument("slug")
@click.argument("targets", nargs=-1, required=True, metavar="MODULE[:ATTR]...")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@database_option
@json_option
def recompile_command(slug: str, targets: tuple[str, ...], yes: bool, database_url: str | None,
                      as_json: bool) -> None:
    """Replace the stored flow SLUG with its definition in code, DELETING its runs, tasks and queued
    messages (one transaction). For a flow whose steps or queues changed: `pgflow compile` and
    workers refuse such a flow rather than lose its runs."""
    from pgflow.dsl import load_targets

    found = [f for f in load_targets(*targets) if f.slug == slug]
    if not found:
        fail(f"no flow or job {slug!r} is defined in {', '.join(targets)}; name the module that defines it")
    if not yes:
        click.confirm(f"Delete flow {slug!r} with all its runs and compile it anew?", abort=True, err=True)
    with client_for(database_url) as client:
        result = client.recompile(found[0])
    if as_json:
        echo_json({"flow_slug": slug, **result})
        return
    click.echo(f"{result['status']:<10}  {found[0].flow_type} {slug}")
    for difference in result["differences"]:
        click.echo(f"            - {difference}")
