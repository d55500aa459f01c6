"""Prometheus metrics of a pgflow database: the dashboard's ``/metrics`` and ``pgflow metrics``.

Computed from the database, not from worker telemetry: every worker counts (Python or
TypeScript, running or crashed), and any number of scrapers agree on the gauges. It stays cheap
because a scrape reads only what changed since the previous one: the runs started since then
(an index range) or active at it (their primary keys), the tasks of those runs (primary key),
the queues' own counts and the live workers; never the history. So the counters and histograms
are the scraper's own cumulative totals, kept in this process and starting at zero when it
starts, which is how Prometheus counters behave (``rate()`` and ``increase()`` handle restarts).

Metrics (labels in braces):

- ``pgflow_runs_started_total`` / ``pgflow_runs_completed_total`` / ``pgflow_runs_failed_total`` {flow_slug}
- ``pgflow_task_duration_seconds`` {flow_slug, step_slug}: started to completed (histogram)
- ``pgflow_task_queue_wait_seconds`` {flow_slug, step_slug}: queued to started (histogram)
- ``pgflow_tasks_failed_total`` {flow_slug, step_slug}: tasks failed for good
- ``pgflow_stalled_tasks_requeued_total`` {flow_slug, step_slug}
- ``pgflow_schedule_ticks_total`` {schedule_slug}
- ``pgflow_runs_active`` {flow_slug} (gauge), ``pgflow_queue_messages`` / ``pgflow_queue_oldest_message_age_seconds`` {queue}
- ``pgflow_workers_active`` {queue}: worker rows not stopped with a heartbeat in the last minute
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from pgflow.db import ClientOperation, Query, Snapshot
from pgflow.errors import MissingExtra

OVERLAP = timedelta(seconds=30)  # reread this much before the previous scrape (late commits)
WORKER_ALIVE_SECONDS = 60.0
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _prometheus() -> Any:
    try:
        import prometheus_client
        import prometheus_client.core  # noqa: F401 - the metric families
    except ImportError as exc:
        raise MissingExtra("Prometheus metrics", "metrics", "prometheus_client") from exc
    return prometheus_client


class _Histogram:
    __slots__ = ("counts", "total", "count")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1

    def buckets(self) -> list[tuple[str, float]]:
        return [*((str(b), float(c)) for b, c in zip(BUCKETS, self.counts)), ("+Inf", float(self.count))]


def scrape(since: datetime | None, active: list[UUID]) -> ClientOperation[list[Any]]:
    """One scrape: what changed since ``since``, in one consistent snapshot and one round trip.
    The first scrape (``since`` None) first learns the database's clock and the runs in flight
    (a second round trip): counting starts there."""
    started: list[Any] = [None, None]
    if since is None:
        clock, active_rows = yield Snapshot((Query.one("metrics_clock"), Query.all("metrics_active_runs")))
        since, active = clock["now"], [row["run_id"] for row in active_rows]
        started = [since, active]
    params = {"since": since, "active": active}
    results: list[Any] = yield Snapshot((
        Query.one("metrics_clock"), Query.all("metrics_runs", **params), Query.all("metrics_tasks", **params),
        Query.all("metrics_ticks", since=since), Query.all("metrics_queues"),
        Query.all("metrics_workers", alive_seconds=WORKER_ALIVE_SECONDS),
    ))
    return [*started, *results]


class Metrics:
    """The running totals of one scraper. ``operation()`` gives the next scrape's database
    operation; ``apply()`` takes its result; ``render()`` is the Prometheus text."""

    def __init__(self) -> None:
        self._prom = _prometheus()
        self._since: datetime | None = None
        self._runs: dict[UUID, str] = {}  # run id -> last status seen (active runs, and recent ended ones)
        self._recent: dict[tuple[Any, ...], datetime] = {}  # counted task events of the overlap window
        self.runs_total: dict[tuple[str, str], int] = defaultdict(int)  # (status, flow) -> count
        self.durations: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self.waits: dict[tuple[str, str], _Histogram] = defaultdict(_Histogram)
        self.tasks_failed: dict[tuple[str, str], int] = defaultdict(int)
        self.requeued: dict[tuple[str, str], int] = defaultdict(int)
        self.ticks: dict[str, int] = defaultdict(int)
        self._ticked: dict[UUID, datetime] = {}
        self.active: dict[str, int] = {}
        self.queues: list[dict[str, Any]] = []
        self.workers: list[dict[str, Any]] = []

    def operation(self) -> ClientOperation[list[Any]]:
        since = None if self._since is None else self._since - OVERLAP
        active = [run_id for run_id, status in self._runs.items() if status == "started"]
        return scrape(since, active)

    def apply(self, results: list[Any]) -> None:
        """Count what one scrape (:meth:`operation`) found."""
        first_since, first_active, clock, runs, tasks, ticks, queues, workers = results
        if first_since is not None:
            self._runs = {run_id: "started" for run_id in first_active}
        now: datetime = clock["now"]
        self._apply_runs(runs, now)
        self._apply_tasks(tasks, now)
        for row in ticks:
            if row["run_id"] not in self._ticked:
                self._ticked[row["run_id"]] = now
                self.ticks[row["schedule_slug"]] += 1
        self.queues, self.workers = queues, workers
        horizon = now - OVERLAP * 2
        self._recent = {k: at for k, at in self._recent.items() if at > horizon}
        self._ticked = {k: at for k, at in self._ticked.items() if at > horizon}
        self._since = now

    def _apply_runs(self, rows: list[dict[str, Any]], now: datetime) -> None:
        active: dict[str, int] = defaultdict(int)
        for row in rows:
            run_id, flow, status = row["run_id"], row["flow_slug"], row["status"]
            before = self._runs.get(run_id)
            if before is None:
                self.runs_total[("started", flow)] += 1
            if status != "started" and before in (None, "started"):
                self.runs_total[(status, flow)] += 1
            self._runs[run_id] = status
            if status == "started":
                active[flow] += 1
            else:
                self._recent[("run", run_id)] = now
        # ended runs are kept only for the overlap window (a late reread must not count them again)
        self._runs = {r: s for r, s in self._runs.items() if s == "started" or ("run", r) in self._recent}
        self.active = dict(active)

    def _apply_tasks(self, rows: list[dict[str, Any]], now: datetime) -> None:
        for row in rows:
            step = (row["flow_slug"], row["step_slug"])
            task = (row["run_id"], row["step_slug"], row["task_index"], row["attempts_count"])
            if row["started_since"] and row["queue_wait"] is not None and self._first(("start", *task), now):
                self.waits[step].observe(max(row["queue_wait"], 0.0))
            if row["ended_since"] and self._first(("end", *task), now):
                if row["status"] == "completed" and row["duration"] is not None:
                    self.durations[step].observe(max(row["duration"], 0.0))
                elif row["status"] == "failed":
                    self.tasks_failed[step] += 1
            if row["requeued_since"] and self._first(("requeue", *task[:3], row["last_requeued_at"]), now):
                self.requeued[step] += 1

    def _first(self, key: tuple[Any, ...], now: datetime) -> bool:
        if key in self._recent:
            return False
        self._recent[key] = now
        return True

    # ------------------------------------------------------------------ Prometheus

    def families(self) -> Iterator[Any]:
        core = self._prom.core
        for status, name in (("started", "started"), ("completed", "completed"), ("failed", "failed")):
            family = core.CounterMetricFamily(f"pgflow_runs_{name}", f"Runs {name}, per flow", labels=["flow_slug"])
            for (st, flow), n in sorted(self.runs_total.items()):
                if st == status:
                    family.add_metric([flow], n)
            yield family
        for name, doc, table in (
                ("pgflow_task_duration_seconds", "Task handler time, started to completed", self.durations),
                ("pgflow_task_queue_wait_seconds", "Task wait in its queue, queued to started", self.waits)):
            histogram = core.HistogramMetricFamily(name, doc, labels=["flow_slug", "step_slug"])
            for (flow, step), h in sorted(table.items()):
                histogram.add_metric([flow, step], h.buckets(), h.total)
            yield histogram
        yield self._counter("pgflow_tasks_failed", "Tasks failed for good (no attempt left)", self.tasks_failed)
        yield self._counter("pgflow_stalled_tasks_requeued", "Stalled tasks requeued", self.requeued)
        ticks = core.CounterMetricFamily("pgflow_schedule_ticks", "Runs started by schedules for a tick",
                                         labels=["schedule_slug"])
        for slug, n in sorted(self.ticks.items()):
            ticks.add_metric([slug], n)
        yield ticks
        active = core.GaugeMetricFamily("pgflow_runs_active", "Runs started and not yet over", labels=["flow_slug"])
        for flow, n in sorted(self.active.items()):
            active.add_metric([flow], n)
        yield active
        depth = core.GaugeMetricFamily("pgflow_queue_messages", "Messages in the queue (in flight included)",
                                       labels=["queue"])
        age = core.GaugeMetricFamily("pgflow_queue_oldest_message_age_seconds", "Age of the oldest message",
                                     labels=["queue"])
        for row in self.queues:
            depth.add_metric([row["queue_name"]], row["queue_length"])
            age.add_metric([row["queue_name"]], row["oldest_msg_age_sec"])
        yield depth
        yield age
        workers = core.GaugeMetricFamily("pgflow_workers_active", "Live worker rows (heartbeat in the last minute)",
                                         labels=["queue"])
        for row in self.workers:
            workers.add_metric([row["queue_name"]], row["workers"])
        yield workers

    def _counter(self, name: str, doc: str, table: dict[tuple[str, str], int]) -> Any:
        family = self._prom.core.CounterMetricFamily(name, doc, labels=["flow_slug", "step_slug"])
        for (flow, step), n in sorted(table.items()):
            family.add_metric([flow, step], n)
        return family

    def render(self) -> bytes:
        """The metrics in Prometheus' text format."""
        metrics = self

        class _Collector:
            def collect(self) -> Iterator[Any]:
                return metrics.families()

        registry = self._prom.CollectorRegistry(auto_describe=False)
        registry.register(_Collector())
        data: bytes = self._prom.generate_latest(registry)
        return data
