"""Scenario 1, jobs: enqueue N no-op jobs, then drain them with 1, 2 and 4 worker processes.

Every system gets the same treatment in the same run: a database of its own on the same server,
N jobs enqueued in batches, ``VACUUM ANALYZE``, then P worker processes told to go at once; the
clock stops when the system's own "anything left?" query says no. Repetitions interleave the
systems, so a noisy minute on the shared machine hurts all of them alike.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

from benchmarks import drain
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.report import Table, ratio, cell
from benchmarks.systems import pgflow_sys, pgmq_floor, pgqueuer_sys, procrastinate_sys

SYSTEMS: dict[str, ModuleType] = {
    "pgflow-py": pgflow_sys,
    "PgQueuer": pgqueuer_sys,
    "Procrastinate": procrastinate_sys,
    "pgmq floor": pgmq_floor,
}
SLOW = {"Procrastinate"}
NEEDS = {"PgQueuer": ("pgqueuer", "asyncpg"), "Procrastinate": ("procrastinate",)}  # the bench extra


def available_systems() -> dict[str, ModuleType]:
    """The systems whose packages are installed (``pip install 'pgflow-py[bench]'`` adds the others)."""
    return {name: module for name, module in SYSTEMS.items()
            if all(importlib.util.find_spec(package) for package in NEEDS.get(name, ()))}


def key(system: str, processes: int) -> str:
    return f"jobs/{system}/{processes}"


def run(bench: Bench) -> None:
    s = bench.settings
    systems = available_systems()
    for name in SYSTEMS.keys() - systems.keys():
        bench.results.notes.append(f"{name} not measured: its package is not installed (pip install -e '.[bench]')")
    dsns = {}
    for name, module in systems.items():
        dsns[name] = bench.database("bench_jobs_" + module.__name__.rsplit(".", 1)[-1])
        module.setup(dsns[name])
    for rep in range(s.reps):
        for processes in s.processes:
            for name, module in systems.items():
                n = s.slow_jobs if name in SLOW else s.jobs
                try:
                    rate = drain_jobs(module, dsns[name], n, processes, s.drain_timeout)
                except Exception as exc:
                    bench.failed(f"jobs {name} x{processes} rep {rep + 1}", exc)
                    continue
                bench.results.add(key(name, processes), "jobs/s", rate)
                bench.log(f"jobs {name} x{processes} rep {rep + 1}: {rate:,.0f} jobs/s")


def drain_jobs(module: ModuleType, dsn: str, n: int, processes: int, timeout: float) -> float:
    module.enqueue(dsn, n)
    vacuum_analyze(dsn)
    seconds = drain.timed_drain(module.__name__, dsn, processes, module.REMAINING_SQL, timeout=timeout)
    return n / seconds


def render(results: Results, processes: tuple[int, ...]) -> list[Table]:
    rows = []
    for name in SYSTEMS:
        row = [name] + [cell(results.get(key(name, p))) for p in processes]
        rows.append(row)
    ratios = []
    for other in ("PgQueuer", "Procrastinate", "pgmq floor"):
        ratios.append([f"pgflow-py / {other}"] + [
            ratio(results.median(key("pgflow-py", p)), results.median(key(other, p))) for p in processes])
    head = ["system"] + [f"{p} process{'es' if p > 1 else ''}" for p in processes]
    return [Table(head, rows, "Jobs drained per second (median, min–max over repetitions)"),
            Table(["ratio"] + head[1:], ratios, "Ratios of medians, same run")]
