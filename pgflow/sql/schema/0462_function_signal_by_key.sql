-- pgflow-py addition (durable waits): pgflow.signal for the run of p_flow_slug started with
-- p_signal_key (run option signal_key; e.g. an order id, for a webhook that knows its own id
-- but not the run's). The run still going takes it; when none is, the latest run with the key
-- (so a late signal is reported as a duplicate, or refused because that run is over).
-- Errors: PF002 no run of the flow has the key; PF005 several runs still going share it (send
-- by run id); then as pgflow.signal.
CREATE OR REPLACE FUNCTION pgflow.signal_by_key(flow_slug text, signal_key text, step_slug text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_runs uuid[];
    v_run_id uuid;
BEGIN
    SELECT array_agg(r.run_id ORDER BY r.started_at DESC) INTO v_runs
      FROM pgflow.runs AS r
     WHERE r.flow_slug = signal_by_key.flow_slug AND r.signal_key = signal_by_key.signal_key
       AND r.status = 'started';
    IF cardinality(v_runs) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('%s runs of flow %L still going have signal key %L (%s)', cardinality(v_runs),
                             signal_by_key.flow_slug, signal_by_key.signal_key, array_to_string(v_runs[1:3], ', ')),
            HINT = 'send the signal by run id, or start one run per key (idempotency_key= does that)';
    END IF;
    v_run_id := v_runs[1];
    IF v_run_id IS NULL THEN
        SELECT r.run_id INTO v_run_id
          FROM pgflow.runs AS r
         WHERE r.flow_slug = signal_by_key.flow_slug AND r.signal_key = signal_by_key.signal_key
         ORDER BY r.started_at DESC
         LIMIT 1;
    END IF;
    IF v_run_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002',
            MESSAGE = format('no run of flow %L has signal key %L', signal_by_key.flow_slug, signal_by_key.signal_key),
            HINT = 'start the run with signal_key=... (or send the signal by run id)';
    END IF;
    RETURN pgflow.signal(v_run_id, signal_by_key.step_slug, signal_by_key.payload);
END;
$$;
