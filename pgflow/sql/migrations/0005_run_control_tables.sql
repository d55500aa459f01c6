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
