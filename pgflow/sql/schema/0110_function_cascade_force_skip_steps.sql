-- Skip a step and everything downstream of it in one go: the step itself gets skip_reason,
-- every step that depends on it (directly or transitively) gets 'dependency_skipped'. Steps
-- already completed, failed or skipped keep their state. Messages of the skipped steps'
-- unfinished tasks are archived, the run's remaining_steps drops by the number of skipped steps,
-- and step:skipped is emitted for each. Returns how many steps were skipped.
-- Called for when_unmet / when_exhausted = 'skip-cascade'.
CREATE OR REPLACE FUNCTION pgflow._cascade_force_skip_steps(run_id uuid, step_slug text, skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    WITH RECURSIVE subtree (step_slug) AS (
        SELECT _cascade_force_skip_steps.step_slug
        UNION
        SELECT d.step_slug
          FROM subtree AS t
          JOIN pgflow.deps AS d ON d.dep_slug = t.step_slug
          JOIN pgflow.runs AS r ON r.flow_slug = d.flow_slug
         WHERE r.run_id = _cascade_force_skip_steps.run_id
    ),
    skipped AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'skipped',
               skip_reason = CASE WHEN ss.step_slug = _cascade_force_skip_steps.step_slug
                                  THEN _cascade_force_skip_steps.skip_reason
                                  ELSE 'dependency_skipped' END,
               skipped_at = now(),
               remaining_tasks = NULL
          FROM subtree AS t
         WHERE ss.run_id = _cascade_force_skip_steps.run_id
           AND ss.step_slug = t.step_slug
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

    PERFORM pgflow._archive_active_messages(_cascade_force_skip_steps.run_id, v_skipped);
    UPDATE pgflow.runs AS r
       SET remaining_steps = r.remaining_steps - cardinality(v_skipped)
     WHERE r.run_id = _cascade_force_skip_steps.run_id;
    RETURN cardinality(v_skipped);
END;
$$;
