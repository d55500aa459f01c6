-- The run that retry_run or resume_run (p_action: 'retry', 'resume') starts again, locked: it
-- must exist (PF002) and have failed - a cancelled run is a failed one with cancelled_at set -
-- (PF005 "nothing to <action>" for a run still going or completed, with what to do instead).
-- Also sets the new run's options (pgflow._run_options(), merged into the caller's, if any): it
-- continues the original's trace (trace_context), and keeps the original's concurrency key when
-- the flow's per-key limits take it from a Python function (no concurrency_key path: the
-- database cannot evaluate it again, so the new run would otherwise fall into the no-key group
-- ''); a key the caller's options give wins, and a path-keyed flow reads the key from the input
-- as any start does. The settings are transaction-local: an error undoes them with the rest.
CREATE OR REPLACE FUNCTION pgflow._run_to_rerun(p_run_id uuid, p_action text)
RETURNS pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
BEGIN
    SELECT * INTO v_run FROM pgflow.runs AS r WHERE r.run_id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002',
            MESSAGE = format('run %s not found', p_run_id),
            HINT = 'check the run id (the run may have been pruned)';
    END IF;
    IF v_run.status <> 'failed' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('nothing to %s: run %s is %s', p_action, p_run_id, v_run.status),
            HINT = CASE WHEN v_run.status = 'completed'
                        THEN 'a completed run has its output; start a new run to run the flow again'
                        ELSE format('the run is still going; wait for it to end, or cancel it, then %s', p_action) END;
    END IF;
    PERFORM set_config('pgflow.run_options', (
        jsonb_strip_nulls(jsonb_build_object('concurrency_key', (
            SELECT v_run.concurrency_key FROM pgflow.flow_controls AS c
             WHERE c.flow_slug = v_run.flow_slug AND NOT c.limits ? 'concurrency_key'
               AND c.limits ?| ARRAY['max_running_per_key', 'rate_limit_per_key'])))
        || coalesce(pgflow._run_options(), '{}')
        || jsonb_strip_nulls(jsonb_build_object('trace_context', v_run.trace_context)))::text, true);
    RETURN v_run;
END;
$$;
