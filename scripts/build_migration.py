"""Check the frozen initial migration, and draft an upgrade migration from the schema files.

The declared schema (pgflow/sql/schema/, one object per file) is the readable current
definition. Migrations are what installed databases run: 0001_initial.sql is the schema as first
released and never changes again (its checksum is pinned below and recorded in every database's
ledger); each later change ships as a new numbered migration. tests/migration/test_migration.py
proves that the migrations, applied in order, give the same catalog as the declared schema.

    python scripts/build_migration.py --check
        exit 1 when 0001_initial.sql differs from the frozen file

    python scripts/build_migration.py draft 0003_queue_identity --since v0.2.0 [--force]
        write pgflow/sql/migrations/0003_queue_identity.sql with every function file added or
        changed since that git revision (in load order) and a DROP FUNCTION for every function
        file removed since; a changed table, type, index or trigger file is listed as a TODO to
        write by hand (ALTER TABLE ..., data repairs), because only a person knows how existing
        rows must move. --force rewrites a draft made before (while the schema files still
        change); put the hand-written part in a migration of its own, numbered before the draft.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = ROOT / "pgflow" / "sql" / "migrations"
SCHEMA = "pgflow/sql/schema"
INITIAL = MIGRATIONS / "0001_initial.sql"
# sha256 of 0001_initial.sql as released: installed databases record it in pgflow.schema_migrations
INITIAL_SHA256 = "a1855aee2137a269f022cd87b0be17f1dab17ba3cb52323b84afadf245520feb"

_FUNCTION = re.compile(r"CREATE\s+OR\s+REPLACE\s+FUNCTION\s+(pgflow\.[a-z_0-9]+\s*\([^)]*\))", re.IGNORECASE)


def check() -> int:
    digest = hashlib.sha256(INITIAL.read_bytes()).hexdigest()
    if digest != INITIAL_SHA256:
        print(f"{INITIAL.relative_to(ROOT)} changed (sha256 {digest}); it is frozen: installed databases "
              "ran the released file. Put the change in a new migration "
              "(python scripts/build_migration.py draft NNNN_name --since REV)", file=sys.stderr)
        return 1
    return 0


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def _signature(sql: str) -> str:
    """'pgflow.name(arg types)' of a function file's CREATE statement, for DROP FUNCTION."""
    found = _FUNCTION.search(sql)
    if found is None:
        raise SystemExit(f"no CREATE OR REPLACE FUNCTION in:\n{sql[:200]}")
    head = found[1]
    name, args = head.split("(", 1)
    types = [" ".join(a.split()[1:]) if len(a.split()) > 1 else a.strip()
             for a in args.rstrip(")").split(",") if a.strip()]
    types = [re.sub(r"\s+DEFAULT\s+.*$", "", t, flags=re.IGNORECASE) for t in types]
    return f"{name.strip()}({', '.join(types)})"


def draft(name: str, since: str, force: bool = False) -> int:
    if not re.fullmatch(r"\d{4}_[a-z0-9_]+", name):
        raise SystemExit(f"{name!r}: name the migration NNNN_words (e.g. 0003_queue_identity)")
    target = MIGRATIONS / f"{name}.sql"
    if target.exists() and not force:
        raise SystemExit(f"{target.relative_to(ROOT)} exists; edit it, or pick the next number")
    # against the working tree (uncommitted edits count), plus new files git does not track yet
    changes = [line.split("\t") for line in _git("diff", "--name-status", "-M", since, "--", SCHEMA).splitlines()]
    changes += [["A", path] for path in _git("ls-files", "--others", "--exclude-standard", "--", SCHEMA).splitlines()]
    drops, bodies, by_hand = [], [], []
    for status, *paths in changes:
        path = paths[-1]
        filename = Path(path).name
        if status.startswith("D"):
            old = _git("show", f"{since}:{path}")
            if "_function_" in filename:
                drops.append(f"DROP FUNCTION {_signature(old)};")
            else:
                by_hand.append(f"-- TODO by hand: {filename} was removed")
            continue
        if status == "R100":
            continue  # renamed file, same text: nothing changes in the database
        if "_function_" not in filename:
            by_hand.append(f"-- TODO by hand: {filename} changed (ALTER ..., data repairs)")
            continue
        bodies.append((filename, (ROOT / path).read_text()))
    bodies.sort()
    parts = [f"-- pgflow-py migration {name}: drafted by scripts/build_migration.py from the schema files "
             f"changed since {since}\n", *by_hand, *drops]
    parts += [f"-- {filename}\n{text.strip()}\n" for filename, text in bodies]
    target.write_text("\n".join(parts) + "\n")
    print(f"wrote {target.relative_to(ROOT)}: {len(bodies)} function(s), {len(drops)} drop(s), "
          f"{len(by_hand)} TODO(s)")
    return 0


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv == ["--check"]:
        sys.exit(check())
    force = "--force" in argv
    argv = [a for a in argv if a != "--force"]
    if len(argv) == 4 and argv[0] == "draft" and argv[2] == "--since":
        sys.exit(draft(argv[1], argv[3], force))
    sys.exit(__doc__)
