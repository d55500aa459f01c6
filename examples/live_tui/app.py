"""A terminal UI that starts runs and shows their steps change live: Textual + LiveClient.

    pip install 'pgflow-py[tui]'
    PGFLOW_DATABASE_URL=postgresql://localhost/app python -m examples.live_tui.app

Press "s" (or the button) to start a run of ``tui_report``; the table follows its steps
through ``pgflow.LiveClient``, which keeps the run under the key "report" current from the
database's events. A worker for the flow runs in the same process unless
``PGFLOW_EXAMPLE_WORKER=0`` (then run ``pgflow worker examples.live_tui.app:report``).
"""

from __future__ import annotations

import asyncio
import os

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Button, DataTable, Footer, Header, Static

import pgflow

WORK = float(os.environ.get("PGFLOW_EXAMPLE_STEP_SECONDS", "0.5"))

report = pgflow.Flow("tui_report", max_attempts=2, base_delay=1)


@report.step
async def collect(input):
    await asyncio.sleep(WORK)
    return list(range(int(input.get("parts", 3))))


@report.map(array=collect)
async def build(part):
    await asyncio.sleep(WORK)
    return part * 10


@report.step(depends_on=[build])
async def ship(deps):
    await asyncio.sleep(WORK)
    return {"shipped": sum(deps["build"])}


class ReportApp(App[None]):
    """Starts runs of ``report`` and shows the latest one live."""

    TITLE = "pgflow live"
    BINDINGS = [Binding("s", "start", "Start a run"), Binding("q", "quit", "Quit")]
    CSS = "#status { padding: 1 2; } DataTable { height: auto; }"

    def __init__(self, dsn: str | None = None, *, run_worker: bool = True) -> None:
        super().__init__()
        self.client = pgflow.AsyncClient(dsn)
        self.live = pgflow.LiveClient(self.client, on_change=self.show)
        self.run_worker_here = run_worker
        self.worker: pgflow.Worker | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Button("Start a run", id="start", variant="primary")
        yield Static("No run yet.", id="status")
        yield DataTable(id="steps", cursor_type="none")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("step", "status", "tasks", "output / error")
        await self.client.compile(report)
        if self.run_worker_here:
            self.worker = pgflow.Worker(self.client, [report], name="live-tui-example", shutdown_timeout=5)
            await self.worker.start()

    async def on_unmount(self) -> None:
        await self.live.close()
        if self.worker is not None:
            await self.worker.stop()
        await self.client.close()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        await self.action_start()

    async def action_start(self) -> None:
        await self.live.start_flow(report, {"parts": 3}, as_="report")

    def show(self, key: str, run: pgflow.Run | None) -> None:
        """LiveClient's on_change: called in this event loop after every change of the run."""
        status = self.query_one("#status", Static)
        table = self.query_one(DataTable)
        table.clear()
        if run is None:
            status.update("No run yet.")
            return
        status.update(f"Run {run.run_id}: {run.status}")
        for step in run.step_states:
            done = sum(1 for t in step.tasks if t.status == "completed")
            detail = step.error_message or ("" if step.output is None else str(step.output))
            table.add_row(step.step_slug, step.status, f"{done}/{step.initial_tasks or 0}", detail[:40],
                          key=step.step_slug)


def main() -> None:
    dsn = os.environ.get("PGFLOW_DATABASE_URL") or os.environ.get("DATABASE_URL")
    ReportApp(dsn, run_worker=os.environ.get("PGFLOW_EXAMPLE_WORKER", "1") != "0").run()


if __name__ == "__main__":
    main()
