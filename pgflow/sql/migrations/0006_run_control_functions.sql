-- pgflow-py migration 0006_run_control_functions: drafted by scripts/build_migration.py from the schema files changed since e90a3f9

-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
-- 0410_function_start_flow_idempotent.sql
-- Start a run unless one with the same idempotency key already exists for the flow (pgflow-py
-- addition; the clients' start_flow / enqueue with idempotency_key= call it). Returns that
-- existing run as it stands (its input is not compared with p_input), or else the run started
-- as start_flow_at starts it, with the key stored on it.
-- A key is live while its run is active and for p_idempotency_ttl after the run ended (NULL =
-- forever). A start with an expired key clears it from the old run and starts a new one; prune
-- deletes keys with their runs.
-- Race-free: concurrent starts with one key wait for each other on an advisory lock of the
-- (flow, key) pair, so the second sees the first's committed run; the unique index
-- idx_runs_flow_idempotency_key holds the rule whatever the caller does.
-- start_flow keeps upstream's signature and cost: a start without a key never comes here.
-- Errors: PF003 a NULL or empty key, a key over 200 characters, a negative ttl; then as
-- start_flow (PF001 unknown flow, PF003 input).
CREATE OR REPLACE FUNCTION pgflow.start_flow_idempotent(
    p_flow_slug text,
    p_input jsonb,
    p_idempotency_key text,
    p_idempotency_ttl interval DEFAULT interval '24 hours',
    p_start_at timestamptz DEFAULT NULL,
    p_run_id uuid DEFAULT NULL
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
BEGIN
    IF p_idempotency_key IS NULL OR p_idempotency_key = '' OR length(p_idempotency_key) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('idempotency key %s is not valid', coalesce(quote_literal(p_idempotency_key), 'NULL')),
            HINT = 'give a non-empty text of at most 200 characters, or call start_flow / start_flow_at without a key';
    END IF;
    IF p_idempotency_ttl < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('idempotency ttl %s is negative', p_idempotency_ttl),
            HINT = 'give how long the key is kept after the run ends (>= 0), or NULL to keep it forever';
    END IF;

    -- one start per (flow, key) at a time; classid 2 (1 serializes flow definitions)
    PERFORM pg_advisory_xact_lock(2, hashtext(p_flow_slug || E'\n' || p_idempotency_key));

    SELECT * INTO v_run
      FROM pgflow.runs AS r
     WHERE r.flow_slug = p_flow_slug AND r.idempotency_key = p_idempotency_key;

    IF FOUND THEN
        IF NOT (pgflow._is_terminal(v_run.status)
                AND v_run.idempotency_ttl IS NOT NULL
                AND greatest(v_run.completed_at, v_run.failed_at) + v_run.idempotency_ttl <= now()) THEN
            RETURN NEXT v_run;  -- the key is live: this is the run
            RETURN;
        END IF;
        UPDATE pgflow.runs AS r SET idempotency_key = NULL WHERE r.run_id = v_run.run_id;  -- expired
    END IF;

    SELECT * INTO v_run FROM pgflow.start_flow_at(p_flow_slug, p_input, p_start_at, p_run_id);
    UPDATE pgflow.runs AS r
       SET idempotency_key = p_idempotency_key, idempotency_ttl = p_idempotency_ttl
     WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;

-- 0420_function_retry_run.sql
-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original, and return it. The original is left as it is; each call starts
-- one more run. The new run has no idempotency key (the key stays with the original).
-- Only a failed or cancelled run can be retried: nothing is written otherwise.
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
    IF v_original.status NOT IN ('failed', 'cancelled') THEN
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

