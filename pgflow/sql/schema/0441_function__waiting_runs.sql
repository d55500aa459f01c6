-- pgflow-py: the started runs (of `p_run_ids`, NULL: all) whose every unfinished task waits for
-- a hidden message (see _task_due_times) or a wait that has not begun (a waiting step of a run
-- enqueued for later), with the earliest time one becomes visible: runs
-- scheduled for later, not running. A run with a started task, or a queued one visible now, is
-- running and left out. The dashboard counts them apart; get_run shows the time as due_at.
CREATE OR REPLACE FUNCTION pgflow._waiting_runs(p_run_ids uuid[])
RETURNS TABLE (run_id uuid, due_at timestamptz)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT t.run_id, min(coalesce(d.due_at, w.since))
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id AND r.status = 'started'
      LEFT JOIN pgflow._task_due_times(p_run_ids) AS d
        ON d.run_id = t.run_id AND d.step_slug = t.step_slug AND d.task_index = t.task_index
      -- pgflow-py (waiting steps): a wait that begins when its run, enqueued for later, is due
      LEFT JOIN pgflow.waits AS w
        ON w.run_id = t.run_id AND w.step_slug = t.step_slug AND w.task_index = t.task_index
       AND w.due_at = w.since AND w.since > now()
     WHERE t.status IN ('queued', 'started')
       AND (p_run_ids IS NULL OR t.run_id = ANY (p_run_ids))
     GROUP BY t.run_id
    HAVING bool_and(coalesce(d.due_at, w.since) IS NOT NULL);
$$;
