"""Named SQL of the benchmarks, in ``benchmarks/queries.sql`` (same format as pgflow's queries)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pgflow.db.queries import parse


@cache
def _queries() -> dict[str, str]:
    path = Path(__file__).with_name("queries.sql")
    return parse(path.read_text(encoding="utf-8"), path.name)


def q(name: str) -> str:
    """The SQL text of a named benchmark query."""
    return _queries()[name]
