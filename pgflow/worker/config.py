"""The worker's settings, validated once with messages that say what to change."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Literal

from pgflow.errors import ConfigurationError

SIGNALS = ("notify", "polling")
ERROR_DETAILS = ("traceback", "line")


@dataclass(frozen=True)
class WorkerConfig:
    """Settings of :class:`pgflow.Worker`; times are in seconds.

    ``stale_threshold`` is the heartbeat age after which this worker warns that it looks stale
    (its heartbeat cannot reach the database); default three heartbeats, matching
    ``health_check``'s default ``stale_after`` of 15 s for the default 5 s heartbeat.
    """

    max_concurrency: int = 10
    batch_size: int = 10
    signal: str = "notify"
    min_poll_interval: float = 0.05
    max_poll_interval: float = 2.0
    notify_fallback_interval: float = 5.0
    notify_throttle_ms: int = 10
    report_linger: float = 0.01
    heartbeat_interval: float = 5.0
    recovery_interval: float = 15.0
    stale_threshold: float | None = None
    shutdown_timeout: float = 30.0
    cancel_grace: float = 5.0  # an async handler of a cancelled run is cancelled this long after the worker learns it
    name: str | None = None
    allow_data_loss: bool = False
    scheduler: bool = True  # run the built-in scheduler (pgflow.worker.scheduler) and sync the flows' cron=
    error_detail: Literal["traceback", "line"] = "traceback"  # a failed task's stored error: with its frames or not

    def __post_init__(self) -> None:
        _positive_int("max_concurrency", self.max_concurrency)
        _positive_int("batch_size", self.batch_size)
        if self.signal not in SIGNALS:
            raise ConfigurationError(f"signal must be 'notify' or 'polling', got {self.signal!r}")
        for name in ("min_poll_interval", "max_poll_interval", "notify_fallback_interval",
                     "heartbeat_interval", "recovery_interval"):
            _positive(name, getattr(self, name))
        _positive("shutdown_timeout", self.shutdown_timeout, allow_zero=True)
        _positive("cancel_grace", self.cancel_grace, allow_zero=True)
        _positive("report_linger", self.report_linger, allow_zero=True)
        if self.max_poll_interval < self.min_poll_interval:
            raise ConfigurationError(
                f"max_poll_interval ({self.max_poll_interval}) is below min_poll_interval "
                f"({self.min_poll_interval}); raise max_poll_interval or lower min_poll_interval"
            )
        if self.stale_threshold is not None:
            _positive("stale_threshold", self.stale_threshold)
        if self.error_detail not in ERROR_DETAILS:
            raise ConfigurationError(f"error_detail must be 'traceback' (the exception line and the last frames of "
                                     f"its traceback) or 'line' (the exception line only), got {self.error_detail!r}")
        if self.notify_throttle_ms < 0:
            raise ConfigurationError(f"notify_throttle_ms must be >= 0, got {self.notify_throttle_ms}")

    @property
    def effective_stale_threshold(self) -> float:
        return self.stale_threshold if self.stale_threshold is not None else 3 * self.heartbeat_interval

    @property
    def function_name(self) -> str:
        """The name stored in ``pgflow.workers.function_name``: ``name``, else ``pgflow-py@<host>``.

        Without a pid, so ``track_worker_function`` keeps one row per host rather than one per
        process start; processes are told apart by their ``started_at``.
        """
        return self.name or f"pgflow-py@{socket.gethostname()}"


def _positive_int(name: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1, got {value!r}")


def _positive(name: str, value: object, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigurationError(f"{name} must be a number of seconds {bound}, got {value!r}")
