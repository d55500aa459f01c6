"""The Python blocks of the README and the guides: each one compiles, and those that need no
database (flow definitions, run_inline tests) run as written, in order, one namespace per file
(a block may use what an earlier block of its page defined); every flow they define has steps.

Blocks that talk to a database, a server or an app module (``myapp``) are only compiled here; the
acceptance tests cover what they show.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import pgflow

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "guides").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
# statements that need a database, a server or the reader's own package
NEEDS_MORE = re.compile(r"^(from|import) myapp|\"myapp\.|Client\(|^\s*await |async with|async for|\bconn\b|\bdsn\b|"
                        r"Worker\(|FastAPI|EventHub|LiveClient|event_stream|tick_sync|client\.|uvicorn", re.M)


def blocks(page: Path) -> list[tuple[int, str]]:
    text = page.read_text()
    return [(text[:m.start()].count("\n") + 2, textwrap.dedent(m[1])) for m in BLOCK.finditer(text)]


def needs_more(code: str) -> bool:
    """Whether the block's top-level statements (not the bodies of the functions it defines: a
    test function taking a ``client`` fixture is only defined) need a database or ``myapp``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:  # top-level await: an async snippet
        return True
    top = [ast.get_source_segment(code, node) or "" for node in tree.body
           if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    return any(NEEDS_MORE.search(text) for text in top)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_python_block_compiles(page: Path) -> None:
    for line, code in blocks(page):
        compile(code, f"{page.name}:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_blocks_that_need_no_database_run_and_their_flows_have_steps(page: Path) -> None:
    namespace: dict[str, object] = {"pgflow": pgflow}
    for line, code in blocks(page):
        if needs_more(code):
            continue
        exec(compile(code, f"{page.name}:{line}", "exec"), namespace)  # noqa: S102 - our own docs
        for name, value in list(namespace.items()):
            if isinstance(value, pgflow.Flow):
                value.require_steps()  # an empty flow in a doc is the README's old mistake
            elif name.startswith("test_") and callable(value) and not inspect.signature(value).parameters:
                value()  # a test a guide shows (run_inline needs no database)
