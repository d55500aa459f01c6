-- Skip the given steps of a run (those not yet completed, failed or skipped) for one reason,
-- without deciding their dependents' fate: dependents just lose a dependency, and a dependent
-- map step gets zero tasks (pgflow._release_dependents). Archives the messages of the skipped
-- steps' unfinished tasks, counts the skipped steps off the run's remaining_steps and emits
-- step:skipped for each. Returns how many steps were skipped.
CREATE OR REPLACE FUNCTION pgflow._skip_steps(p_run_id uuid, p_step_slugs text[], p_skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    WITH skipped AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'skipped', skip_reason = p_skip_reason, skipped_at = now(), remaining_tasks = NULL
         WHERE ss.run_id = p_run_id
           AND ss.step_slug = ANY (p_step_slugs)
           AND ss.status IN ('created', 'started')
        RETURNING ss.step_slug,
            pgflow._emit(jsonb_build_object(
                'event_type', 'step:skipped', 'run_id', ss.run_id, 'flow_slug', ss.flow_slug,
                'step_slug', ss.step_slug, 'status', 'skipped',
                'skip_reason', ss.skip_reason, 'skipped_at', ss.skipped_at)) AS emitted
    )
    SELECT array_agg(skipped.step_slug) INTO v_skipped FROM skipped;
    IF v_skipped IS NULL THEN
        RETURN 0;
    END IF;

    PERFORM pgflow._release_dependents(p_run_id, v_skipped);
    PERFORM pgflow._archive_active_messages(p_run_id, v_skipped);
    UPDATE pgflow.runs AS r
       SET remaining_steps = r.remaining_steps - cardinality(v_skipped)
     WHERE r.run_id = p_run_id;
    RETURN cardinality(v_skipped);
END;
$$;
