-- pgflow-py addition (durable waits): a waiting task's wait is over with p_output (a signal's
-- payload, a sleep's wake time, a signal's default on timeout, a child run's output). The task
-- starts (attempt 1; no task:started: no worker ran it) and completes through the path of a
-- worker's report (_complete_task_apply: task:completed, the step completes with its outputs,
-- dependents start, the run completes). Locks as that path does: the step state, then the run
-- (pgflow._take_wait).
-- Returns false, changing nothing but dropping the wait, when the wait is gone (ended before)
-- or its run is over (cancelled, failed meanwhile).
CREATE OR REPLACE FUNCTION pgflow._end_wait(p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow._take_wait(p_run_id, p_step_slug, p_task_index) THEN
        RETURN false;
    END IF;
    UPDATE pgflow.step_tasks AS t
       SET status = 'started', started_at = now(), attempts_count = t.attempts_count + 1
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'queued' AND t.message_id IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pgflow._complete_task_apply(p_run_id, p_step_slug, p_task_index, p_output);
    RETURN true;
END;
$$;
