-- Mark steps of a run skipped, each for its own reason: p_step_slugs[i] gets skip_reason
-- p_skip_reasons[i] when it is not completed, failed or skipped yet, and step:skipped is emitted
-- for it. The skipped steps' unfinished (queued or started) tasks become 'skipped' and their
-- messages are archived (pgflow._end_active_tasks), and the run's remaining_steps drops by their
-- number. Dependents are left to the caller: _skip_steps
-- releases them, _cascade_force_skip_steps skips them too.
-- Returns the slugs of the steps it skipped (NULL when none).
CREATE OR REPLACE FUNCTION pgflow._mark_steps_skipped(p_run_id uuid, p_step_slugs text[], p_skip_reasons text[])
RETURNS text[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    WITH skipped AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'skipped', skip_reason = given.skip_reason, skipped_at = now(), remaining_tasks = NULL
          FROM unnest(p_step_slugs, p_skip_reasons) AS given (step_slug, skip_reason)
         WHERE ss.run_id = p_run_id
           AND ss.step_slug = given.step_slug
           AND NOT pgflow._is_terminal(ss.status)
        RETURNING ss.step_slug, pgflow._emit(pgflow._step_event('step:skipped', ss)) AS emitted
    )
    SELECT array_agg(skipped.step_slug) INTO v_skipped FROM skipped;
    IF v_skipped IS NOT NULL THEN
        PERFORM pgflow._end_active_tasks(p_run_id, 'skipped', v_skipped);
        UPDATE pgflow.runs AS r
           SET remaining_steps = r.remaining_steps - cardinality(v_skipped)
         WHERE r.run_id = p_run_id;
    END IF;
    RETURN v_skipped;
END;
$$;
