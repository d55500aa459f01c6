"""Idempotent starts: the checks of an idempotency key (made before any SQL) and what a start
that found the key's existing run does next.

A start with ``idempotency_key=`` goes through ``pgflow.start_flow_idempotent``: the first start
with a key stores it on its run; later starts of the same flow with the key return that run
while it is active and for ``idempotency_ttl`` after it ended (``None`` = forever). A start
without a key is the plain ``start_flow`` statement, unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from pgflow.db import Operation, Query, listen, unlisten
from pgflow.errors import InvalidInput, RunNotFound
from pgflow.events import run_channel
from pgflow.ops.common import seconds_of

#: how long a key is kept after its run ended, unless the start says otherwise
DEFAULT_IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 200


def check_idempotency(key: object, ttl: float | timedelta | None) -> tuple[str, float | None]:
    """The key and the ttl in seconds (None = forever), or InvalidInput saying what to give."""
    if not isinstance(key, str):
        raise InvalidInput(f"idempotency_key must be a str of 1 to {MAX_KEY_LENGTH} characters, "
                           f"got {type(key).__name__}; e.g. idempotency_key=f'order-{{order.id}}'")
    if not key:
        raise InvalidInput(f"idempotency_key is empty; give 1 to {MAX_KEY_LENGTH} characters naming what the run "
                           f"is for (e.g. 'order-42'), or leave it out to start a new run on each call")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"idempotency_key has {len(key)} characters, more than {MAX_KEY_LENGTH}; use a shorter "
                           f"key (e.g. a hash of a long one)")
    if "\x00" in key:
        raise InvalidInput("idempotency_key contains a NUL character, which PostgreSQL text cannot hold")
    if ttl is None:
        return key, None
    seconds = seconds_of(ttl, "idempotency_ttl")
    if seconds < 0:
        raise InvalidInput(f"idempotency_ttl must be >= 0 (how long the key is kept after the run ends) "
                           f"or None (forever), got {ttl!r}")
    return key, seconds


def follow_existing_run(listened_run_id: UUID, run_id: UUID) -> Operation[str]:
    """start_flow_sync found the key's existing run ``run_id`` after listening for a new run
    ``listened_run_id``: listen to the existing run's channel instead (committed before its status
    is read, so its end cannot be missed), and return its status. The caller waits on that
    channel, or unlistens when the run is over."""
    yield unlisten(run_channel(listened_run_id))
    yield listen(run_channel(run_id)).and_commit()
    row = yield Query.one("client_select_run_status", run_id=run_id).and_commit()
    if row is None:  # pruned or deleted meanwhile
        raise RunNotFound(run_id)
    status: str = row["status"]
    return status
