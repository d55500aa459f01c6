-- Start a run of a flow with the given input (and run id, if the caller chose one): create the
-- run and its step states (run:started), settle the conditions of the root steps, complete
-- taskless steps (maps over []), start the ready steps and complete the run at once when
-- nothing is left to do. Returns the run row as it stands at the end. Runs that need none of
-- these decisions (no root condition, no taskless root) are written by one statement
-- (_start_run_directly) with the same rows and events. Run options set by a Python client
-- (pgflow._run_options) apply to this run and are cleared.
-- Errors: PF001 unknown flow; PF003 NULL input or a non-array input for a root map step.
CREATE OR REPLACE FUNCTION pgflow.start_flow(flow_slug text, input jsonb, run_id uuid DEFAULT NULL)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run_id uuid;
BEGIN
    v_run_id := pgflow._start_run_directly(start_flow.flow_slug, start_flow.input, start_flow.run_id);
    IF v_run_id IS NULL THEN
        PERFORM pgflow._check_run_input(start_flow.flow_slug, start_flow.input);
        v_run_id := pgflow._create_run(start_flow.flow_slug, start_flow.input, start_flow.run_id);

        IF pgflow.cascade_resolve_conditions(v_run_id) THEN
            PERFORM pgflow.cascade_complete_taskless_steps(v_run_id);
            PERFORM pgflow.start_ready_steps(v_run_id);
            PERFORM pgflow.maybe_complete_run(v_run_id);
        END IF;
    END IF;
    IF pgflow._run_options() IS NOT NULL THEN  -- the caller's run options served this run only
        PERFORM set_config('pgflow.run_options', '', true);
    END IF;

    RETURN QUERY SELECT * FROM pgflow.runs AS r WHERE r.run_id = v_run_id;
END;
$$;
