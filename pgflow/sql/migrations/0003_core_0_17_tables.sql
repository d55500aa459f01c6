-- pgflow-py migration 0003_core_0_17_tables: the tables, constraints, indexes and data repairs
-- of pgflow core 0.15-0.17 (written by hand; 0004 replaces the functions).

-- ============================================================================================
-- Workers (core 0.15.0, 0.17.1): worker_functions.start_mode, the two-argument
-- track_worker_function (replacing the one-argument form, which a one-argument call still
-- reaches through the default), workers.pgflow_version
-- ============================================================================================

ALTER TABLE pgflow.worker_functions
    ADD COLUMN start_mode text NOT NULL DEFAULT 'http',
    ADD CONSTRAINT worker_functions_start_mode_check CHECK (start_mode IN ('http', 'process'));
ALTER TABLE pgflow.workers ADD COLUMN pgflow_version text;
DROP FUNCTION pgflow.track_worker_function(text);

-- ============================================================================================
-- Task lifecycle (core 0.15.1): task statuses 'skipped' and 'cancelled', upstream's names for
-- the runtime tables' constraints, and the repair of tasks the old skip and failure paths left
-- queued or started (their messages were archived then; none is archived again)
-- ============================================================================================

ALTER TABLE pgflow.step_tasks
    DROP CONSTRAINT valid_status,
    ADD CONSTRAINT valid_status
        CHECK (status IN ('queued', 'started', 'completed', 'failed', 'skipped', 'cancelled'));
ALTER TABLE pgflow.step_tasks
    RENAME CONSTRAINT output_valid_only_for_completed_or_failed TO output_valid_only_for_completed;
ALTER TABLE pgflow.runs RENAME CONSTRAINT remaining_steps_valid TO runs_remaining_steps_check;
ALTER TABLE pgflow.step_states RENAME CONSTRAINT output_only_for_completed TO output_only_for_completed_or_null;
ALTER TABLE pgflow.step_states
    RENAME CONSTRAINT completed_at_or_failed_at TO completed_at_or_failed_at_or_skipped_at;
ALTER TABLE pgflow.step_states RENAME CONSTRAINT remaining_deps_valid TO step_states_remaining_deps_check;
ALTER TABLE pgflow.step_states RENAME CONSTRAINT initial_tasks_nonnegative TO step_states_initial_tasks_check;

-- first the tasks of skipped steps (whatever their run's status), then what is left unfinished
-- in failed runs
UPDATE pgflow.step_tasks AS t
   SET status = 'skipped'
  FROM pgflow.step_states AS ss
 WHERE ss.run_id = t.run_id AND ss.step_slug = t.step_slug
   AND ss.status = 'skipped'
   AND t.status IN ('queued', 'started');
UPDATE pgflow.step_tasks AS t
   SET status = 'cancelled'
  FROM pgflow.runs AS r
 WHERE r.run_id = t.run_id
   AND r.status = 'failed'
   AND t.status IN ('queued', 'started');
