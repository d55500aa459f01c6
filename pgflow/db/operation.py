"""What an operation yields: queries to run, and the client's waits and snapshots.

An *operation* is a generator that yields :class:`Query` objects and receives each query's
result; its return value is the operation's result. The same generator runs on a sync or an
async psycopg connection (:func:`pgflow.db.drive_sync`, :func:`pgflow.db.drive_async`), so the
sync and async callers share every line of logic::

    def get_run(run_id):
        row = yield Query.one("get_run", run_id=run_id)
        if row is None:
            raise RunNotFound(run_id)
        return Run.from_row(row)

Besides queries, an operation may yield a :class:`WaitForEvent` (commit, then wait for a
notification) or a :class:`Snapshot` (several reads that see one state of the database)::

    yield listen(channel)                                  # same transaction as ...
    run = yield Query.one("start_run", ...).and_commit()  # ... the start: no event can be missed
    event = yield WaitForEvent(channel, until=is_terminal, timeout=60)
    run, steps = yield Snapshot((Query.one("select_run", ...), Query.all("select_steps", ...)))

How the steps become transactions and round trips is :mod:`pgflow.db.planner`'s business.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

from pgflow.db.queries import query as named_query
from pgflow.events import Event, parse_event

T = TypeVar("T")

Fetch = Literal["none", "one", "all", "scalar", "rowcount"]


@dataclass(frozen=True)
class Query:
    """A query to run: the SQL text (or a named query), its parameters and what to fetch.

    ``commits``: the query is the last of its transaction, so the driver sends the COMMIT with
    it, or runs it in autocommit when it opens no transaction: one round trip instead of three.
    """

    sql: Any
    params: dict[str, Any] | tuple[Any, ...] | None = None
    fetch: Fetch = "all"
    named: bool = field(default=True)
    commits: bool = False

    @property
    def text(self) -> Any:
        return named_query(self.sql) if self.named and isinstance(self.sql, str) else self.sql

    @property
    def label(self) -> str:
        """What telemetry calls it: the query's name, else the first word of its SQL."""
        if not isinstance(self.sql, str):
            return "sql"
        if self.named:
            return self.sql
        lines = (line.split(None, 1) for line in self.sql.splitlines())
        return next((words[0] for words in lines if words and not words[0].startswith("--")), "sql")

    @classmethod
    def all(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "all")

    @classmethod
    def one(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "one")

    @classmethod
    def scalar(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "scalar")

    @classmethod
    def execute(cls, name: str, /, **params: Any) -> Query:
        return cls(name, params, "rowcount")

    def and_commit(self) -> Query:
        """This query, marked as the last of its transaction (see ``commits``)."""
        return replace(self, commits=True)


@dataclass(frozen=True)
class WaitForEvent:
    """Commit, then wait up to ``timeout`` seconds for an event on ``channel`` matching ``until``.

    The operation receives the matching :class:`pgflow.events.Event`, or ``None`` on timeout.
    The channel must have been LISTENed to (see :func:`listen`); it is UNLISTENed afterwards.
    """

    channel: str
    until: Callable[[Event], bool]
    timeout: float

    def match(self, payload: str) -> Event | None:
        """The event a notification's ``payload`` carries, when it is the one waited for."""
        try:
            event = parse_event(payload)
        except (ValueError, KeyError):  # an event type this version does not know
            return None
        return event if self.until(event) else None


@dataclass(frozen=True)
class Snapshot:
    """Run ``queries`` in one REPEATABLE READ, read-only transaction, so they all see the same
    committed state; the operation receives their results as a list, in order.

    The transaction before it is committed first. When the caller's connection is already inside
    a transaction (one the caller opened), the queries run in that transaction as they are.
    """

    queries: tuple[Query, ...]


Step = Query | WaitForEvent | Snapshot
Operation = Generator[Query, Any, T]
"""An operation that only queries."""
ClientOperation = Generator[Step, Any, T]
"""An operation that may also yield :class:`WaitForEvent` and :class:`Snapshot`."""


def listen(channel: str) -> Query:
    """LISTEN on a pgflow event channel and register, so the engine NOTIFYs on it (pgflow.subscribe)."""
    return Query("events_subscribe", {"channel": channel}, "none")


def unlisten(channel: str) -> Query:
    return Query("events_unsubscribe", {"channel": channel}, "none")
