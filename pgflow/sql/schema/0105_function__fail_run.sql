-- Fail one step and, with it, its run: the step keeps the error message, the run is marked
-- failed at once (parallel branches are not waited for) and every message still in flight for
-- the run is archived, so workers pick up none of its remaining tasks. Emits step:failed, then
-- run:failed. A run that is no longer started is left alone.
-- Used by cascade_resolve_conditions for unmet 'fail' conditions; complete_task and fail_task
-- may use it for their failure paths.
CREATE OR REPLACE FUNCTION pgflow._fail_run(p_run_id uuid, p_step_slug text, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text;
    v_failed_at timestamptz;
BEGIN
    UPDATE pgflow.runs AS r
       SET status = 'failed', failed_at = now()
     WHERE r.run_id = p_run_id AND r.status = 'started'
    RETURNING r.flow_slug, r.failed_at INTO v_flow_slug, v_failed_at;
    IF v_flow_slug IS NULL THEN
        RETURN;
    END IF;

    UPDATE pgflow.step_states AS ss
       SET status = 'failed', error_message = p_error_message, failed_at = v_failed_at
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug AND ss.status IN ('created', 'started');
    IF FOUND THEN
        PERFORM pgflow._emit(jsonb_build_object(
            'event_type', 'step:failed', 'run_id', p_run_id, 'flow_slug', v_flow_slug,
            'step_slug', p_step_slug, 'status', 'failed',
            'error_message', p_error_message, 'failed_at', v_failed_at));
    END IF;

    PERFORM pgflow._emit(jsonb_build_object(
        'event_type', 'run:failed', 'run_id', p_run_id, 'flow_slug', v_flow_slug,
        'status', 'failed', 'error_message', p_error_message,
        'failed_at', v_failed_at, 'failed_step_slug', p_step_slug));

    PERFORM pgflow._archive_active_messages(p_run_id);
END;
$$;
