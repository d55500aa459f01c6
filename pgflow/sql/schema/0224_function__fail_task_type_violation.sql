-- A single step produced a non-array output for a dependent map step: the task fails keeping
-- the offending output (task:failed), the step and the run fail (step:failed, run:failed, the
-- run's other unfinished tasks cancelled) and the task's own message is archived. Not retried: the
-- same handler would produce the same type again.
CREATE OR REPLACE FUNCTION pgflow._fail_task_type_violation(
    p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_task pgflow.step_tasks;
BEGIN
    UPDATE pgflow.step_tasks AS t
       SET status = 'failed', failed_at = now(), output = p_output, error_message = p_error_message
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    PERFORM pgmq.archive(v_task.queue_name, v_task.message_id);
END;
$$;
