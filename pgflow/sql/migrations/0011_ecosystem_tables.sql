-- pgflow-py migration 0011_ecosystem_tables: what tracing needs in the tables, written by hand;
-- the generated 0013_functions replaces the functions that fill it (_create_run,
-- _start_run_directly).

-- ============================================================================================
-- Tracing: runs.trace_context holds the W3C trace context (traceparent, tracestate) current
-- where the run was started, given through the run options; NULL for every run started without
-- OpenTelemetry, by a TypeScript client, or before this column existed.
-- ============================================================================================

ALTER TABLE pgflow.runs ADD COLUMN trace_context jsonb;
