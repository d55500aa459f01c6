"""Installing and checking the ``pgflow`` schema.

Migrations are forward-only SQL files in ``pgflow/sql/migrations`` named ``NNNN_name.sql``.
Each applied migration is recorded in the ledger table ``pgflow.schema_migrations`` with its
checksum. ``install`` applies what is missing in one transaction under an advisory lock, so two
deploys at once are safe, and installs pgmq first when the database lacks it: as an extension
where the server offers one, otherwise from the SQL shipped in the ``pgmq`` package.

The catalog fingerprint of every ``pgflow`` object is stored with the last migration, so
``check`` can tell a schema that was changed by hand (drift) from one that is merely old.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from pgflow.db import Operation, Query
from pgflow.errors import ConfigurationError

MIN_PGMQ = (1, 8)
LOCK_KEY = 7_401_505_283  # pg_advisory_xact_lock key for migrations ("pgflow" in spirit)
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


@dataclass(frozen=True)
class Status:
    """What ``pgflow db status`` reports."""

    applied: list[dict[str, Any]]
    pending: list[Migration]
    pgmq_version: str | None
    pgmq_source: str | None  # "extension", "sql" or None when missing
    checksum_mismatches: list[int] = field(default_factory=list)
    missing_objects: list[str] = field(default_factory=list)
    changed_objects: list[str] = field(default_factory=list)
    extra_objects: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        out: list[str] = []
        if self.pgmq_source is None:
            out.append("pgmq is not installed (run `pgflow db install`)")
        elif self.pgmq_version is not None and _version_tuple(self.pgmq_version) < MIN_PGMQ:
            out.append(f"pgmq {self.pgmq_version} is too old: pgflow-py needs pgmq >= 1.8")
        out += [f"migration {m.version:04d}_{m.name} is not applied" for m in self.pending]
        out += [f"migration {v:04d} was applied from a different file (checksum differs)" for v in self.checksum_mismatches]
        out += [f"missing: {o}" for o in self.missing_objects]
        out += [f"changed since install: {o}" for o in self.changed_objects]
        out += [f"unexpected object: {o}" for o in self.extra_objects]
        return out

    @property
    def ok(self) -> bool:
        return not self.problems


def migrations() -> list[Migration]:
    """Every migration shipped with this version, in order."""
    found = []
    folder = resources.files("pgflow.sql").joinpath("migrations")
    for entry in folder.iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


def schema_files() -> list[tuple[str, str]]:
    """The declared schema: one object per numbered file, in load order."""
    folder = resources.files("pgflow.sql").joinpath("schema")
    files = sorted((e.name, e.read_text(encoding="utf-8")) for e in folder.iterdir() if e.name.endswith(".sql"))
    return files


def declared_schema_sql() -> str:
    return "\n\n".join(f"-- {name}\n{text}" for name, text in schema_files())


def pgmq_sql() -> str:
    """The SQL-only pgmq install bundled in the ``pgmq`` package."""
    return resources.files("pgmq.sql").joinpath("pgmq.sql").read_text(encoding="utf-8")


def pgmq_bundled_version() -> str:
    return resources.files("pgmq.sql").joinpath("VERSION").read_text(encoding="utf-8").strip()


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def install_sql(pgmq: str = "sql") -> str:
    """The complete install script, for users who apply migrations with their own tool.

    ``pgmq`` is ``"sql"`` (the bundled SQL install, run only when the database has no pgmq),
    ``"extension"`` (``CREATE EXTENSION IF NOT EXISTS pgmq``) or ``"none"``. Like ``install``,
    the script runs in one transaction under the same advisory lock and applies only the
    migrations the ledger does not record yet, so running it again (e.g. after an upgrade)
    applies just what is new.
    """
    parts = ["-- pgflow-py install script", "BEGIN;", _compose("SELECT pg_advisory_xact_lock({});", LOCK_KEY)]
    if pgmq == "extension":
        parts.append("CREATE EXTENSION IF NOT EXISTS pgmq;")
    elif pgmq == "sql":
        parts.append("-- pgmq " + pgmq_bundled_version() + " (SQL install from the pgmq package)")
        parts.append(_run_unless("to_regnamespace('pgmq') IS NOT NULL", pgmq_sql()))
    parts.append(_named("ledger_create"))
    for m in migrations():
        parts.append(f"-- migration {m.version:04d}_{m.name}")
        recorded = _compose("EXISTS (SELECT 1 FROM pgflow.schema_migrations WHERE version = {})", m.version)
        record = _compose("INSERT INTO pgflow.schema_migrations (version, name, checksum) VALUES ({}, {}, {});",
                          m.version, m.name, m.checksum)
        parts.append(_run_unless(recorded, m.sql + "\n" + record))
    parts.append("COMMIT;")
    return "\n\n".join(parts) + "\n"


_BODY_QUOTE = "$pgflow_install_body$"


def _compose(template: str, *values: Any) -> str:
    """SQL text with ``values`` quoted as literals in the ``{}`` places (for printed scripts)."""
    return sql.SQL(template).format(*(sql.Literal(v) for v in values)).as_string(None)


def _run_unless(condition: str, body: str) -> str:
    """A DO block that executes ``body`` only when ``condition`` is false."""
    if _BODY_QUOTE in body:
        raise ValueError(f"{_BODY_QUOTE} cannot quote a script that contains it")
    block = sql.SQL(_named("install_run_unless")).format(
        condition=sql.SQL(condition), quote=sql.SQL(_BODY_QUOTE), body=sql.SQL(body))
    return block.as_string(None)


def _named(name: str) -> str:
    from pgflow.db.queries import query

    return query(name) + ";"


# --- operations (run by pgflow.db.drive_sync / drive_async) --------------------------------


def pgmq_state() -> Operation[tuple[str | None, str | None]]:
    row = yield Query.one("pgmq_state")
    if not row or not row["installed"]:
        return None, None
    if row["extversion"]:
        return row["extversion"], "extension"
    # SQL-only installs do not record a version; infer the lowest that has what we need
    return (f"{MIN_PGMQ[0]}.{MIN_PGMQ[1]}+" if row["has_notify_insert"] else "older than 1.8"), "sql"


def install(pgmq: str = "auto", up_to: int | None = None) -> Operation[list[Migration]]:
    """Apply what is missing. Run it inside one transaction (the executors' callers do).

    ``up_to`` stops after that migration version (an older release's schema, for upgrade tests).
    """
    yield Query("SELECT pg_advisory_xact_lock(%(key)s)", {"key": LOCK_KEY}, "none", named=False)
    version, source = yield from pgmq_state()
    if source is None and pgmq != "none":
        available = yield Query.scalar("pgmq_extension_available")
        if available and pgmq in ("auto", "extension"):
            yield Query("CREATE EXTENSION IF NOT EXISTS pgmq CASCADE", None, "none", named=False)
        elif pgmq == "extension":
            raise _schema_error("the server offers no pgmq extension; use pgmq='sql' (the default) instead")
        else:
            yield Query(pgmq_sql(), None, "none", named=False)
        version, source = yield from pgmq_state()
    if source is not None and version is not None and version.startswith("older"):
        raise _schema_error(
            "pgmq is installed but older than 1.8 (pgmq.enable_notify_insert is missing); "
            "upgrade it (ALTER EXTENSION pgmq UPDATE, or install a newer SQL release) and run install again"
        )
    foreign = yield Query.scalar("pgflow_without_ledger")
    if foreign:
        raise _schema_error(
            "schema pgflow already has tables but no pgflow-py migration ledger: it was installed by "
            "another tool (pgflow's own migrations?). pgflow-py will not overwrite it; "
            "see docs/reference/migrations.md for adopting an existing install"
        )
    yield Query(_named("ledger_create"), None, "none", named=False)
    done = {r["version"] for r in (yield Query.all("ledger_rows"))}
    applied = []
    for m in migrations():
        if m.version in done or (up_to is not None and m.version > up_to):
            continue
        yield Query(m.sql, None, "none", named=False)
        yield Query.execute("ledger_insert", version=m.version, name=m.name, checksum=m.checksum)
        applied.append(m)
    fingerprint = yield from catalog()
    yield Query.execute("ledger_store_catalog", catalog=Jsonb(fingerprint))
    return applied


GRANT_KINDS = ("worker", "client", "dashboard")


def grant(role: str, kind: str) -> Operation[None]:
    """Give ``role`` (an existing role) what a ``kind`` of user needs: ``worker`` (every row and
    function, no DDL), ``client`` (read, start and change runs; no DELETE, not the worker's sweep)
    or ``dashboard`` (read only). Run it as the role that installed pgflow, again after upgrades."""
    if kind not in GRANT_KINDS:
        raise ConfigurationError(f"unknown kind of role {kind!r}: use one of {', '.join(GRANT_KINDS)}")
    if not (yield Query.scalar("grant_role_exists", role=role)):
        raise ConfigurationError(f"there is no role {role!r}: create it first (CREATE ROLE ... LOGIN PASSWORD ...), "
                                 "then grant it")
    yield Query.one("grant_setup", role=role, kind=kind)
    yield Query(_named("grant_privileges"), None, "none", named=False)


def catalog() -> Operation[dict[str, str]]:
    """A fingerprint of every object in schema ``pgflow``: ``{"kind name(args)": md5}``."""
    rows = yield Query.all("catalog_objects")
    return {r["object"]: r["digest"] for r in rows}


def status() -> Operation[Status]:
    version, source = yield from pgmq_state()
    has_ledger = yield Query.scalar("ledger_exists")
    applied_rows = (yield Query.all("ledger_rows")) if has_ledger else []
    by_version = {r["version"]: r for r in applied_rows}
    shipped = migrations()
    pending = [m for m in shipped if m.version not in by_version]
    mismatches = [m.version for m in shipped if m.version in by_version and by_version[m.version]["checksum"] != m.checksum]
    missing: list[str] = []
    changed: list[str] = []
    extra: list[str] = []
    if has_ledger:
        stored = yield Query.scalar("ledger_stored_catalog")
        if stored:
            current = yield from catalog()
            missing = sorted(set(stored) - set(current))
            extra = sorted(set(current) - set(stored))
            changed = sorted(k for k in set(stored) & set(current) if stored[k] != current[k])
    return Status(
        applied=applied_rows,
        pending=pending,
        pgmq_version=version,
        pgmq_source=source,
        checksum_mismatches=mismatches,
        missing_objects=missing,
        changed_objects=changed,
        extra_objects=extra,
    )


def _schema_error(message: str) -> Exception:
    from pgflow.errors import SchemaError

    return SchemaError(message)
