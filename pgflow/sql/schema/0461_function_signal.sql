-- pgflow-py addition (durable waits): send a signal to a signal step of a run. Its payload
-- becomes the step's output (dependents receive it as any step's output). Outcomes, returned
-- as {"run_id", "step_slug", "outcome", "received_at"}:
--   'delivered' - the step was waiting: it completes now (task:completed, step:completed, the
--                 next steps start) in this transaction;
--   'kept'      - the step is not waiting yet (the steps it depends on are not done, or its run
--                 is enqueued for later): the signal is kept and delivered when it waits
--                 (a step with early_signals 'reject' raises PF005 instead);
--   'duplicate' - a signal for this run and step came first (received_at is its time): the
--                 first one wins, this one changes nothing.
-- Errors: PF002 unknown run; PF003 a NULL payload, a step the flow does not have or one that is
-- not a signal step; PF005 the run is over, or the step no longer waits (timed out, skipped).
-- Locks the step state, then the run (the order of complete_task and cancel_run).
CREATE OR REPLACE FUNCTION pgflow.signal(run_id uuid, step_slug text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text;
    v_kind text;
    v_early text;
    v_step_status text;
    v_waiting boolean;
    v_run_status text;
    v_first pgflow.signals;
    v_signals text;
BEGIN
    IF signal.payload IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('the signal for step %L has no payload', signal.step_slug),
            HINT = 'send a JSON value (''null''::jsonb for none)';
    END IF;
    SELECT r.flow_slug INTO v_flow_slug FROM pgflow.runs AS r WHERE r.run_id = signal.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002', MESSAGE = format('run %s not found', signal.run_id),
            HINT = 'check the run id (the run may have been pruned)';
    END IF;
    SELECT ws.wait_kind, ws.early_signals INTO v_kind, v_early
      FROM pgflow.wait_steps AS ws
     WHERE ws.flow_slug = v_flow_slug AND ws.step_slug = signal.step_slug;
    IF v_kind IS DISTINCT FROM 'signal' THEN
        SELECT string_agg(format('%L', ws.step_slug), ', ' ORDER BY s.step_index) INTO v_signals
          FROM pgflow.wait_steps AS ws
          JOIN pgflow.steps AS s ON s.flow_slug = ws.flow_slug AND s.step_slug = ws.step_slug
         WHERE ws.flow_slug = v_flow_slug AND ws.wait_kind = 'signal';
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('step %L of flow %L %s', signal.step_slug, v_flow_slug,
                             CASE WHEN v_kind IS NOT NULL THEN format('is a %s step, not a signal step', v_kind)
                                  WHEN EXISTS (SELECT 1 FROM pgflow.steps AS s
                                                WHERE s.flow_slug = v_flow_slug AND s.step_slug = signal.step_slug)
                                  THEN 'is not a signal step (a worker runs its handler)'
                                  ELSE 'does not exist' END),
            HINT = coalesce(format('its signal steps: %s', v_signals), format('flow %L has no signal step', v_flow_slug));
    END IF;

    SELECT ss.status INTO v_step_status
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = signal.run_id AND ss.step_slug = signal.step_slug
       FOR UPDATE;
    -- a started step waits unless its wait has not begun (due_at = since: a run enqueued for later)
    v_waiting := v_step_status = 'started'
                 AND NOT EXISTS (SELECT 1 FROM pgflow.waits AS w
                                  WHERE w.run_id = signal.run_id AND w.step_slug = signal.step_slug
                                    AND w.due_at = w.since);
    SELECT sig.* INTO v_first
      FROM pgflow.signals AS sig
     WHERE sig.run_id = signal.run_id AND sig.step_slug = signal.step_slug;
    IF FOUND THEN
        RETURN jsonb_build_object('run_id', signal.run_id, 'step_slug', signal.step_slug,
                                  'outcome', 'duplicate', 'received_at', v_first.received_at);
    END IF;
    SELECT r.status INTO v_run_status FROM pgflow.runs AS r WHERE r.run_id = signal.run_id;
    IF pgflow._is_terminal(v_run_status) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('run %s is %s: a signal can no longer change it', signal.run_id, v_run_status),
            HINT = 'signal a run that is still going (retry_run or resume_run start it again)';
    END IF;
    IF NOT v_waiting AND v_step_status IN ('created', 'started') AND v_early = 'reject' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('step %L of run %s does not wait yet (%s)', signal.step_slug, signal.run_id,
                             CASE WHEN v_step_status = 'created' THEN 'the steps it depends on are not done'
                                  ELSE 'its run is enqueued for later' END),
            HINT = 'this step refuses early signals (early_signals=''reject''); send it again once it waits';
    END IF;
    IF v_step_status NOT IN ('created', 'started') THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('step %L of run %s no longer waits: it is %s', signal.step_slug, signal.run_id,
                             v_step_status),
            HINT = 'a signal step that timed out or was skipped takes no signal';
    END IF;

    INSERT INTO pgflow.signals (run_id, step_slug, payload, delivered_at)
    VALUES (signal.run_id, signal.step_slug, signal.payload,
            CASE WHEN v_waiting THEN now() END)
    RETURNING * INTO v_first;
    IF v_waiting THEN
        PERFORM pgflow._end_wait(signal.run_id, signal.step_slug, 0, signal.payload);
    END IF;
    RETURN jsonb_build_object('run_id', signal.run_id, 'step_slug', signal.step_slug,
                              'outcome', CASE WHEN v_waiting THEN 'delivered' ELSE 'kept' END,
                              'received_at', v_first.received_at);
END;
$$;
