-- The audit of run control done from the dashboard (pgflow-py addition; pgflow.web.actions):
-- one row per action and run - who (the name the dashboard's auth hook gave), when, what
-- ('cancel', 'retry', 'resume', or an action another part declares), on which run or flow,
-- and how it ended ('done', 'nothing to do', 'failed') with a detail (the new run's id, the
-- reason, the error). No foreign keys: the audit outlives a pruned run or a deleted flow.
-- The run page shows a run's rows.

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

-- A run's actions, newest first (the run page).
CREATE INDEX idx_run_actions_run_id ON pgflow.run_actions (run_id, at) WHERE run_id IS NOT NULL;
