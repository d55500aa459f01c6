"""Every benchmark scenario runs end to end in a tiny size, so the suite cannot rot.

The figures of a tiny run mean nothing and no test looks at a timing: these tests check that
each scenario measures every figure it reports (nothing failed, nothing missing) and that the
report renders them.
"""

from __future__ import annotations

import pytest

from benchmarks.core import Bench, Results, Settings
from benchmarks.env import Server
from benchmarks.scenarios import client, compat, fairness, flow_control, flows, footprint, jobs, latency
from benchmarks.scenarios.jobs import available_systems

TINY = Settings.tiny()


@pytest.fixture
def bench(pg_admin_url):
    return Bench(Server(pg_admin_url), TINY, Results(), verbose=False)


def measured(results: Results) -> set[str]:
    return {key for key, sample in results.samples.items() if sample.values}


def no_failures(results: Results) -> None:
    failures = [note for note in results.notes if "not installed" not in note]
    assert failures == []


def test_jobs_drains_every_available_system(bench):
    jobs.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {jobs.key(name, 1) for name in available_systems()}
    table = jobs.render(bench.results, TINY.processes)[0].markdown()
    assert "| pgflow-py | " in table and "jobs/s" in table


def test_flows_measures_chain_diamond_and_map(bench):
    flows.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {
        "flows/bench_chain/1/runs", "flows/bench_chain/1/tasks",
        "flows/bench_diamond/1/runs", "flows/bench_diamond/1/tasks", "flows/map/1", "flows/map/1/batch20"}
    assert "map of" in flows.render(bench.results, TINY.processes)[0].markdown()


def test_latency_records_every_percentile_for_both_signals(bench):
    latency.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {f"latency/{signal}/p{p}" for signal in latency.SIGNALS
                                       for p in latency.PERCENTILES}


def test_client_costs_count_calls_round_trips_and_sync_overhead(bench):
    client.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {
        "client/start_flow/one", "client/start_flow/many", "client/enqueue/one", "client/enqueue/many",
        "client/start_flow/roundtrips", "client/enqueue/roundtrips",
        "client/start_flow_sync/overhead", "client/start_flow_sync/wall"}
    assert bench.results.median("client/enqueue/roundtrips") >= 1


def test_footprint_measures_memory_rows_bytes_and_history(bench):
    footprint.run(bench)
    no_failures(bench.results)
    workers = [name for name in available_systems() if name != "pgmq floor"]
    assert measured(bench.results) == {
        *(f"footprint/rss/{name}/{kind}" for name in workers for kind in ("idle", "load")),
        "footprint/rows/bench_job", "footprint/bytes/bench_job",
        "footprint/rows/bench_chain", "footprint/bytes/bench_chain",
        *(f"footprint/history/{size}" for size in TINY.history), "footprint/history/pruned",
        *(f"footprint/history/{label}/empty" for label in ("200", "pruned")),  # the alternated empty drains
        "footprint/prune_seconds"}
    # every history drain is paired with an empty one: drift slows both alike
    assert len(bench.results.get("footprint/history/0").values) == 2 * TINY.reps
    table = footprint.render(bench.results, TINY.history)[2].markdown()
    assert "| 200 completed runs | " in table and "after prune" in table and "n/a" not in table
    assert bench.results.median("footprint/rows/bench_job") >= 4  # run, step state, task, archived message


def test_profile_reports_cpu_per_job_of_workers_and_server(pg_admin_url):
    from benchmarks.profile import profile

    lines = list(profile(Server(pg_admin_url), ["pgflow-py"], jobs=20, processes=1, top=3, timeout=60,
                         extra=[], statements=[]))
    assert lines[0].startswith("== pgflow-py: 20 jobs, 1 process(es): ")
    assert "CPU per job: workers " in lines[0] and " µs, PostgreSQL " in lines[0]
    wal = float(lines[0].split("WAL per job: ")[1].split(" bytes")[0].replace(",", ""))
    assert wal > 500  # a job's life writes WAL: its task and message rows change, the run completes
    # the test server does not preload pg_stat_statements; the benchmark server does
    assert len(lines) == 2 or lines[1].split()[:2] == ["calls", "exec"]


def test_compat_drives_jobs_chain_and_map_on_both_paths(bench):
    compat.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {compat.key(path, slug, 1) for path in compat.PATHS
                                       for slug in ("bench_job", "bench_chain", "bench_map")}
    table = compat.render(bench.results, TINY.processes)[0].markdown()
    assert "compatible / native" in table and "n/a" not in table


def test_flow_control_measures_limits_and_tenant_b_waits(bench):
    flow_control.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == (
        {flow_control.limit_key(v, 1) for v in flow_control.LIMITS}
        | {flow_control.fairness_key(v, p) for v in flow_control.FAIRNESS for p in flow_control.PERCENTILES})
    tables = flow_control.render(bench.results, TINY.processes)
    assert "limit never reached / none" in tables[0].markdown() and "B's wait p95" in tables[1].markdown()


def test_fairness_measures_tenant_b_waits_with_and_without_keys(bench):
    fairness.run(bench)
    no_failures(bench.results)
    assert measured(bench.results) == {fairness.key(v, m) for v in fairness.VARIANTS for m in ("p50", "p95", "drain")}
    table = fairness.render(bench.results)[0].markdown()
    assert "with fairness (key: tenant)" in table and "B's wait p95" in table
