-- pgflow-py migration 0003_core_0_17_tables: the tables, constraints, indexes and data repairs
-- of pgflow core 0.15-0.17 (written by hand; 0004 replaces the functions). It runs in one
-- transaction: when existing data breaks a new rule, it stops with a message that names the
-- flow or step and says what to do, and nothing is changed.

-- ============================================================================================
-- Queue identity (core 0.17): flows.queue_mode, steps.queue_name, step_tasks.queue_name,
-- case-insensitive slug uniqueness, stricter slugs
-- ============================================================================================

-- the rules the new CHECK constraints call (0004 creates them again with the other functions)
CREATE OR REPLACE FUNCTION pgflow.is_valid_slug(slug text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT slug IS NOT NULL
       AND slug <> ''
       AND length(slug) <= 128
       AND slug ~ '^[a-zA-Z]([a-zA-Z0-9_]*[a-zA-Z0-9])?$'
       AND position('__' IN slug) = 0
       AND slug <> 'run'
$$;

CREATE OR REPLACE FUNCTION pgflow.is_valid_queue_name(queue_name text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT queue_name IS NOT NULL
       AND queue_name <> ''
       AND length(queue_name) <= 47
       AND queue_name = lower(queue_name)
$$;

-- Refuse data the new rules reject, one clear message for the first problem found.
DO $$
DECLARE
    v_problem text;
BEGIN
    SELECT format('flows %s differ only in case; pgmq gives them one queue. Keep one: '
                  'SELECT pgflow.delete_flow_and_data(''<slug>'') deletes a flow with its runs, then '
                  'run the migration again', string_agg(quote_literal(f.flow_slug), ' and ' ORDER BY f.flow_slug))
      INTO v_problem
      FROM pgflow.flows AS f
     GROUP BY lower(f.flow_slug)
    HAVING count(*) > 1
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;

    SELECT format('flow %L has steps %s that differ only in case; steps must differ case-insensitively. '
                  'Delete the flow (SELECT pgflow.delete_flow_and_data(%L)), rename one step in its definition, '
                  'then run the migration again and recompile the flow',
                  s.flow_slug, string_agg(quote_literal(s.step_slug), ' and ' ORDER BY s.step_slug), s.flow_slug)
      INTO v_problem
      FROM pgflow.steps AS s
     GROUP BY s.flow_slug, lower(s.step_slug)
    HAVING count(*) > 1
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;

    SELECT format('flow slug %L is no longer valid: a slug starts with a letter, ends with a letter or a '
                  'digit and has no "__". Delete the flow (SELECT pgflow.delete_flow_and_data(%L)), '
                  'run the migration again and recompile it under a valid slug', f.flow_slug, f.flow_slug)
      INTO v_problem
      FROM pgflow.flows AS f
     WHERE NOT pgflow.is_valid_slug(f.flow_slug)
     ORDER BY f.flow_slug
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;

    SELECT format('step slug %L of flow %L is no longer valid: a slug starts with a letter, ends with a '
                  'letter or a digit and has no "__". Delete the flow (SELECT pgflow.delete_flow_and_data(%L)), '
                  'run the migration again and recompile it with the step renamed', s.step_slug, s.flow_slug,
                  s.flow_slug)
      INTO v_problem
      FROM pgflow.steps AS s
     WHERE NOT pgflow.is_valid_slug(s.step_slug)
     ORDER BY s.flow_slug, s.step_slug
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;

    SELECT format('flow slug %L is %s characters long; its queue name allows at most 47. Delete the flow '
                  '(SELECT pgflow.delete_flow_and_data(%L)), run the migration again and recompile it '
                  'under a shorter slug', f.flow_slug, length(f.flow_slug), f.flow_slug)
      INTO v_problem
      FROM pgflow.flows AS f
     WHERE NOT pgflow.is_valid_queue_name(lower(f.flow_slug))
     ORDER BY f.flow_slug
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;
END;
$$;

ALTER TABLE pgflow.flows
    ADD COLUMN queue_mode text NOT NULL DEFAULT 'flow',
    ADD CONSTRAINT queue_mode_is_valid CHECK (queue_mode IN ('flow', 'step'));
CREATE UNIQUE INDEX idx_flows_normalized_slug ON pgflow.flows (lower(flow_slug));
-- re-added so that every existing slug is checked against the stricter rule
ALTER TABLE pgflow.flows DROP CONSTRAINT slug_is_valid;
ALTER TABLE pgflow.flows ADD CONSTRAINT slug_is_valid CHECK (pgflow.is_valid_slug(flow_slug));

ALTER TABLE pgflow.steps ADD COLUMN queue_name text;
UPDATE pgflow.steps SET queue_name = lower(flow_slug);
ALTER TABLE pgflow.steps
    ALTER COLUMN queue_name SET NOT NULL,
    ADD CONSTRAINT queue_name_is_valid CHECK (pgflow.is_valid_queue_name(queue_name));
-- upstream's (generated) name for the step slug check, so upstream's migrations find it
ALTER TABLE pgflow.steps DROP CONSTRAINT slug_is_valid;
ALTER TABLE pgflow.steps ADD CONSTRAINT steps_step_slug_check CHECK (pgflow.is_valid_slug(step_slug));
CREATE UNIQUE INDEX idx_steps_normalized_slug ON pgflow.steps (flow_slug, lower(step_slug));
-- pgflow-py: which flow owns a queue (claim_tasks' queue rules on every poll, step-queue checks)
CREATE INDEX idx_steps_queue_name ON pgflow.steps (queue_name);

ALTER TABLE pgflow.step_tasks ADD COLUMN queue_name text;
UPDATE pgflow.step_tasks SET queue_name = lower(flow_slug);
ALTER TABLE pgflow.step_tasks
    ALTER COLUMN queue_name SET NOT NULL,
    ADD CONSTRAINT queue_name_is_valid CHECK (pgflow.is_valid_queue_name(queue_name));
DROP INDEX pgflow.idx_step_tasks_queued_msg;
DO $$
DECLARE
    v_problem text;
BEGIN
    SELECT format('message %s of queue %L belongs to %s tasks (of flow %L); a message id must name one task. '
                  'Delete the flow''s data (SELECT pgflow.delete_flow_and_data(%L)) and run the migration again',
                  t.message_id, t.queue_name, count(*), min(t.flow_slug), min(t.flow_slug))
      INTO v_problem
      FROM pgflow.step_tasks AS t
     WHERE t.message_id IS NOT NULL
     GROUP BY t.queue_name, t.message_id
    HAVING count(*) > 1
     LIMIT 1;
    IF v_problem IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation', MESSAGE = 'pgflow 0003: ' || v_problem;
    END IF;
END;
$$;
CREATE UNIQUE INDEX idx_step_tasks_queue_message ON pgflow.step_tasks (queue_name, message_id)
    WHERE message_id IS NOT NULL;

-- signatures replaced by core 0.16/0.17 (the new forms are created by 0004; keeping an old form
-- beside a new one with defaults would make calls ambiguous)
DROP FUNCTION pgflow.start_tasks(text, bigint[], uuid);
DROP FUNCTION pgflow.ensure_flow_compiled(text, jsonb, boolean);
DROP FUNCTION pgflow._create_flow_from_shape(text, jsonb);
DROP FUNCTION pgflow._start_tasks(text, bigint[], uuid);
DROP FUNCTION pgflow.claim_tasks(text, int, uuid);
DROP FUNCTION pgflow._lock_reported_task(uuid, text, int);
DROP FUNCTION pgflow._prune_queue(text, bigint[], timestamptz);
DROP FUNCTION pgflow.hand_back_tasks(text, bigint[], uuid);

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
