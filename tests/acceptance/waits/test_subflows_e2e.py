"""A map of 20 subflows with real ``pgflow worker`` processes: one child fails, the parent fails
with its error; resuming the parent re-runs only that child."""

from __future__ import annotations

import psycopg

import pgflow
from tests.acceptance.worker.conftest import StartWorker
from tests.acceptance.worker.test_worker_cli import ready
from tests.helpers import eventually

FLOWS = "tests.acceptance.waits.flows"


def _children(db_url: str, run_id) -> list[tuple[int, str]]:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT parent_task_index, status FROM pgflow.runs WHERE parent_run_id = %s "
                            "ORDER BY parent_task_index", (run_id,)).fetchall()


def test_map_of_20_subflows_one_fails_and_resume_reruns_only_it(db_url, start_worker: StartWorker, tmp_path):
    worker = start_worker(f"{FLOWS}:item_flow", f"{FLOWS}:batch", "--concurrency", "1")
    ready(worker)
    with pgflow.Client(db_url) as client:
        marker = tmp_path / "item-19-fails"
        marker.write_text("")
        run_id = client.start_flow("batch_flow", {"count": 20, "fail": 19, "while": str(marker)})
        eventually(lambda: str(client.get_run(run_id).status) == "failed", timeout=60, message="the parent fails")
        run = client.get_run_with_states(run_id)
        each = next(s for s in run.step_states if s.step_slug == "each")
        assert "of flow 'item_flow' failed: handle: RuntimeError: item 19 failed" in each.error_message
        children = _children(db_url, run_id)
        assert len(children) == 20 and children[19] == (19, "failed")
        assert [status for _, status in children[:19]] == ["completed"] * 19  # one handler at a time, in order

        marker.unlink()  # the item's trouble is fixed
        resumed = client.resume_run(run_id)
        eventually(lambda: str(client.get_run(resumed).status) == "completed", timeout=60,
                   message="the resumed run completes")
        assert _children(db_url, resumed) == [(19, "completed")]
        assert client.get_run(resumed).output == {"each": [{"handle": n * 10} for n in range(20)]}
