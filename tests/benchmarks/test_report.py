"""The report: medians and spreads, targets, and the hand-written text around the results kept."""

from __future__ import annotations

from benchmarks import report
from benchmarks.__main__ import render
from benchmarks.core import Results, Settings
from benchmarks.stats import Sample, percentile


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([], 50) != percentile([], 50)  # nan


def test_a_figure_shows_median_spread_and_repetitions():
    sample = Sample("x", "jobs/s", [900.0, 1200.0, 1000.0])
    assert sample.fmt() == "1,000 jobs/s (900–1,200, n=3)"


def results_with(samples: dict[str, list[float]]) -> Results:
    results = Results(samples={k: Sample(k, "u", v) for k, v in samples.items()})
    results.meta = {"settings": {"processes": [1], "history": [0, 1000]}, "scenarios": ["jobs"],
                    "machine": {"cores": "2"}, "command": "python -m benchmarks jobs"}
    return results


def test_targets_are_marked_reached_or_missed_from_the_medians():
    results = results_with({"jobs/pgflow-py/1": [2000.0], "jobs/PgQueuer/1": [1000.0],
                            "jobs/Procrastinate/1": [500.0], "jobs/pgmq floor/1": [3000.0],
                            "compat/compatible/bench_chain/1": [300.0], "compat/native/bench_chain/1": [2000.0],
                            "footprint/history/1000": [950.0], "footprint/history/1000/empty": [1000.0],
                            "footprint/history/0": [5000.0],
                            "live/progress/1/lag": [0.5], "live/tasks/1/lag": [1.5],
                            "live/idle/0/rss": [10.0], "live/idle/20/rss": [50.0]})
    found = {name: (verdict, detail) for name, _, verdict, detail in report.targets(results, (1,), (0, 1000))}
    assert found["Jobs ≥ 1.2× PgQueuer"][0] is True
    assert found["Jobs ≥ 10× Procrastinate"][0] is False
    assert found["Jobs ≥ 0.6× the raw pgmq floor"] == (True, "1p: 0.67×")
    assert found["Compatible path: 3-step chain tasks/s ≥ 0.7× pgflow-py's worker"] == (False, "1p: 0.15×")
    # the history ratio is taken against the empty drains paired with that size, not every empty drain
    assert found["Throughput with history ≥ 0.9× of empty (target: 10,000,000 runs)"][0] is True
    # the dashboard's streams (progress, and the rows of non-reading clients) apart from every-task-event ones
    assert found["Every reader sees the run's end within 1 s: the dashboard's streams (progress)"] == (
        True, "worst row 0.50 s (progress/1)")
    assert found["… and streams of every task event (tasks)"] == (False, "worst row 1.50 s (tasks/1)")
    assert found["A client that never reads adds < 10 MB"] == (True, "2.00 MB each")
    assert found["Idle worker < 40 MB RSS"][0] is None


def test_writing_keeps_the_text_outside_the_markers(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nMethod.\n\n{report.START}\nstale figures\n{report.END}\n\n## Why\n\nAnalysis.\n")
    body = render(results_with({"jobs/pgflow-py/1": [1.0, 2.0, 3.0]}))
    report.write(doc, body)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nMethod.") and text.endswith("## Why\n\nAnalysis.\n")
    assert "stale figures" not in text and "2.00 u (1.00–3.00, n=3)" in text and "python -m benchmarks jobs" in text


def test_the_quick_preset_repeats_every_figure_at_least_three_times():
    assert Settings.preset(quick=True).reps >= 3 and Settings.preset(quick=False).reps >= 3
