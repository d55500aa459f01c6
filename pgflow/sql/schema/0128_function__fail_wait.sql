-- pgflow-py addition (durable waits): a waiting task fails for good with p_error_message (a
-- signal that timed out, a sleep without a wake time, a child run that failed or could not
-- start). Retry rules do not apply: the task fails at once (task:failed, will_retry false) and
-- the step's when_exhausted decides as for a task out of attempts - 'fail' fails the step and
-- the run (_fail_run), 'skip' / 'skip-cascade' skip the step (_skip_failed_step). Locks the step
-- state, then the run (pgflow._take_wait). Returns false, changing nothing but dropping the
-- wait, when the wait is gone or its run is over.
CREATE OR REPLACE FUNCTION pgflow._fail_wait(p_run_id uuid, p_step_slug text, p_task_index int, p_error_message text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_when_exhausted text;
    v_task pgflow.step_tasks;
BEGIN
    IF NOT pgflow._take_wait(p_run_id, p_step_slug, p_task_index) THEN
        RETURN false;
    END IF;
    SELECT s.when_exhausted INTO v_when_exhausted
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug;
    UPDATE pgflow.step_tasks AS t
       SET status = 'failed', started_at = now(), failed_at = now(), error_message = p_error_message,
           attempts_count = t.attempts_count + 1
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'queued' AND t.message_id IS NULL
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    IF v_when_exhausted = 'fail' THEN
        PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    ELSE
        PERFORM pgflow._skip_failed_step(p_run_id, p_step_slug, p_error_message, v_when_exhausted = 'skip-cascade');
    END IF;
    RETURN true;
END;
$$;
