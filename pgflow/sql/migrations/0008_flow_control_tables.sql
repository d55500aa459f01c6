-- pgflow-py migration 0008_flow_control_tables: the table of flow control (pause and limits,
-- enforced at claim time) and the runs' priority, written by hand; the generated 0013_functions
-- adds its functions and the claim's changes.

-- ============================================================================================
-- Flow control: one row per flow that is paused or limited (no row = the claim's fast path)
-- ============================================================================================

CREATE TABLE pgflow.flow_controls (
    flow_slug text PRIMARY KEY REFERENCES pgflow.flows (flow_slug) ON DELETE CASCADE,
    limits jsonb NOT NULL DEFAULT '{}',
    declared jsonb,
    paused_at timestamptz,
    pause_reason text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT limits_is_object CHECK (jsonb_typeof(limits) = 'object'),
    CONSTRAINT declared_is_object CHECK (declared IS NULL OR jsonb_typeof(declared) = 'object'),
    CONSTRAINT pause_reason_only_when_paused CHECK (pause_reason IS NULL OR paused_at IS NOT NULL)
);

CREATE TABLE pgflow.flow_rate_state (
    flow_slug text NOT NULL REFERENCES pgflow.flows (flow_slug) ON DELETE CASCADE,
    step_slug text NOT NULL,
    tat timestamptz NOT NULL,
    PRIMARY KEY (flow_slug, step_slug)
);

-- ============================================================================================
-- Priorities: runs.priority (0 = the default lane; existing runs keep NULL, which is the default
-- lane too: PostgreSQL 15 refuses to add a column with a default, or NOT NULL, to a table whose
-- row type a SQL-standard function such as pgflow._run_event takes), and the started runs above
-- it by flow (claim_tasks reads their queued tasks first)
-- ============================================================================================

ALTER TABLE pgflow.runs
    ADD COLUMN priority int,
    ADD CONSTRAINT priority_is_in_range CHECK (priority BETWEEN 0 AND 1000);
ALTER TABLE pgflow.runs ALTER COLUMN priority SET DEFAULT 0;

CREATE INDEX idx_runs_prioritized ON pgflow.runs (flow_slug, priority DESC, started_at)
    WHERE priority > 0 AND status = 'started';
