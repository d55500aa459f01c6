-- A worker reports that a task's handler failed with `error_message`. The task is retried
-- with exponential backoff while it has attempts left; after the last attempt the step fails
-- and with it the run (when_exhausted 'fail', the default), or the step is skipped ('skip',
-- 'skip-cascade'). Emits task:failed (will_retry, retry_at) and the step and run events that
-- follow. Late or repeated reports change nothing (see _lock_reported_task). Returns the task
-- row (no row for an unknown task).
CREATE OR REPLACE FUNCTION pgflow.fail_task(run_id uuid, step_slug text, task_index int, error_message text)
RETURNS SETOF pgflow.step_tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    PERFORM pgflow._fail_task_apply(fail_task.run_id, fail_task.step_slug,
                                    fail_task.task_index, fail_task.error_message);
    RETURN QUERY
        SELECT t.* FROM pgflow.step_tasks AS t
         WHERE t.run_id = fail_task.run_id AND t.step_slug = fail_task.step_slug
           AND t.task_index = fail_task.task_index;
END;
$$;
