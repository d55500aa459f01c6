-- Indexes for the dashboard's read paths (pgflow.web). Each one serves a bounded, ordered read
-- so pages stay fast on millions of runs; none covers a column the engine updates often, so
-- progress updates of a run (remaining_steps) stay HOT.
--
-- Runs list, newest first, keyset-paginated on (started_at, run_id); overview windows.
CREATE INDEX idx_runs_started_at ON pgflow.runs (started_at, run_id);
-- Runs of one flow, newest first (runs list filtered by flow, flow page, previous/next run).
CREATE INDEX idx_runs_flow_started_at ON pgflow.runs (flow_slug, started_at, run_id);
-- Runs in one status, newest first (runs list filtered by status, recent failures).
CREATE INDEX idx_runs_status_started_at ON pgflow.runs (status, started_at, run_id);
-- A worker's recent tasks (worker page).
CREATE INDEX idx_step_tasks_worker_started_at ON pgflow.step_tasks (last_worker_id, started_at)
    WHERE last_worker_id IS NOT NULL;
-- Recent step failures by step (overview), read from the index alone.
CREATE INDEX idx_step_states_failed_at ON pgflow.step_states (failed_at) INCLUDE (flow_slug, step_slug)
    WHERE status = 'failed';
