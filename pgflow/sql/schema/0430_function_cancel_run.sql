-- Cancel a run (pgflow-py addition; client.cancel_run and `pgflow runs cancel` call it). A run
-- that is still going ends at once: it becomes a failed run (status 'failed', failed_at) that
-- also records cancelled_at and the reason, so a TypeScript worker or tool sees a failed run and
-- its late complete_task / fail_task calls are ignored as for any failed run
-- (docs/reference/compatibility.md). Its started steps fail with the message 'Run cancelled'
-- (and the reason); steps not yet started stay 'created' and never start; every task not yet
-- finished is cancelled and its message archived (pgflow._end_active_tasks). Emits step:failed
-- for each started step, run:cancelled, then run:failed - the run's last event, as for any failed
-- run, so listeners that know only upstream's events see the run end.
-- Idempotent: a run that is already over is left as it is (cancelled = false). Raises PF002 for
-- an unknown run.
-- Locks: the run's started step states first (ordered by step), then the run - the order of
-- complete_task(s) and fail_task - so a cancel racing a report waits for it, or the report
-- waits for the cancel and then finds the run over.
CREATE OR REPLACE FUNCTION pgflow.cancel_run(run_id uuid, reason text DEFAULT NULL)
RETURNS TABLE (cancelled boolean, status text, cancelled_at timestamptz)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_state pgflow.step_states;
    v_message text := 'Run cancelled' || coalesce(': ' || cancel_run.reason, '');
BEGIN
    PERFORM 1
       FROM (SELECT 1 FROM pgflow.step_states AS ss
              WHERE ss.run_id = cancel_run.run_id AND ss.status = 'started'
              ORDER BY ss.step_slug FOR UPDATE OF ss) AS locked;

    UPDATE pgflow.runs AS r
       SET status = 'failed', failed_at = now(), cancelled_at = now(), cancel_reason = cancel_run.reason
     WHERE r.run_id = cancel_run.run_id AND NOT pgflow._is_terminal(r.status)
    RETURNING r.* INTO v_run;

    IF NOT FOUND THEN
        SELECT r.* INTO v_run FROM pgflow.runs AS r WHERE r.run_id = cancel_run.run_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PF002',
                MESSAGE = format('run %s not found', cancel_run.run_id),
                HINT = 'check the run id (the run may have been pruned)';
        END IF;
        RETURN QUERY SELECT false, v_run.status, v_run.cancelled_at;
        RETURN;
    END IF;

    FOR v_state IN
        UPDATE pgflow.step_states AS ss
           SET status = 'failed', error_message = v_message, failed_at = v_run.failed_at
         WHERE ss.run_id = cancel_run.run_id AND ss.status = 'started'
        RETURNING ss.*
    LOOP
        PERFORM pgflow._emit(pgflow._step_event('step:failed', v_state));
    END LOOP;

    PERFORM pgflow._end_active_tasks(cancel_run.run_id, 'cancelled');

    PERFORM pgflow._emit(pgflow._run_event('run:cancelled', v_run));
    PERFORM pgflow._emit(pgflow._run_event('run:failed', v_run, v_message));

    -- pgflow-py (subflows): cancelling a run cancels its children still going; a cancelled
    -- child fails its parent's task
    PERFORM pgflow.cancel_run(c.run_id, 'its parent run was cancelled')
       FROM pgflow.runs AS c
      WHERE c.parent_run_id = cancel_run.run_id AND c.status = 'started';
    IF v_run.parent_run_id IS NOT NULL THEN
        PERFORM pgflow._on_child_run_ended(cancel_run.run_id);
    END IF;
    RETURN QUERY SELECT true, v_run.status, v_run.cancelled_at;
END;
$$;
