"""docs/reference/events.md shows the fields the event classes declare (rendered from them)."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from pathlib import Path

from pgflow.events import EVENT_CLASSES, Event, reference_tables

ROOT = Path(__file__).resolve().parents[2]


def build_script():
    spec = importlib.util.spec_from_file_location("build_events_reference", ROOT / "scripts" / "build_events_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def items(cell: str) -> list[str]:
    """The comma-separated items of a fields cell (commas inside parentheses do not separate)."""
    found, depth, start = [], 0, 0
    for i, char in enumerate(cell):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if cell.startswith(", ", i) and depth == 0:
            found.append(cell[start:i])
            start = i + 2
    return [*found, cell[start:]]


def test_the_page_holds_the_tables_rendered_from_the_declarations():
    script = build_script()
    text = script.PAGE.read_text()
    assert script.rendered(text) == text, "docs/reference/events.md is out of date: run scripts/build_events_reference.py"


def test_each_row_names_its_class_and_exactly_its_declared_fields():
    common = {f.name for f in dataclasses.fields(Event)} - {"raw"}
    tables = reference_tables()
    for cls in EVENT_CLASSES:
        family = cls.event_type.split(":")[0]
        row = next(line for line in tables[family].splitlines() if line.startswith(f"| `{cls.event_type}` |"))
        cells = row.split(" | ")
        assert cells[1] == f"`{cls.__name__}`"
        listed = [re.match(r"`(\w+)`", item)[1] for item in items(cells[2].removesuffix(" |"))]
        assert listed == [f.name for f in dataclasses.fields(cls) if f.name not in common | {"raw"}]
    assert re.findall(r"^\| `(\w+)` \|", tables["common"], re.M) == ["event_type", *sorted(common, key=[
        f.name for f in dataclasses.fields(Event)].index)]
