-- A task of a step with when_exhausted 'skip' or 'skip-cascade' used up its attempts: the step
-- is skipped (skip_reason 'handler_failed', keeping the error message; step:skipped), its other
-- unfinished tasks become 'skipped' with their messages archived, and the run goes on without it -
-- dependents lose one dependency (a dependent map step gets zero tasks), or with
-- 'skip-cascade' everything downstream is skipped too. The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._skip_failed_step(
    p_run_id uuid, p_step_slug text, p_error_message text, p_cascade boolean)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_state pgflow.step_states;
BEGIN
    UPDATE pgflow.step_states AS ss
       SET status = 'skipped', skip_reason = 'handler_failed', skipped_at = now(),
           remaining_tasks = NULL, error_message = p_error_message
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug AND ss.status = 'started'
    RETURNING ss.* INTO v_state;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pgflow._emit(pgflow._step_event('step:skipped', v_state));

    PERFORM pgflow._end_active_tasks(p_run_id, 'skipped', ARRAY[p_step_slug]);
    UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = p_run_id;
    IF p_cascade THEN
        PERFORM pgflow._cascade_force_skip_steps(p_run_id, p_step_slug, 'handler_failed');
    ELSE
        PERFORM pgflow._release_dependents(p_run_id, ARRAY[p_step_slug]);
    END IF;
    PERFORM pgflow._advance_run(p_run_id);
END;
$$;
