-- A run and the states of its steps as one JSON document: {"run": <runs row>, "steps":
-- [<step_states rows> in step order]}. SECURITY DEFINER so a client role needs EXECUTE on this
-- function only. Raises PF002 for an unknown run id.
CREATE OR REPLACE FUNCTION pgflow.get_run_with_states(run_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_result jsonb;
BEGIN
    SELECT jsonb_build_object(
               'run', to_jsonb(r),
               'steps', coalesce(
                   (SELECT jsonb_agg(to_jsonb(ss) ORDER BY s.step_index)
                      FROM pgflow.step_states AS ss
                      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
                     WHERE ss.run_id = r.run_id),
                   '[]'::jsonb))
      INTO v_result
      FROM pgflow.runs AS r
     WHERE r.run_id = get_run_with_states.run_id;
    IF v_result IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF002',
            MESSAGE = format('run %s not found', get_run_with_states.run_id),
            HINT = 'Check the run id; runs older than the retention period may have been pruned.';
    END IF;
    RETURN v_result;
END;
$$;
