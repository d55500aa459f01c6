"""The Textual example driven headless (Textual's test pilot) against a real worker."""

from __future__ import annotations

from tests.helpers import eventually_async


async def test_the_tui_example_follows_a_run_to_completion(db_url, monkeypatch):
    monkeypatch.setenv("PGFLOW_EXAMPLE_STEP_SECONDS", "0.1")
    from examples.live_tui.app import ReportApp

    app = ReportApp(db_url)
    async with app.run_test() as pilot:
        await pilot.click("#start")
        rows_seen = []

        async def completed() -> bool:
            await pilot.pause()
            table = app.query_one("DataTable")
            rows = [tuple(str(c) for c in table.get_row_at(i)[:2]) for i in range(table.row_count)]
            rows_seen.append(rows)
            return str(app.query_one("#status").render()).endswith(": completed")

        await eventually_async(completed, timeout=30, interval=0.05, message="the run completes on screen")
        assert rows_seen[-1] == [("collect", "completed"), ("build", "completed"), ("ship", "completed")]
        run = app.live["report"]
        assert run.output == {"ship": {"shipped": 30}}
        assert run == await app.client.get_run_with_states(run.run_id)
