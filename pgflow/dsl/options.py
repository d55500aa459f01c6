"""Flow-wide defaults for the steps' options, and the database's own defaults.

A leaf of the DSL: the step, the shape and the flow import it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable
from typing import Any, Protocol

# What pgflow.create_flow stores when the flow leaves an option undefined.
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BASE_DELAY = 5
DEFAULT_TIMEOUT = 60


@dataclass(frozen=True)
class FlowOptions:
    """Flow-wide defaults for its steps; None means "the database default" (3, 5 s, 60 s)."""

    max_attempts: int | None = None
    base_delay: int | None = None
    timeout: int | None = None


@dataclass(frozen=True)
class FlowLimits:
    """Flow control the code declares: at most ``max_running`` of the flow's tasks running at once
    across all workers, at most ``rate_limit=(count, seconds)`` starts (None: no limit). Not part of the flow's shape: changing it needs no
    recompile; compiling records it (``pgflow._declare_flow_limits``)."""

    max_running: int | None = None
    rate_limit: tuple[int, float] | None = None  # at most count starts per this many seconds (smoothed)
    # per-key concurrency: at most max_running_per_key tasks running at once per concurrency key,
    # the key being the text at concurrency_key (a dotted path into the run input, stored in the
    # database and read by SQL) or what key_function returns for the input (called client side
    # when a run is started with this Flow object; its result goes down as a run option)
    concurrency_key: str | None = None
    key_function: Callable[[Any], Any] | None = None
    max_running_per_key: int | None = None
    # per-key rate: at most count task starts per this many seconds per concurrency key (smoothed)
    rate_limit_per_key: tuple[int, float] | None = None


class HasOptions(Protocol):
    """What a step needs of its flow to know its effective options: a ``Flow`` or a ``Job``."""

    @property
    def options(self) -> FlowOptions: ...
