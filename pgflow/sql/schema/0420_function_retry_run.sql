-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'retry'), and return it. The original is left as
-- it is; each call starts one more run. The new run has no idempotency key (the key stays with the original).
-- It continues the original's trace (runs.trace_context copied) and keeps a concurrency key
-- that a Python function gave (pgflow._run_to_rerun sets both as run options; other run options
-- the caller set apply as to start_flow).
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
    v_original := pgflow._run_to_rerun(p_run_id, 'retry');

    SELECT * INTO v_run FROM pgflow.start_flow(v_original.flow_slug, v_original.input);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id, retry_kind = 'retry' WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;
