"""docs/benchmarks.md: the results of the last run between two markers, the rest hand-written.

Everything between ``<!-- results:start -->`` and ``<!-- results:end -->`` is rewritten by each
run; text outside the markers (method, analysis of the gap) is kept as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.core import Results
from benchmarks.stats import Sample, _num

START = "<!-- results:start -->"
END = "<!-- results:end -->"
SKELETON = f"""# Benchmarks

{START}
{END}
"""


@dataclass
class Table:
    head: list[str]
    rows: list[list[str]]
    caption: str = ""

    def markdown(self) -> str:
        lines = [f"**{self.caption}**", ""] if self.caption else []
        lines.append("| " + " | ".join(self.head) + " |")
        lines.append("|" + "|".join("---" for _ in self.head) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


def cell(sample: Sample | None) -> str:
    return "not measured" if sample is None or not sample.values else sample.fmt()


def ratio(a: float, b: float) -> str:
    if any(math.isnan(x) for x in (a, b)) or b == 0:
        return "n/a"
    return f"{a / b:.2f}×"


def _at_each(results: Results, processes: tuple[int, ...], value: Callable[[int], tuple[float, float]],
             good: Callable[[float, float], bool], show: Callable[[float, float], str]) -> tuple[bool | None, str]:
    verdicts, parts = [], []
    for p in processes:
        a, b = value(p)
        if math.isnan(a) or math.isnan(b):
            continue
        verdicts.append(good(a, b))
        parts.append(f"{p}p: {show(a, b)}")
    if not verdicts:
        return None, "not measured"
    return all(verdicts), ", ".join(parts)


def targets(results: Results, processes: tuple[int, ...], history: tuple[int, ...]) -> list[tuple[str, str, bool | None, str]]:
    """Each target: its name, the figure before this round of work (the full run of 2026-12-03, or
    where a scenario is newer, the first measurement named), the verdict and today's figure."""
    med = results.median

    def versus(mine: str, other: str, factor: float) -> tuple[bool | None, str]:
        return _at_each(results, processes, lambda p: (med(mine.format(p=p)), med(other.format(p=p))),
                        lambda a, b: a >= factor * b, lambda a, b: f"{a / b:.2f}×")

    def below(key: str, limit: float, unit: str) -> tuple[bool | None, str]:
        value = med(key)
        if math.isnan(value):
            return None, "not measured"
        return value < limit, f"{_num(value)} {unit}"

    def seconds_below(key: str, limit: float) -> tuple[bool | None, str]:
        return _at_each(results, processes, lambda p: (med(key.format(p=p)), limit),
                        lambda a, b: a < b, lambda a, b: f"{_num(a)} s")

    def history_ratio() -> tuple[bool | None, str]:
        biggest = max(history)
        base = results.get(f"footprint/history/{biggest}/empty") or results.get("footprint/history/0")
        a, b = med(f"footprint/history/{biggest}"), base.median if base else float("nan")
        if math.isnan(a) or math.isnan(b):
            return None, "not measured"
        return a >= 0.9 * b, f"{biggest:,} runs: {a / b:.2f}× of empty (paired drains)"

    def worst(keys: list[str], limit: float, unit: str) -> tuple[bool | None, str]:
        values = [(med(k), k) for k in keys if not math.isnan(med(k))]
        if not values:
            return None, "not measured"
        value, key = max(values)
        row = key.split("/")[1:-1]
        return value < limit, f"worst row {_num(value)} {unit} ({'/'.join(row)})"

    def per_idle_client() -> tuple[bool | None, str]:
        rows = sorted({int(k.split("/")[2]) for k in results.samples if k.startswith("live/idle/")})
        if len(rows) < 2 or rows[-1] == rows[0]:
            return None, "not measured"
        cost = (med(f"live/idle/{rows[-1]}/rss") - med(f"live/idle/{rows[0]}/rss")) / (rows[-1] - rows[0])
        return (None, "not measured") if math.isnan(cost) else (cost < 10.0, f"{cost:.2f} MB each")

    live_rows = sorted({k.rsplit("/", 1)[0] for k in results.samples
                        if k.startswith("live/") and k.endswith("/lag")})
    # the dashboard's pages follow a run with ?tasks=progress (the idle rows too); "tasks" rows
    # are API clients that asked for every task event
    task_rows = [row for row in live_rows if row.startswith("live/tasks/")]
    page_rows = [row for row in live_rows if row not in task_rows]
    jobs = "jobs/pgflow-py/{p}"
    return [
        ("Jobs ≥ 1.2× PgQueuer", "1.14 / 0.93 / 0.79×", *versus(jobs, "jobs/PgQueuer/{p}", 1.2)),
        ("Jobs ≥ 10× Procrastinate", "10.45 / 7.86 / 6.81×", *versus(jobs, "jobs/Procrastinate/{p}", 10.0)),
        ("Jobs ≥ 0.6× the raw pgmq floor", "0.61 / 0.47 / 0.36×", *versus(jobs, "jobs/pgmq floor/{p}", 0.6)),
        ("3-step flow tasks/s ≥ ½ job tasks/s", "1.03 / 0.79 / 0.87×",
         *versus("flows/bench_chain/{p}/tasks", jobs, 0.5)),
        ("Diamond tasks/s ≥ ½ job tasks/s", "0.91 / 0.75 / 0.85×",
         *versus("flows/bench_diamond/{p}/tasks", jobs, 0.5)),
        ("Map of 10,000 items < 2 s (worker defaults)", "5.42 / 3.81 / 3.54 s", *seconds_below("flows/map/{p}", 2.0)),
        ("Map of 10,000 items < 5 s (batch 50)", "2.68 / 2.98 / 3.27 s", *seconds_below("flows/map/{p}/batch50", 5.0)),
        ("Compatible path: 3-step chain tasks/s ≥ 0.7× pgflow-py's worker", "not measured",
         *versus("compat/compatible/bench_chain/{p}", "compat/native/bench_chain/{p}", 0.7)),
        ("Compatible path: map of 10,000 items < 4 s", "not measured (~20 s seen)",
         *seconds_below("compat/compatible/bench_map/{p}", 4.0)),
        ("Notify latency p50 < 3 ms", "5.42 ms", *below("latency/notify/p50", 3.0, "ms")),
        ("Notify latency p99 < 10 ms", "12.3 ms", *below("latency/notify/p99", 10.0, "ms")),
        ("Throughput with history ≥ 0.9× of empty (target: 10,000,000 runs)", "0.71× at 1,000,000 runs",
         *history_ratio()),
        ("Idle worker < 40 MB RSS", "38.6 MB", *below("footprint/rss/pgflow-py/idle", 40.0, "MB")),
        ("A max_running never reached costs < 10% of jobs/s", "0.86 / 0.81 / 0.81× (2026-12-05)",
         *versus("flow_control/limit/unreached/{p}", "flow_control/limit/none/{p}", 0.9)),
        ("100 SSE readers of a 10,000-item map < 5 s of dashboard CPU", "33.8 s for one reader (2026-12-04)",
         *below("live/progress/100/cpu", 5.0, "s")),
        ("A client that never reads adds < 10 MB", "1.67 GB (2026-12-04)", *per_idle_client()),
        ("Every reader sees the run's end within 1 s: the dashboard's streams (progress)", "> 90 s (2026-12-04)",
         *worst([f"{row}/lag" for row in page_rows], 1.0, "s")),
        ("… and streams of every task event (tasks)", "51.2 s, one reader (2026-12-04)",
         *worst([f"{row}/lag" for row in task_rows], 1.0, "s")),
        ("`/` answers in < 100 ms throughout: beside progress readers", "up to 17 s (2026-12-04)",
         *worst([f"{row}/root" for row in page_rows], 100.0, "ms")),
        ("… and beside readers of every task event", "up to 17 s (2026-12-04)",
         *worst([f"{row}/root" for row in task_rows], 100.0, "ms")),
        ("A page view's snapshot < 100 kB", "31 MB (2026-12-04)", *below("live/snapshot_bytes", 100_000, "bytes")),
    ]


def mark(verdict: bool | None) -> str:
    return {True: "reached", False: "**missed**", None: "not measured"}[verdict]


def machine_table(meta: dict[str, object]) -> Table:
    machine = dict(meta.get("machine", {}))  # type: ignore[call-overload]
    rows = [[k, str(v)] for k, v in machine.items()]
    return Table(["", ""], rows)


def render(results: Results, sections: list[tuple[str, str, list[Table]]],
           target_rows: list[tuple[str, str, bool | None, str]]) -> str:
    meta = results.meta
    out = [
        f"Run of {meta.get('date', '?')}, {meta.get('duration', '?')}, with:",
        "",
        "```",
        str(meta.get("command", "python -m benchmarks all")),
        "```",
        "",
        f"Settings: {meta.get('settings_text', '')}",
        "",
        machine_table(meta).markdown(),
        "",
        "### Targets",
        "",
        "Medians; where a figure is given per worker process count, at 1 / 2 / 4 processes. "
        "\"Before\" is the full run of 2026-12-03 unless a date says otherwise (a scenario added since).",
        "",
        Table(["target", "before", "result", "measured (median)"],
              [[name, before, mark(v), detail] for name, before, v, detail in target_rows]).markdown(),
    ]
    for title, intro, tables in sections:
        out += ["", f"### {title}", ""]
        if intro:
            out += [intro, ""]
        for table in tables:
            out += [table.markdown(), ""]
    if results.notes:
        out += ["", "### Measurements that did not finish", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(out).rstrip() + "\n"


def write(path: Path, body: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else SKELETON
    if START not in text or END not in text:
        text = text.rstrip() + "\n\n" + START + "\n" + END + "\n"
    before, rest = text.split(START, 1)
    _, after = rest.split(END, 1)
    path.write_text(before + START + "\n" + body + END + after, encoding="utf-8")
