-- pgflow-py migration 0005_run_control_tables: the tables, columns and indexes of run control
-- (cancel, retry, idempotent starts), written by hand; 0006 (generated) replaces the functions.
-- Each part has its own section below.

-- ============================================================================================
-- Retry and idempotent starts: runs.idempotency_key / idempotency_ttl / retry_of, and one run
-- per flow and live idempotency key
-- ============================================================================================

ALTER TABLE pgflow.runs
    ADD COLUMN idempotency_key text,
    ADD COLUMN idempotency_ttl interval,
    ADD COLUMN retry_of uuid;

CREATE UNIQUE INDEX idx_runs_flow_idempotency_key ON pgflow.runs (flow_slug, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- ============================================================================================
-- Cancel: a cancelled run is a failed run (status 'failed', failed_at) that also records when
-- and why it was cancelled; a TypeScript worker sees a failed run (docs/reference/compatibility.md)
-- ============================================================================================

ALTER TABLE pgflow.runs
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancel_reason text,
    ADD CONSTRAINT cancelled_run_is_failed
        CHECK (cancelled_at IS NULL OR (status = 'failed' AND failed_at IS NOT NULL)),
    ADD CONSTRAINT cancel_reason_only_when_cancelled CHECK (cancel_reason IS NULL OR cancelled_at IS NOT NULL);
