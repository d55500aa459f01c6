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


@dataclass
class Target:
    name: str
    check: Callable[[Results], tuple[bool | None, str]]


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


def targets(results: Results, processes: tuple[int, ...], history: tuple[int, ...]) -> list[tuple[str, bool | None, str]]:
    med = results.median

    def jobs_vs(other: str, factor: float) -> tuple[bool | None, str]:
        return _at_each(results, processes, lambda p: (med(f"jobs/pgflow-py/{p}"), med(f"jobs/{other}/{p}")),
                        lambda a, b: a >= factor * b, lambda a, b: f"{a / b:.2f}×")

    def flow_vs_jobs(slug: str) -> tuple[bool | None, str]:
        return _at_each(results, processes,
                        lambda p: (med(f"flows/{slug}/{p}/tasks"), med(f"jobs/pgflow-py/{p}")),
                        lambda a, b: a >= 0.5 * b, lambda a, b: f"{a / b:.2f}×")

    def below(key: str, limit: float, unit: str) -> tuple[bool | None, str]:
        value = med(key)
        if math.isnan(value):
            return None, "not measured"
        return value < limit, f"{_num(value)} {unit}"

    def map_time(suffix: str) -> tuple[bool | None, str]:
        return _at_each(results, processes, lambda p: (med(f"flows/map/{p}{suffix}"), 5.0),
                        lambda a, b: a < b, lambda a, b: f"{_num(a)} s")

    def history_ratio() -> tuple[bool | None, str]:
        biggest = max(history)
        a, b = med(f"footprint/history/{biggest}"), med("footprint/history/0")
        if math.isnan(a) or math.isnan(b):
            return None, "not measured"
        return a >= 0.9 * b, f"{biggest:,} runs: {a / b:.2f}× of empty"

    return [
        ("Jobs ≥ PgQueuer", *jobs_vs("PgQueuer", 1.0)),
        ("Jobs ≥ 10× Procrastinate", *jobs_vs("Procrastinate", 10.0)),
        ("Jobs within 2× of the raw pgmq floor", *jobs_vs("pgmq floor", 0.5)),
        ("3-step flow tasks/s ≥ ½ job tasks/s", *flow_vs_jobs("bench_chain")),
        ("Diamond tasks/s ≥ ½ job tasks/s", *flow_vs_jobs("bench_diamond")),
        ("Map of 10,000 items < 5 s (worker defaults)", *map_time("")),
        ("Map of 10,000 items < 5 s (batch 50)", *map_time("/batch50")),
        ("Latency with notify: p50 < 5 ms", *below("latency/notify/p50", 5.0, "ms")),
        ("Latency with notify: p99 < 25 ms", *below("latency/notify/p99", 25.0, "ms")),
        ("Throughput with the largest history within 10% of empty", *history_ratio()),
        ("Idle worker < 60 MB RSS", *below("footprint/rss/pgflow-py/idle", 60.0, "MB")),
    ]


def mark(verdict: bool | None) -> str:
    return {True: "reached", False: "**missed**", None: "not measured"}[verdict]


def machine_table(meta: dict[str, object]) -> Table:
    machine = dict(meta.get("machine", {}))  # type: ignore[call-overload]
    rows = [[k, str(v)] for k, v in machine.items()]
    return Table(["", ""], rows)


def render(results: Results, sections: list[tuple[str, str, list[Table]]], target_rows: list[tuple[str, bool | None, str]]) -> str:
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
        Table(["target", "result", "measured (median)"],
              [[name, mark(v), detail] for name, v, detail in target_rows]).markdown(),
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
