-- Move a run on after one of its steps finished: settle the conditions of steps that became
-- ready, complete taskless ones, start the rest and complete the run when nothing is left.
-- Stops after the conditions when an unmet 'fail' condition failed the run.
CREATE OR REPLACE FUNCTION pgflow._advance_run(p_run_id uuid)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF pgflow.cascade_resolve_conditions(p_run_id) THEN
        PERFORM pgflow.cascade_complete_taskless_steps(p_run_id);
        PERFORM pgflow.start_ready_steps(p_run_id);
        PERFORM pgflow.maybe_complete_run(p_run_id);
    END IF;
END;
$$;
