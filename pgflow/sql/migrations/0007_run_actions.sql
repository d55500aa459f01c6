-- pgflow-py migration 0007_run_actions: the tables, columns and indexes of the rest of run
-- control (bulk operations, lineage, dashboard actions), written by hand; the generated
-- 0013_functions replaces the functions.

-- ============================================================================================
-- Lineage: runs.retry_kind tells a retry ('retry') from a resume ('resume') of the run that
-- retry_of names; runs started again before this column keep NULL (which of the two cannot be
-- told afterwards). The runs that retry a run are found by an index (bulk retry/resume skip runs
-- already started again; the run page links to them).
-- ============================================================================================

ALTER TABLE pgflow.runs
    ADD COLUMN retry_kind text,
    ADD CONSTRAINT retry_kind_is_valid
        CHECK (retry_kind IS NULL OR (retry_kind IN ('retry', 'resume') AND retry_of IS NOT NULL));

CREATE INDEX idx_runs_retry_of ON pgflow.runs (retry_of) WHERE retry_of IS NOT NULL;

-- ============================================================================================
-- Dashboard actions: the audit table (who, when, what, which run, outcome)
-- ============================================================================================

CREATE TABLE pgflow.run_actions (
    action_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    run_id uuid,
    flow_slug text,
    outcome text NOT NULL,
    detail text,
    new_run_id uuid,
    CONSTRAINT outcome_is_valid CHECK (outcome IN ('done', 'nothing to do', 'failed'))
);

CREATE INDEX idx_run_actions_run_id ON pgflow.run_actions (run_id, at) WHERE run_id IS NOT NULL;
