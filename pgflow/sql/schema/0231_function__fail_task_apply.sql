-- The state change behind fail_task (which then returns the task row). Locks as
-- _complete_task_apply does: the step state row first, the run row only when the task has
-- used up its attempts (then the step fails or is skipped).
--
-- With attempts left (attempts_count < max_attempts, step option else flow option) the task
-- is queued again and its message hidden for calculate_retry_delay(base_delay, attempts_count)
-- seconds. Otherwise the task fails and when_exhausted decides: 'fail' fails the step and the
-- run, 'skip' / 'skip-cascade' skip the step (see _skip_failed_step). task:failed tells which
-- (will_retry, retry_at).
CREATE OR REPLACE FUNCTION pgflow._fail_task_apply(
    p_run_id uuid, p_step_slug text, p_task_index int, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_reported record;
    v_exhausted boolean;
    v_task pgflow.step_tasks;
    v_delay int;
    v_retry_at timestamptz;
BEGIN
    SELECT * INTO v_reported FROM pgflow._lock_reported_task(p_run_id, p_step_slug, p_task_index);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_exhausted := v_reported.attempts_count >= v_reported.max_attempts;
    IF v_exhausted AND NOT pgflow._lock_started_run(p_run_id) THEN
        PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
        RETURN;
    END IF;

    UPDATE pgflow.step_tasks AS t
       SET status = CASE WHEN v_exhausted THEN 'failed' ELSE 'queued' END,
           started_at = CASE WHEN v_exhausted THEN t.started_at END,
           failed_at = CASE WHEN v_exhausted THEN now() END,
           error_message = p_error_message
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;  -- requeued by requeue_stalled_tasks meanwhile
    END IF;

    IF NOT v_exhausted THEN
        v_delay := pgflow.calculate_retry_delay(v_reported.base_delay, v_task.attempts_count);
        SELECT m.vt INTO v_retry_at FROM pgmq.set_vt(v_reported.queue_name, v_task.message_id, v_delay) AS m;
        v_retry_at := coalesce(v_retry_at, clock_timestamp() + make_interval(secs => v_delay));
        PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task, v_retry_at));
        RETURN;
    END IF;

    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    IF v_reported.when_exhausted = 'fail' THEN
        PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    ELSE
        PERFORM pgflow._skip_failed_step(p_run_id, p_step_slug, p_error_message,
                                         v_reported.when_exhausted = 'skip-cascade');
    END IF;
    PERFORM pgmq.archive(v_reported.queue_name, v_task.message_id);
END;
$$;
