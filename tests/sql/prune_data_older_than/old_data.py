"""Set-up for the prune tests: runs that finished long ago, and ones that did not."""

from tests.sql.helpers import complete_task, define_flow, fail_task, read_and_start, register_worker, start_flow


def finished_runs(conn, flow):
    """One completed and one failed run of a two-step flow, plus a started one; returns their ids."""
    define_flow(conn, flow, [("first", []), ("second", ["first"], {"max_attempts": 1})])
    worker = register_worker(conn, flow)
    completed, failed, started = (start_flow(conn, flow, {"n": n}) for n in range(3))
    read_and_start(conn, flow, worker)
    for run_id in (completed, failed, started):
        complete_task(conn, run_id, "first", 0, 1)
    read_and_start(conn, flow, worker)
    complete_task(conn, completed, "second", 0, 2)
    fail_task(conn, failed, "second", 0, "boom")
    return completed, failed, started


def age(conn, days):
    """Move every timestamp of runs, step states, tasks, archives and workers `days` back."""
    shift = f"{days} days"
    conn.execute("""
        UPDATE pgflow.runs SET started_at = started_at - %(s)s::interval,
               completed_at = completed_at - %(s)s::interval, failed_at = failed_at - %(s)s::interval""",
                 {"s": shift})
    conn.execute("UPDATE pgflow.workers SET last_heartbeat_at = last_heartbeat_at - %s::interval", (shift,))
