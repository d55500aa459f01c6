"""Set-up for the requeue tests: pretend a claimed task was started long ago."""

from tests.sql.helpers import scalar


def age_task(conn, run_id, step, seconds, task_index=0):
    conn.execute("UPDATE pgflow.step_tasks SET queued_at = now() - interval '1 day',"
                 " started_at = now() - make_interval(secs => %s)"
                 " WHERE run_id = %s AND step_slug = %s AND task_index = %s",
                 (seconds, run_id, step, task_index))


def requeue(conn):
    return scalar(conn, "SELECT pgflow.requeue_stalled_tasks()")
