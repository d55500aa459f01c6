"""Rewrite the field tables of docs/reference/events.md from the event classes' declarations.

Each table sits between ``<!-- fields: NAME -->`` and ``<!-- /fields -->`` and is rendered by
``pgflow.events.reference_tables()``; tests/unit/test_events_reference.py fails when the page and
the declarations drift apart.

    python scripts/build_events_reference.py            # rewrite the tables
    python scripts/build_events_reference.py --check    # exit 1 when they are out of date
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pgflow.events import reference_tables  # noqa: E402

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "events.md"
BLOCK = re.compile(r"(<!-- fields: (\w+) -->\n)(.*?)(<!-- /fields -->)", re.S)


def rendered(text: str) -> str:
    """``text`` with every table block replaced by its rendering; an unknown block name raises."""
    tables = reference_tables()
    found = {m[2] for m in BLOCK.finditer(text)}
    if found != set(tables):
        raise SystemExit(f"{PAGE.name}: table blocks {sorted(found)}, expected {sorted(tables)}")
    return BLOCK.sub(lambda m: f"{m[1]}{tables[m[2]]}\n{m[4]}", text)


if __name__ == "__main__":
    current = PAGE.read_text()
    text = rendered(current)
    if "--check" in sys.argv:
        sys.exit(0 if text == current else f"{PAGE} is out of date: run python scripts/build_events_reference.py")
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
