-- pgflow-py migration 0015_flow_keys: per-key concurrency (flow control), written by hand; the
-- generated 0018_functions adds the functions that fill and read it.

-- ============================================================================================
-- runs.concurrency_key: the run's key for max_running_per_key ('' = the input lacked it, NULL =
-- the flow had no key when the run started). Nullable without a default: PostgreSQL 15 refuses a
-- default on a table whose row type a SQL-standard function takes (see 0008).
-- ============================================================================================

ALTER TABLE pgflow.runs ADD COLUMN concurrency_key text;

CREATE INDEX idx_runs_concurrency_key ON pgflow.runs (flow_slug, concurrency_key, started_at)
    WHERE concurrency_key IS NOT NULL AND status = 'started';

-- _claim_room gains an output column (keyed_flow): CREATE OR REPLACE cannot change a function's
-- result type, so the old one goes first (0018_functions creates the new one; claim_tasks, its
-- only caller, is replaced there too).
DROP FUNCTION pgflow._claim_room(text);
