"""``python -m benchmarks all --quick``: run the suite, write docs/benchmarks.md.

    python -m benchmarks all                 # every scenario, full size (under ~20 minutes)
    python -m benchmarks all --quick         # every scenario, small (a few minutes)
    python -m benchmarks jobs flows --reps 5 # some scenarios (the doc is rewritten only with --output)
    python -m benchmarks report              # re-render docs/benchmarks.md from the last results
    ... --database-url postgresql://...      # an existing server instead of a throwaway embedded one
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import inspect
import json
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks import report
from benchmarks.core import Bench, Results, Settings
from benchmarks.env import describe, start_server
from benchmarks.scenarios import client, compat, fairness, flow_control, flows, footprint, jobs, latency, live

SCENARIOS = {"jobs": jobs, "flows": flows, "latency": latency, "client": client, "footprint": footprint,
             "compat": compat, "flow_control": flow_control, "live": live, "fairness": fairness}
TITLES = {"jobs": "1. Jobs", "flows": "2. Flows", "latency": "3. Latency", "client": "4. Client costs",
          "footprint": "5. Footprint", "compat": "6. The compatible path", "flow_control": "7. Flow control",
          "live": "8. Live views at scale", "fairness": "9. Fairness between keys"}
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = Path(__file__).resolve().parent / "results" / "last-run.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="+", choices=["all", "report", *SCENARIOS])
    parser.add_argument("--quick", action="store_true", help="small sizes, 3 repetitions: a few minutes")
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests/benchmarks: code paths only
    parser.add_argument("--reps", type=int, default=None, help="repetitions of each figure (default 5, quick 3)")
    parser.add_argument("--database-url", default=None, help="use this server (its role needs CREATEDB)")
    parser.add_argument("--output", type=Path, default=None,
                        help=f"the Markdown file to write (default {DOC.relative_to(ROOT)} for 'all')")
    parser.add_argument("--results", type=Path, default=None,
                        help=f"where the raw results (JSON) go (default {RESULTS.relative_to(ROOT)} for 'all' and "
                             "'report'; other runs keep them only when this is given)")
    args = parser.parse_args(argv)

    if args.what == ["report"]:
        results = Results.from_json(json.loads((args.results or RESULTS).read_text()))
        report.write(args.output or DOC, render(results))
        return 0
    chosen = list(SCENARIOS) if "all" in args.what else [w for w in args.what if w in SCENARIOS]
    settings = Settings.tiny() if args.tiny else Settings.preset(args.quick, args.reps)
    results = Results()
    server = start_server(args.database_url)
    started = time.monotonic()
    try:
        results.meta = {
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": " ".join(["python -m benchmarks", *map(shlex.quote, sys.argv[1:] if argv is None else argv)]),
            "machine": {**describe(server), **versions()},
            "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
            "settings_text": settings_text(settings),
            "scenarios": chosen,
        }
        bench = Bench(server, settings, results)
        for name in chosen:
            bench.log(f"--- {name}")
            SCENARIOS[name].run(bench)
    finally:
        server.close()
    results.meta["duration"] = f"{(time.monotonic() - started) / 60:.1f} minutes"
    saved_to = args.results or (RESULTS if "all" in args.what else None)
    if saved_to is not None:
        results.save(saved_to)
    body = render(results)
    output = args.output or (DOC if "all" in args.what else None)
    if output is not None:
        report.write(output, body)
        print(f"wrote {output}", file=sys.stderr)
    else:
        print(body)
    return 0


def render(results: Results) -> str:
    s = results.meta.get("settings", {})
    processes = tuple(s.get("processes", (1, 2, 4)))
    chosen = results.meta.get("scenarios", list(SCENARIOS))
    tables = {
        "jobs": lambda: jobs.render(results, processes),
        "flows": lambda: flows.render(results, processes),
        "latency": lambda: latency.render(results),
        "client": lambda: client.render(results, s.get("client_concurrency", 8)),
        "footprint": lambda: footprint.render(results, tuple(s.get("history", (0,)))),
        "compat": lambda: compat.render(results, processes),
        "flow_control": lambda: flow_control.render(results, processes),
        "fairness": lambda: fairness.render(results),
        "live": lambda: live.render(results, tuple(s.get("live_readers", (1, 10, 100))), s.get("live_idle", 5),
                                    s.get("live_items", 10_000)),
    }
    sections = [(TITLES[name], intro(SCENARIOS[name]), tables[name]()) for name in chosen]
    target_rows = report.targets(results, processes, tuple(s.get("history", (0,))))
    return report.render(results, sections, target_rows)


def intro(module: object) -> str:
    """A scenario's docstring, as the method note of its section."""
    return inspect.cleandoc(module.__doc__ or "")


def settings_text(s: Settings) -> str:
    return (f"{s.reps} repetitions; worker processes {', '.join(map(str, s.processes))}; "
            f"{s.jobs:,} jobs per drain ({s.slow_jobs:,} for Procrastinate); {s.chain_runs:,} chain runs, "
            f"{s.diamond_runs:,} diamond runs, a map of {s.map_items:,} items; {s.latency_jobs} latency jobs "
            f"at ~{s.latency_rate:g}/s; {s.client_calls:,} client calls; history up to {max(s.history):,} runs.")


def versions() -> dict[str, str]:
    found = {}
    for package in ("pgqueuer", "procrastinate", "psycopg", "asyncpg", "pgmq"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    from pgflow import migrate

    found["pgmq (SQL installed)"] = migrate.pgmq_bundled_version()
    return found


if __name__ == "__main__":
    sys.exit(main())
