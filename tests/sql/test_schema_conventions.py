"""The conventions of pgflow/sql/schema, checked on its files and on the installed database.

- A file ``NNNN_function_<name>.sql`` defines the function ``<name>`` (overloads allowed) and no
  other; every function of schema pgflow has such a file; other files define no function.
- Every function of schema pgflow runs with ``SET search_path = ''``, except the few listed in
  INLINED: PostgreSQL never inlines a function that has a SET clause, and these must be inlined
  into the statements that call them. They are SQL-standard bodies instead (``RETURN ...``),
  whose names are bound when the function is created, so no search_path can change them.
"""

from __future__ import annotations

import re
from importlib import resources

FUNCTION_FILE = re.compile(r"^\d{4}_function_(?P<name>\w+)\.sql$")
CREATE = re.compile(r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+(?P<name>[\w.\"]+)\s*\(", re.I)
COMMENT = re.compile(r"--[^\n]*")

INLINED = {
    "_is_terminal": "the one spelling of 'over', asked inside the statements of every transition",
    "_run_event": "run event payload builder, inlined into the emitting statement so it reads only the columns it names",
    "_step_event": "step event payload builder, inlined like _run_event (set-based emits in _advance_runs, _finish_steps)",
    "_task_event": "task event payload builder, inlined like _run_event (claim_tasks, complete_tasks)",
    "_queued_in_order": "a run's queued tasks in message order, inlined into the prioritized and per-key reads",
    "_run_options": "read once per run insert (_create_run, _start_run_directly): one setting, no call overhead",
    "_run_concurrency_key": "read once per run insert, like _run_options: a start pays one primary-key probe, no call",
}

FUNCTIONS = """
    SELECT p.proname, p.proconfig, l.lanname, p.prosqlbody IS NOT NULL AS bound_at_creation, p.prosecdef,
           p.provolatile
      FROM pg_catalog.pg_proc AS p
      JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
     WHERE n.nspname = 'pgflow' AND p.prokind IN ('f', 'p')
"""


def schema_files() -> dict[str, str]:
    folder = resources.files("pgflow.sql").joinpath("schema")
    return {e.name: e.read_text(encoding="utf-8") for e in folder.iterdir() if e.name.endswith(".sql")}


def defined_functions(text: str) -> set[str]:
    return {m["name"] for m in CREATE.finditer(COMMENT.sub("", text))}


def installed(conn) -> dict[str, list[tuple]]:
    found: dict[str, list[tuple]] = {}
    for row in conn.execute(FUNCTIONS):
        found.setdefault(row[0], []).append(row[1:])
    return found


def test_each_function_file_defines_the_function_it_is_named_after():
    wrong = {}
    for name, text in schema_files().items():
        match = FUNCTION_FILE.match(name)
        expected = {f"pgflow.{match['name']}"} if match else set()
        if defined_functions(text) != expected:
            wrong[name] = sorted(defined_functions(text))
    assert wrong == {}, "rename the file after the function it defines (keep its number), one function per file"


def test_every_installed_function_has_its_file(conn):
    named = {m["name"] for m in map(FUNCTION_FILE.match, schema_files()) if m}
    assert set(installed(conn)) ^ named == set()


def test_every_function_runs_with_an_empty_search_path(conn):
    missing = sorted(name for name, overloads in installed(conn).items() if name not in INLINED
                     for config, *_ in overloads if 'search_path=""' not in (config or []))
    assert missing == [], "add SET search_path = '' (or list the function in INLINED, with the reason)"


def test_the_exceptions_are_inlinable_and_bound_at_creation(conn):
    functions = installed(conn)
    assert set(INLINED) <= set(functions), "INLINED lists a function that no longer exists"
    for name in INLINED:
        for config, language, bound_at_creation, security_definer, volatility in functions[name]:
            assert (config, language, security_definer) == (None, "sql", False), name
            assert bound_at_creation, f"{name}: write its body SQL-standard (RETURN ...), so its names are bound at creation"
            assert volatility in ("i", "s"), f"{name}: a volatile function is not inlined into every statement"
