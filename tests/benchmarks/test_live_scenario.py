"""The live-views scenario runs end to end in a tiny size: a dashboard process, readers, clients
that never read, a map drained by workers. Its figures mean nothing at this size; no test looks
at a timing, only that every figure was measured and the report renders them."""

from __future__ import annotations

from benchmarks.core import Bench, Results, Settings
from benchmarks.env import Server
from benchmarks.scenarios import live

TINY = Settings.tiny()


def test_live_measures_cpu_memory_lag_and_latency_for_each_reader_count(pg_admin_url):
    bench = Bench(Server(pg_admin_url), TINY, Results(), verbose=False)
    live.run(bench)
    assert bench.results.notes == []
    plan = [("progress", n) for n in TINY.live_readers] + [("tasks", n) for n in TINY.live_readers[:2]]
    assert {k for k, s in bench.results.samples.items() if s.values} == {
        "live/snapshot_bytes", *(live.key(mode, n, what) for mode, n in plan for what in ("cpu", "rss", "lag", "root")),
        *(live.idle_key(n, what) for n in live.idle_counts(TINY.live_idle) for what in ("cpu", "rss", "lag", "root"))}
    assert bench.results.median("live/snapshot_bytes") < 100_000  # three 3 MB inputs are not in it
    tables = live.render(bench.results, TINY.live_readers, TINY.live_idle, TINY.live_items)
    assert "3 readers (progress)" in tables[0].markdown() and "not measured" not in tables[0].markdown()
    assert "8 not reading instead of 2" in tables[0].markdown()
    assert "MB" in tables[2].markdown() and "not measured" not in tables[2].markdown()  # per client that never reads
