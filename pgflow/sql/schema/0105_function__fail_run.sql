-- Fail one step and, with it, its run: the step keeps the error message, the run is marked
-- failed at once (parallel branches are not waited for) and every task of the run still queued
-- or started is cancelled, its message archived, so workers pick up none of them
-- (pgflow._end_active_tasks; the caller has already ended the task that failed, if any). Emits
-- step:failed, then run:failed. A run that is no longer started is left alone, so a replay
-- changes and emits nothing.
-- Used by cascade_resolve_conditions for unmet 'fail' conditions; complete_task and fail_task
-- may use it for their failure paths.
CREATE OR REPLACE FUNCTION pgflow._fail_run(p_run_id uuid, p_step_slug text, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_state pgflow.step_states;
BEGIN
    UPDATE pgflow.runs AS r
       SET status = 'failed', failed_at = now()
     WHERE r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
    RETURNING r.* INTO v_run;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    UPDATE pgflow.step_states AS ss
       SET status = 'failed', error_message = p_error_message, failed_at = v_run.failed_at
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug AND NOT pgflow._is_terminal(ss.status)
    RETURNING ss.* INTO v_state;
    IF FOUND THEN
        PERFORM pgflow._emit(pgflow._step_event('step:failed', v_state));
    END IF;

    PERFORM pgflow._emit(pgflow._run_event('run:failed', v_run, p_error_message, p_step_slug));

    PERFORM pgflow._end_active_tasks(p_run_id, 'cancelled');

    -- pgflow-py (subflows): the run's children still going are cancelled, and a child run fails
    -- its parent's task
    PERFORM pgflow.cancel_run(c.run_id, 'its parent run failed')
       FROM pgflow.runs AS c
      WHERE c.parent_run_id = p_run_id AND c.status = 'started';
    IF v_run.parent_run_id IS NOT NULL THEN
        PERFORM pgflow._on_child_run_ended(p_run_id);
    END IF;
END;
$$;
