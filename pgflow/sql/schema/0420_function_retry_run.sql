-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original, and return it. The original is left as it is; each call starts
-- one more run. The new run has no idempotency key (the key stays with the original).
-- Only a failed run can be retried (a cancelled run is a failed one with cancelled_at set):
-- nothing is written otherwise.
-- Errors: PF002 unknown run; PF005 a run that is still going or completed ("nothing to retry");
-- then as start_flow (PF003 when the input no longer fits the flow's definition).
CREATE OR REPLACE FUNCTION pgflow.retry_run(p_run_id uuid)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_original pgflow.runs;
    v_run pgflow.runs;
BEGIN
    SELECT * INTO v_original FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002',
            MESSAGE = format('run %s not found', p_run_id),
            HINT = 'check the run id (the run may have been pruned)';
    END IF;
    IF v_original.status <> 'failed' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('nothing to retry: run %s is %s', p_run_id, v_original.status),
            HINT = CASE WHEN v_original.status = 'completed'
                        THEN 'a completed run has its output; start a new run to run the flow again'
                        ELSE 'the run is still going; wait for it to end, or cancel it, then retry' END;
    END IF;

    SELECT * INTO v_run FROM pgflow.start_flow(v_original.flow_slug, v_original.input);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;
