-- Skip the given steps of a run (those not yet completed, failed or skipped) for one reason,
-- without deciding their dependents' fate: dependents just lose a dependency, and a dependent
-- map step gets zero tasks (pgflow._release_dependents). The skipped steps' unfinished tasks
-- become 'skipped' with their messages archived, the run's remaining_steps drops by the number
-- of skipped steps, and step:skipped is emitted for each (pgflow._mark_steps_skipped). Returns
-- how many steps were skipped.
CREATE OR REPLACE FUNCTION pgflow._skip_steps(p_run_id uuid, p_step_slugs text[], p_skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    v_skipped := pgflow._mark_steps_skipped(
        p_run_id, p_step_slugs, array_fill(p_skip_reason, ARRAY[coalesce(cardinality(p_step_slugs), 0)]));
    IF v_skipped IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pgflow._release_dependents(p_run_id, v_skipped);
    RETURN cardinality(v_skipped);
END;
$$;
