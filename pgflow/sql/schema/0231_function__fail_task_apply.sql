-- The state change behind fail_task (which then returns the task row). Locks as
-- _complete_task_apply does: the step state row first, the run row only when the task has
-- used up its attempts (then the step fails or is skipped).
--
-- With attempts left (attempts_count < max_attempts, step option else flow option) the task
-- is queued again and its message hidden for calculate_retry_delay(base_delay, attempts_count)
-- seconds. Otherwise the task fails and when_exhausted decides: 'fail' fails the step and the
-- run, 'skip' / 'skip-cascade' skip the step (see _skip_failed_step). task:failed tells which
-- (will_retry, retry_at). Late calls change nothing, as for complete_task.
CREATE OR REPLACE FUNCTION pgflow._fail_task_apply(
    p_run_id uuid, p_step_slug text, p_task_index int, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text;
    v_step_status text;
    v_when_exhausted text;
    v_max_attempts int;
    v_base_delay int;
    v_task_status text;
    v_message_id bigint;
    v_attempts int;
    v_run_status text;
    v_exhausted boolean;
    v_task pgflow.step_tasks;
    v_retry_at timestamptz;
    v_delay int;
BEGIN
    SELECT ss.flow_slug, ss.status, s.when_exhausted,
           coalesce(s.opt_max_attempts, f.opt_max_attempts), coalesce(s.opt_base_delay, f.opt_base_delay)
      INTO v_flow_slug, v_step_status, v_when_exhausted, v_max_attempts, v_base_delay
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
      JOIN pgflow.flows AS f ON f.flow_slug = ss.flow_slug
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
       FOR UPDATE OF ss;
    SELECT t.status, t.message_id, t.attempts_count, r.status
      INTO v_task_status, v_message_id, v_attempts, v_run_status
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index;
    IF v_task_status IS NULL OR v_step_status IS NULL THEN
        RETURN;
    END IF;
    IF v_run_status = 'failed' OR v_step_status <> 'started' THEN
        PERFORM pgmq.archive(v_flow_slug, v_message_id);
        RETURN;
    END IF;
    IF v_task_status <> 'started' THEN
        RETURN;
    END IF;

    v_exhausted := v_attempts >= v_max_attempts;
    IF v_exhausted THEN
        SELECT r.status INTO v_run_status FROM pgflow.runs AS r WHERE r.run_id = p_run_id FOR UPDATE;
        IF v_run_status <> 'started' THEN
            PERFORM pgmq.archive(v_flow_slug, v_message_id);
            RETURN;
        END IF;
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
        v_delay := pgflow.calculate_retry_delay(v_base_delay, v_task.attempts_count);
        SELECT m.vt INTO v_retry_at FROM pgmq.set_vt(v_flow_slug, v_message_id, v_delay) AS m;
        PERFORM pgflow._emit_task_failed(v_task, coalesce(v_retry_at, clock_timestamp() + make_interval(secs => v_delay)));
        RETURN;
    END IF;

    PERFORM pgflow._emit_task_failed(v_task, NULL);
    IF v_when_exhausted = 'fail' THEN
        PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    ELSE
        PERFORM pgflow._skip_failed_step(p_run_id, p_step_slug, p_error_message, v_when_exhausted = 'skip-cascade');
    END IF;
    PERFORM pgmq.archive(v_flow_slug, v_message_id);
END;
$$;
