-- One batch of a bulk operation (pgflow-py addition; client.cancel_runs, retry_runs and
-- resume_runs call it once per batch, each batch its own transaction): p_action 'cancel'
-- (cancel_run with p_reason), 'retry' (retry_run) or 'resume' (resume_run with p_force) on each
-- run of p_run_ids, in order. One row per run: done (false when there was nothing to do: a
-- run already over for cancel, a run refused for retry/resume), the new run of a retry or
-- resume, and a message saying why not. A run that cannot be acted on (PF002 gone meanwhile,
-- PF003 input no longer fits, PF005 not failed or a changed flow) is rolled back alone and
-- reported; the other runs of the batch go on. Any other error ends the batch.
CREATE OR REPLACE FUNCTION pgflow._act_on_runs(p_action text, p_run_ids uuid[], p_reason text, p_force boolean)
RETURNS TABLE (run_id uuid, done boolean, new_run_id uuid, message text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_id uuid;
    v_cancel record;
BEGIN
    IF p_action NOT IN ('cancel', 'retry', 'resume') THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('unknown bulk action %L', p_action),
            HINT = 'use cancel, retry or resume';
    END IF;
    FOREACH v_id IN ARRAY coalesce(p_run_ids, '{}') LOOP
        run_id := v_id;
        new_run_id := NULL;
        message := NULL;
        BEGIN
            IF p_action = 'cancel' THEN
                SELECT * INTO v_cancel FROM pgflow.cancel_run(v_id, p_reason);
                done := v_cancel.cancelled;
                IF NOT done THEN
                    message := format('already over (%s)', v_cancel.status);
                END IF;
            ELSIF p_action = 'retry' THEN
                SELECT r.run_id INTO new_run_id FROM pgflow.retry_run(v_id) AS r;
                done := true;
            ELSE
                SELECT r.run_id INTO new_run_id FROM pgflow.resume_run(v_id, coalesce(p_force, false)) AS r;
                done := true;
            END IF;
        EXCEPTION WHEN SQLSTATE 'PF002' OR SQLSTATE 'PF003' OR SQLSTATE 'PF005' THEN
            done := false;
            new_run_id := NULL;
            message := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END;
$$;
