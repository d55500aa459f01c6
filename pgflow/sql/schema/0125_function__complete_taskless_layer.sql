-- One round of cascade_complete_taskless_steps: complete every ready step of a started run that
-- has zero tasks (a map over an empty array) with output [] (map) or null (single) and
-- step:completed; its dependents lose a dependency and dependent maps get zero tasks too
-- (pgflow._release_dependents); the completed steps are counted off remaining_steps.
-- Returns how many steps were completed.
CREATE OR REPLACE FUNCTION pgflow._complete_taskless_layer(p_run_id uuid)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_done text[];
BEGIN
    WITH done AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'completed',
               started_at = now(),
               completed_at = now(),
               remaining_tasks = 0,
               output = CASE WHEN s.step_type = 'map' THEN '[]'::jsonb END
          FROM pgflow.steps AS s, pgflow.runs AS r
         WHERE ss.run_id = p_run_id
           AND r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks = 0
           AND s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
        RETURNING ss.step_slug, pgflow._emit(pgflow._step_event('step:completed', ss)) AS emitted
    )
    SELECT array_agg(done.step_slug) INTO v_done FROM done;
    IF v_done IS NULL THEN
        RETURN 0;
    END IF;

    PERFORM pgflow._release_dependents(p_run_id, v_done);
    UPDATE pgflow.runs AS r
       SET remaining_steps = r.remaining_steps - cardinality(v_done)
     WHERE r.run_id = p_run_id;
    RETURN cardinality(v_done);
END;
$$;
