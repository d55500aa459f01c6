-- start_flow, answered with get_run_with_states: the new run and its step states in one JSON
-- document, so a client can subscribe to the run's events first and then apply this snapshot.
-- SECURITY DEFINER, like get_run_with_states. Errors as start_flow.
CREATE OR REPLACE FUNCTION pgflow.start_flow_with_states(flow_slug text, input jsonb, run_id uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_run_id uuid;
BEGIN
    SELECT r.run_id INTO v_run_id
      FROM pgflow.start_flow(start_flow_with_states.flow_slug, start_flow_with_states.input,
                             start_flow_with_states.run_id) AS r;
    RETURN pgflow.get_run_with_states(v_run_id);
END;
$$;
