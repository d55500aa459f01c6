"""What every scenario shares: the sizes of a run, the results, the server, a log line."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.env import Server
from benchmarks.sql import q
from benchmarks.stats import Sample


@dataclass(frozen=True)
class Settings:
    """How big each scenario is. ``quick`` keeps the whole suite to a few minutes."""

    reps: int = 5
    processes: tuple[int, ...] = (1, 2, 4)
    jobs: int = 8_000            # jobs drained per repetition (pgflow-py, PgQueuer, pgmq)
    slow_jobs: int = 1_600       # Procrastinate's drain (it is ~10x slower; same method, same rate)
    chain_runs: int = 3_000      # 3-step flow runs per drain
    diamond_runs: int = 2_500    # diamond runs per drain
    map_items: int = 10_000      # items of the single map step
    map_batches: tuple[int, ...] = (10, 50)  # worker batch_size (= max_concurrency) for the map; 10 is the default
    latency_jobs: int = 300      # jobs per latency measurement (at ~latency_rate per second)
    latency_rate: float = 40.0
    client_calls: int = 2_000    # start_flow / enqueue calls per measurement
    client_concurrency: int = 8  # "many connections"
    sync_calls: int = 100        # start_flow_sync calls
    footprint_runs: int = 5_000  # runs completed to count rows and bytes per run
    history: tuple[int, ...] = (0, 100_000, 1_000_000)  # completed runs in history
    history_jobs: int = 4_000    # jobs drained at each history size
    drain_timeout: float = 180.0
    live_items: int = 10_000     # items of the map watched over SSE (scenario live)
    live_readers: tuple[int, ...] = (1, 10, 100)  # reading SSE clients per measurement
    live_idle: int = 5           # SSE clients that never read, beside them

    @classmethod
    def tiny(cls) -> Settings:
        """Every code path, seconds per scenario: what tests/benchmarks runs (figures meaningless)."""
        return cls(reps=1, processes=(1,), jobs=40, slow_jobs=20, chain_runs=10, diamond_runs=10, map_items=50, map_batches=(10, 20),
                   latency_jobs=5, latency_rate=50.0, client_calls=10, client_concurrency=2, sync_calls=2,
                   footprint_runs=10, history=(0, 200), history_jobs=20, drain_timeout=60.0,
                   live_items=50, live_readers=(1, 3), live_idle=2)

    @classmethod
    def preset(cls, quick: bool, reps: int | None = None) -> Settings:
        chosen = cls(
            reps=3, processes=(1, 2, 4), jobs=3_000, slow_jobs=600, chain_runs=600, diamond_runs=500,
            latency_jobs=100, client_calls=400, sync_calls=30, footprint_runs=1_000,
            history=(0, 100_000), history_jobs=2_000, drain_timeout=90.0,
            live_items=2_000, live_readers=(1, 10),
        ) if quick else cls()
        return chosen if reps is None else replace(chosen, reps=max(1, reps))


@dataclass
class Results:
    """Every figure measured, by key (``scenario/what/...``), with its repetitions."""

    samples: dict[str, Sample] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, unit: str, value: float) -> None:
        self.samples.setdefault(key, Sample(key, unit)).add(value)

    def get(self, key: str) -> Sample | None:
        return self.samples.get(key)

    def median(self, key: str) -> float:
        sample = self.samples.get(key)
        return sample.median if sample is not None else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "notes": self.notes,
                "samples": {k: asdict(s) for k, s in self.samples.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Results:
        return cls(samples={k: Sample(**v) for k, v in data["samples"].items()},
                   notes=list(data.get("notes", [])), meta=dict(data.get("meta", {})))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, default=str) + "\n")


@dataclass
class Bench:
    server: Server
    settings: Settings
    results: Results
    verbose: bool = True
    _t0: float = field(default_factory=time.monotonic)

    def log(self, message: str) -> None:
        if self.verbose:
            print(f"[{time.monotonic() - self._t0:7.1f}s] {message}", file=sys.stderr, flush=True)

    def database(self, name: str) -> str:
        """A fresh, empty database on the benchmark server."""
        return self.server.fresh_database(name)

    def failed(self, what: str, exc: BaseException) -> None:
        """A measurement that could not finish is noted in the report, never silently dropped."""
        self.results.notes.append(f"{what}: {type(exc).__name__}: {exc}")
        self.log(f"FAILED {what}: {exc!r}")


def vacuum_analyze(dsn: str) -> None:
    """Bring a database's statistics up to date (as autovacuum would on a live system)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(q("vacuum_analyze"))
