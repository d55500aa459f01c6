"""Scenario 6, the compatible path: the same work driven the way a pgflow 0.17.1 TypeScript worker
drives it — ``pgmq.read_with_poll``, ``pgflow.start_tasks``, one ``pgflow.complete_task`` per task,
with that worker's defaults (batch 10, 10 tasks at once, 4 connections; benchmarks/systems/
compat_sys.py) — next to pgflow-py's own worker (batched ``claim_tasks`` / ``complete_tasks``),
alternating in each repetition so both see the same machine.

Jobs and 3-step chains: runs started beforehand, then drained (runs/s, tasks/s). The map: one
run of a 10,000-item map step, seconds from ``start_flow`` to the run completed. A TypeScript
worker serves one flow per process, so each process of the compatible driver serves the one flow.
"""

from __future__ import annotations

from benchmarks import drain, report
from benchmarks.core import Bench, Results, vacuum_analyze
from benchmarks.flows import TASKS_PER_RUN
from benchmarks.report import Table, cell
from benchmarks.scenarios import flows
from benchmarks.systems import compat_sys, pgflow_sys

PATHS = {"native": pgflow_sys.__name__, "compatible": compat_sys.__name__}
LABELS = {"native": "pgflow-py worker (claim_tasks / complete_tasks)",
          "compatible": "compatible path (read_with_poll / start_tasks / complete_task)"}
SHAPES = {"bench_job": "jobs", "bench_chain": "3-step chain"}


def run(bench: Bench) -> None:
    s = bench.settings
    dsn = bench.database("bench_compat")
    pgflow_sys.setup(dsn)
    sizes = {"bench_job": s.jobs, "bench_chain": s.chain_runs}
    for rep in range(s.reps):
        for processes in s.processes:
            for path, module in PATHS.items():
                for slug, runs in sizes.items():
                    what = f"compat {path} {slug} x{processes} rep {rep + 1}"
                    try:
                        pgflow_sys.enqueue(dsn, runs, slug)
                        vacuum_analyze(dsn)
                        seconds = drain.timed_drain(module, dsn, processes, pgflow_sys.REMAINING_SQL,
                                                    extra=["--flows", slug], timeout=s.drain_timeout)
                    except Exception as exc:
                        bench.failed(what, exc)
                        continue
                    bench.results.add(key(path, slug, processes), "tasks/s", runs * TASKS_PER_RUN[slug] / seconds)
                    bench.log(f"{what}: {runs * TASKS_PER_RUN[slug] / seconds:,.0f} tasks/s")
                what = f"compat {path} map x{processes} rep {rep + 1}"
                try:
                    seconds = map_run(module, dsn, s.map_items, processes, s.drain_timeout)
                except Exception as exc:
                    bench.failed(what, exc)
                    continue
                bench.results.add(key(path, "bench_map", processes), "s", seconds)
                bench.log(f"{what}: {seconds:.2f} s")


def key(path: str, slug: str, processes: int) -> str:
    return f"compat/{path}/{slug}/{processes}"


def map_run(module: str, dsn: str, items: int, processes: int, timeout: float) -> float:
    return flows.map_run(dsn, items, processes, timeout, module=module)


def render(results: Results, processes: tuple[int, ...]) -> list[Table]:
    head = ["figure", "path"] + [f"{p} process{'es' if p > 1 else ''}" for p in processes]
    rows = []
    for slug, label in SHAPES.items():
        for path in PATHS:
            rows.append([f"{label}: tasks/s", LABELS[path]] + [cell(results.get(key(path, slug, p))) for p in processes])
        rows.append([f"{label}: compatible / native", ""] + [ratio(results, slug, p) for p in processes])
    items = results.meta.get("settings", {}).get("map_items", 10_000)
    for path in PATHS:
        rows.append([f"map of {items:,} items: seconds", LABELS[path]]
                    + [cell(results.get(key(path, "bench_map", p))) for p in processes])
    return [Table(head, rows, "the compatible path next to pgflow-py's worker (median, min–max over repetitions)")]


def ratio(results: Results, slug: str, processes: int) -> str:
    return report.ratio(results.median(key("compatible", slug, processes)), results.median(key("native", slug, processes)))
