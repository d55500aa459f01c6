"""Named SQL queries loaded from ``pgflow/sql/queries/*.sql``.

Each file holds blocks that start with a ``-- name: <query_name>`` line; the text up to the
next such line is the query. Parameters use psycopg's ``%(name)s`` style. SQL never lives in
Python f-strings; dynamic identifiers go through :mod:`psycopg.sql`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str, origin: str = "<string>") -> dict[str, str]:
    """Split a queries file into ``{name: sql}``."""
    found: dict[str, str] = {}
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    for name, body in zip(parts[1::2], parts[2::2]):
        if name in found:
            raise ValueError(f"query {name!r} is defined twice in {origin}")
        found[name] = body.strip().rstrip(";").strip()
    return found


@cache
def all_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    folder = resources.files("pgflow.sql").joinpath("queries")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        for name, body in parse(entry.read_text(encoding="utf-8"), entry.name).items():
            if name in queries:
                raise ValueError(f"query {name!r} is defined in more than one file (again in {entry.name})")
            queries[name] = body
    return queries


def query(name: str) -> str:
    """The SQL text of a named query; a ``KeyError`` names the missing query."""
    try:
        return all_queries()[name]
    except KeyError:
        raise KeyError(f"no SQL query named {name!r} in pgflow/sql/queries/") from None
