-- Skip a step and everything downstream of it in one go: the step itself gets skip_reason,
-- every step that depends on it (directly or transitively) gets 'dependency_skipped'. Steps
-- already completed, failed or skipped keep their state (so a second call changes nothing). The
-- skipped steps' unfinished tasks become 'skipped', then their messages are archived; the run's remaining_steps drops by the number of skipped steps,
-- and step:skipped is emitted for each (pgflow._mark_steps_skipped). Returns how many steps
-- were skipped.
-- Called for when_unmet / when_exhausted = 'skip-cascade'.
CREATE OR REPLACE FUNCTION pgflow._cascade_force_skip_steps(run_id uuid, step_slug text, skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_slugs text[];
    v_reasons text[];
BEGIN
    WITH RECURSIVE subtree (step_slug) AS (
        SELECT _cascade_force_skip_steps.step_slug
        UNION
        SELECT d.step_slug
          FROM subtree AS t
          JOIN pgflow.deps AS d ON d.dep_slug = t.step_slug
          JOIN pgflow.runs AS r ON r.flow_slug = d.flow_slug
         WHERE r.run_id = _cascade_force_skip_steps.run_id
    )
    SELECT array_agg(t.step_slug),
           array_agg(CASE WHEN t.step_slug = _cascade_force_skip_steps.step_slug
                          THEN _cascade_force_skip_steps.skip_reason
                          ELSE 'dependency_skipped' END)
      INTO v_slugs, v_reasons
      FROM subtree AS t;
    RETURN coalesce(cardinality(
        pgflow._mark_steps_skipped(_cascade_force_skip_steps.run_id, v_slugs, v_reasons)), 0);
END;
$$;
