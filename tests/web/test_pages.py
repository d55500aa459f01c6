"""Every dashboard route, rendered against real PostgreSQL holding real runs in every state."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import psycopg

from tests.web.conftest import Scenario, heartbeat, html_text


def run_ids_in(text: str) -> list[str]:
    return re.findall(r'<tr data-run="([0-9a-f-]{36})"', text)


async def test_overview_counts_runs_queues_and_workers(web: httpx.AsyncClient, scenario: Scenario) -> None:
    heartbeat(scenario.url, scenario.workers["healthy"])
    text = html_text(await web.get("/"))
    # completed: orders x2, three job runs minus the bounced one; failed: orders + bounced job
    assert re.search(r'data-testid="metric-total">7<', text)
    assert re.search(r'data-testid="metric-completed">4<', text)
    assert re.search(r'data-testid="metric-failed">2<', text)
    assert re.search(r'data-testid="metric-running">1<', text)
    assert "item 13 is unlucky" in text and "mailbox full" in text
    queues = text.split('data-testid="queues"')[1].split("</table>")[0]
    assert "orders" in queues and "send_email" in queues
    assert str(scenario.workers["healthy"])[-8:] in text
    assert str(scenario.workers["dead"])[-8:] not in text  # only live workers on the overview


async def test_overview_windows(web: httpx.AsyncClient) -> None:
    for window in ("1h", "24h", "7d", "30d"):
        text = html_text(await web.get("/", params={"window": window}))
        assert f'href="?window={window}" aria-current="true"' in text
    assert (await web.get("/", params={"window": "2y"})).status_code == 400


async def test_runs_lists_every_run_newest_first(web: httpx.AsyncClient, scenario: Scenario) -> None:
    ids = run_ids_in(html_text(await web.get("/runs")))
    assert set(ids) == {str(r) for r in scenario.runs.values()}
    assert ids[0] == str(scenario.runs["running"])  # started last


async def test_runs_filters(web: httpx.AsyncClient, scenario: Scenario) -> None:
    runs = {k: str(v) for k, v in scenario.runs.items()}

    async def ids(**params: str) -> set[str]:
        return set(run_ids_in(html_text(await web.get("/runs", params=params))))

    assert await ids(status="failed") == {runs["failed"], runs["job_failed"]}
    assert await ids(status="running") == {runs["running"]}
    assert await ids(type="job") == {runs["job_completed"], runs["job_failed"], runs["scheduled"]}
    assert await ids(type="scheduled") == {runs["scheduled"]}
    assert await ids(type="flow", status="completed") == {runs["completed"], runs["skipped"]}
    assert await ids(flow="send_email", status="completed") == {runs["job_completed"], runs["scheduled"]}
    assert await ids(range="1h") == set(runs.values())
    assert await ids(**{"from": "2001-01-01T00:00", "to": "2001-01-02T00:00"}) == set()
    # the filters stay in the URL of the form and of the pager
    text = html_text(await web.get("/runs", params={"flow": "orders", "status": "failed"}))
    assert '<option value="orders" selected>' in text and '<option value="failed" selected>' in text


async def test_runs_rejects_bad_filters(web: httpx.AsyncClient) -> None:
    for params in ({"status": "sleeping"}, {"type": "cron"}, {"range": "1y"}, {"older": "nonsense"},
                   {"from": "yesterday"}, {"from": "2030-01-02T00:00", "to": "2030-01-01T00:00"}):
        response = await web.get("/runs", params=params)
        assert response.status_code == 400, params
        assert 'data-testid="error"' in response.text


async def test_runs_keyset_pages_walk_the_whole_history(web: httpx.AsyncClient, scenario: Scenario) -> None:
    everything = run_ids_in(html_text(await web.get("/runs")))
    seen: list[str] = []
    pages = []
    url: str | None = "/runs?limit=2"
    for _ in range(10):
        assert url is not None
        text = html_text(await web.get(url.replace("&amp;", "&")))
        pages.append(url)
        seen += run_ids_in(text)
        found = re.search(r'data-testid="older" href="([^"]+)"', text)
        url = found.group(1) if found else None
        if url is None:
            break
    assert seen == everything
    # from the second page, "newer" goes back to the first page's runs
    second = html_text(await web.get(pages[1].replace("&amp;", "&")))
    newer = re.search(r'data-testid="newer" href="([^"]+)"', second)
    assert newer is not None
    assert run_ids_in(html_text(await web.get(newer.group(1).replace("&amp;", "&")))) == everything[:2]


async def test_runs_keyset_pages_keep_the_filters_both_ways(web: httpx.AsyncClient, scenario: Scenario) -> None:
    flows = run_ids_in(html_text(await web.get("/runs", params={"type": "flow"})))
    assert len(flows) == 4  # with job runs started between the second and the newest
    pages: list[str] = []
    url: str | None = "/runs?type=flow&limit=1"
    while url is not None and len(pages) < 6:
        text = html_text(await web.get(url.replace("&amp;", "&")))
        pages.append(text)
        found = re.search(r'data-testid="older" href="([^"]+)"', text)
        url = found.group(1) if found else None
    assert [run_ids_in(p) for p in pages] == [[run_id] for run_id in flows]
    # "newer" steps back through the flow runs only, never to the job runs between them
    for i, page in enumerate(pages[1:]):
        newer = re.search(r'data-testid="newer" href="([^"]+)"', page)
        assert newer is not None
        assert run_ids_in(html_text(await web.get(newer.group(1).replace("&amp;", "&")))) == [flows[i]]


async def test_running_run_shows_graph_map_progress_timeline_and_tasks(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get(f"/runs/{scenario.runs['running']}"))
    assert 'data-testid="run-status"><span class="badge s-started">' in text
    assert re.search(r'data-step="fetch" data-status="completed"', text)
    assert re.search(r'data-step="items" data-status="started"', text)
    assert re.search(r'data-step="save" data-status="created"', text)
    assert "map · 2/5" in text  # the map's width and progress on its node
    assert 'data-testid="gantt"' in text and 'data-testid="tasks-table"' in text
    assert text.count('<tr data-status="queued">') == 2 and text.count('<tr data-status="started">') == 1
    assert "&#34;notify&#34;: true" in text  # the run input, escaped
    assert 'data-testid="previous-run"' in text and 'data-testid="next-run"' not in text


async def test_failed_run_shows_the_error_and_attempts(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get(f"/runs/{scenario.runs['failed']}"))
    assert 'data-testid="run-status"><span class="badge s-failed">' in text
    assert re.search(r'data-step="items" data-status="failed"', text)
    assert "ValueError: item 13 is unlucky" in text
    assert "No output: the run failed." in text
    only_items = html_text(await web.get(f"/runs/{scenario.runs['failed']}", params={"step": "items"}))
    assert "15 in step items" in only_items


async def test_failed_run_shows_the_tasks_its_failure_cancelled(web: httpx.AsyncClient, scenario: Scenario) -> None:
    with psycopg.connect(scenario.url) as conn:
        [(cancelled,)] = conn.execute("SELECT count(*) FROM pgflow.step_tasks WHERE run_id = %s AND status = 'cancelled'",
                                      (scenario.runs["failed"],)).fetchall()
    assert cancelled > 0, "the scenario's failed run should leave unfinished tasks behind"
    text = html_text(await web.get(f"/runs/{scenario.runs['failed']}", params={"tasks": "more"}))
    assert text.count('<tr data-status="cancelled">') == cancelled
    assert '<span class="badge s-cancelled small"><span aria-hidden="true">\u2298</span> cancelled</span>' in text


async def test_skipped_step_and_scheduled_run(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get(f"/runs/{scenario.runs['skipped']}"))
    assert re.search(r'data-step="notify" data-status="skipped"', text)
    assert "skipped: condition_unmet" in text
    text = html_text(await web.get(f"/runs/{scenario.runs['scheduled']}"))
    assert "started by schedule" in text and "/schedules/nightly_email" in text


async def test_previous_and_next_run_link_runs_of_the_same_flow(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get(f"/runs/{scenario.runs['skipped']}"))
    assert f'data-testid="previous-run" href="/runs/{scenario.runs["completed"]}"' in text
    assert f'data-testid="next-run" href="/runs/{scenario.runs["failed"]}"' in text


async def test_unknown_or_malformed_run_is_404(web: httpx.AsyncClient) -> None:
    missing = await web.get("/runs/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404 and "does not exist" in missing.text
    assert (await web.get("/runs/not-a-uuid")).status_code == 404


async def test_flows_and_jobs_lists(web: httpx.AsyncClient) -> None:
    flows = html_text(await web.get("/flows"))
    assert 'href="/flows/orders"' in flows and "send_email" not in flows.split('data-testid="flows-table"')[1]
    jobs = html_text(await web.get("/jobs"))
    assert 'href="/jobs/send_email"' in jobs and "/flows/orders" not in jobs


async def test_flow_page_has_graph_history_grid_and_recent_runs(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get("/flows/orders"))
    assert 'data-testid="dag"' in text and 'data-testid="history-grid"' in text
    grid = text.split('data-testid="history-grid"')[1].split("</table>")[0]
    for key in ("completed", "skipped", "failed", "running"):
        assert f"/runs/{scenario.runs[key]}" in grid
    assert "skipped" in grid and "failed" in grid
    assert len(run_ids_in(text)) == 4


async def test_job_page_and_type_redirects(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get("/jobs/send_email"))
    assert "RuntimeError: mailbox full" in text  # recent errors
    assert "nightly_email" in text  # its schedule
    moved = await web.get("/flows/send_email", params={"window": "7d"})
    assert moved.status_code == 307 and moved.headers["location"] == "/jobs/send_email?window=7d"
    assert (await web.get("/flows/no_such_flow")).status_code == 404


async def test_schedules_list_and_page(web: httpx.AsyncClient, scenario: Scenario) -> None:
    text = html_text(await web.get("/schedules"))
    assert "nightly_email" in text and "every day at 03:00 UTC" in text
    page = html_text(await web.get("/schedules/nightly_email"))
    assert 'data-testid="schedule-description">every day at 03:00 UTC<' in page
    assert f"/runs/{scenario.runs['scheduled']}" in page.split('data-testid="schedule-history"')[1]
    assert "ops@example.com" in page  # the input of each run
    assert (await web.get("/schedules/nope")).status_code == 404


async def test_workers_health(web: httpx.AsyncClient, scenario: Scenario) -> None:
    heartbeat(scenario.url, scenario.workers["healthy"])
    # the scenario is built once per session: by now its stale worker (30 s quiet then) may be dead
    heartbeat(scenario.url, scenario.workers["stale"], ago=timedelta(seconds=30))
    text = html_text(await web.get("/workers"))
    for health in ("healthy", "stale", "dead", "stopped"):
        assert f'<tr data-health="{health}">' in text, health
    only_dead = html_text(await web.get("/workers", params={"health": "dead"}))
    assert str(scenario.workers["dead"])[-8:] in only_dead and str(scenario.workers["healthy"])[-8:] not in only_dead
    assert (await web.get("/workers", params={"health": "zombie"})).status_code == 400


async def test_worker_page_shows_flows_served_and_recent_tasks(web: httpx.AsyncClient, scenario: Scenario) -> None:
    heartbeat(scenario.url, scenario.workers["healthy"])
    with psycopg.connect(scenario.url) as conn:  # as a TypeScript worker of 0.17.1 registers
        conn.execute("UPDATE pgflow.workers SET pgflow_version = '0.17.1' WHERE worker_id = %s",
                     (scenario.workers["healthy"],))
    text = html_text(await web.get(f"/workers/{scenario.workers['healthy']}"))
    assert 'data-testid="worker-health"><span class="badge s-healthy">' in text
    assert 'data-testid="worker-version">0.17.1<' in text
    served = text.split('data-testid="flows-served"')[1].split("</ul>")[0]
    assert "orders" in served
    tasks = text.split('data-testid="worker-tasks"')[1]
    assert f"/runs/{scenario.runs['running']}" in tasks and "item 13 is unlucky" in tasks
    assert (await web.get("/workers/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_fragment_requests_get_only_the_page_content(web: httpx.AsyncClient, scenario: Scenario) -> None:
    response = await web.get(f"/runs/{scenario.runs['running']}", headers={"X-Pgflow-Fragment": "1"})
    text = html_text(response)
    assert "<html" not in text and "<header" not in text
    assert text.lstrip().startswith('<div id="page" data-title="Run ')
    assert 'data-testid="dag"' in text


async def test_static_files_and_read_only(web: httpx.AsyncClient) -> None:
    assert (await web.get("/static/dashboard.js")).status_code == 200
    assert "--completed" in (await web.get("/static/dashboard.css")).text
    assert (await web.post("/runs")).status_code == 405
