-- pgflow-py migration 0013_functions: drafted by scripts/build_migration.py from the schema files changed since 7afcf22

-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
-- 0149_function__run_options.sql
-- The options of the run about to be created in this transaction (pgflow-py addition): a jsonb
-- object whose keys fill pgflow-py's own columns of pgflow.runs (priority, concurrency key, trace
-- context, ...). The Python clients set it with set_config('pgflow.run_options', <json>, true)
-- in the statement before start_flow / start_flow_at / start_flow_idempotent, so upstream's
-- signatures stay as they are; _create_run and _start_run_directly read it, and start_flow
-- clears it once the run exists, so it applies to one run only. NULL when nothing was set (every
-- TypeScript caller): each column then takes its default.
-- SQL-standard body without SET, so the planner can inline it into the INSERT that reads it.
CREATE OR REPLACE FUNCTION pgflow._run_options()
RETURNS jsonb
LANGUAGE sql
STABLE
RETURN nullif(current_setting('pgflow.run_options', true), '')::jsonb;

-- 0150_function__create_run.sql
-- Insert a run of a flow and one step state per step, and emit run:started. Root steps have no
-- pending dependency; a single step has one task, a root map step one per element of the input,
-- a dependent map step an unknown number (NULL) until its dependency completes.
-- Returns the run id. The input must already be checked (pgflow._check_run_input).
-- pgflow-py's own run columns come from pgflow._run_options() (the caller's options, or NULL).
-- Twin of the run insert in _start_run_directly: a column set here is set there the same way.
CREATE OR REPLACE FUNCTION pgflow._create_run(p_flow_slug text, p_input jsonb, p_run_id uuid)
RETURNS uuid
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH run AS (
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), f.flow_slug, p_input,
               (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = f.flow_slug)
          FROM pgflow.flows AS f
         CROSS JOIN (SELECT pgflow._run_options() AS o) AS options
         WHERE f.flow_slug = p_flow_slug
        RETURNING runs.run_id, runs.flow_slug, runs.input,
            pgflow._emit(pgflow._run_event('run:started', runs)) AS emitted
    ),
    states AS (
        INSERT INTO pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks)
        SELECT s.flow_slug, run.run_id, s.step_slug, s.deps_count,
               CASE WHEN s.step_type = 'single' THEN 1
                    WHEN s.deps_count = 0 THEN jsonb_array_length(run.input)
               END
          FROM run
          JOIN pgflow.steps AS s ON s.flow_slug = run.flow_slug
    )
    SELECT run.run_id FROM run;
$$;

-- 0152_function__start_run_directly.sql
-- The usual start of a run in one statement: when no root step has a condition and every root
-- step has tasks (a single step, or a root map over a non-empty array), starting a run needs no
-- decision, so the run, its step states (the root ones already started), the root steps'
-- messages and their queued tasks are written at once. The rows and events are those of
-- _create_run followed by start_ready_steps (run:started, then step:started per root step); only
-- the intermediate 'created' versions of the root step states are never written.
-- Twin: _create_run + start_ready_steps (start_flow's general path); guarded by
-- tests/sql/start_flow/test_direct_start.py.
-- Returns the run id, or NULL (nothing written) when the run needs start_flow's general path: an
-- unknown flow, a NULL input, a condition on a root step, a root map over an empty array or a
-- non-array (start_flow then raises or takes the steps one decision at a time).
CREATE OR REPLACE FUNCTION pgflow._start_run_directly(p_flow_slug text, p_input jsonb, p_run_id uuid)
RETURNS uuid
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH flow AS (
        SELECT s.flow_slug, count(*) AS steps
          FROM pgflow.steps AS s
         WHERE s.flow_slug = p_flow_slug AND p_input IS NOT NULL
         GROUP BY s.flow_slug
        HAVING bool_and(s.deps_count > 0
                        OR (s.required_input_pattern IS NULL AND s.forbidden_input_pattern IS NULL
                            AND (s.step_type = 'single'
                                 OR CASE WHEN jsonb_typeof(p_input) = 'array'
                                         THEN jsonb_array_length(p_input) > 0 ELSE false END)))
    ),
    run AS (
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), flow.flow_slug, p_input, flow.steps
          FROM flow
         -- pgflow-py's own run columns: as in _create_run (its twin)
         CROSS JOIN (SELECT pgflow._run_options() AS o) AS options
        RETURNING runs.run_id, runs.flow_slug, runs.input,
            pgflow._emit(pgflow._run_event('run:started', runs)) AS emitted
    ),
    states AS (
        INSERT INTO pgflow.step_states AS ss
               (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
        SELECT s.flow_slug, run.run_id, s.step_slug, s.deps_count, n.tasks,
               CASE WHEN s.deps_count = 0 THEN 'started' ELSE 'created' END,
               CASE WHEN s.deps_count = 0 THEN now() END,
               CASE WHEN s.deps_count = 0 THEN n.tasks END
          FROM run
          JOIN pgflow.steps AS s ON s.flow_slug = run.flow_slug
         CROSS JOIN LATERAL (
                SELECT CASE WHEN s.step_type = 'single' THEN 1
                            WHEN s.deps_count = 0 THEN jsonb_array_length(run.input)
                       END AS tasks
             ) AS n
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks, ss.status,
            CASE WHEN ss.status = 'started' THEN pgflow._emit(pgflow._step_event('step:started', ss)) END AS emitted
    ),
    sent AS (
        -- as in start_ready_steps: one send_batch per root step (its own delay), in task order
        SELECT st.flow_slug, st.run_id, st.step_slug, s.queue_name, m.msg_id,
               (row_number() OVER (PARTITION BY st.step_slug ORDER BY m.msg_id) - 1)::int AS task_index
          FROM states AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN LATERAL pgmq.send_batch(
                s.queue_name,
                ARRAY(SELECT jsonb_build_object('flow_slug', st.flow_slug, 'run_id', st.run_id,
                                                'step_slug', st.step_slug, 'task_index', i)
                        FROM generate_series(0, st.initial_tasks - 1) AS i
                       ORDER BY i),
                coalesce(s.opt_start_delay, 0)) AS m (msg_id)
         WHERE st.status = 'started'
    ),
    tasks AS (
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, queue_name)
        SELECT sent.flow_slug, sent.run_id, sent.step_slug, sent.task_index, sent.msg_id, sent.queue_name
          FROM sent
    )
    SELECT run.run_id FROM run;
$$;

-- 0155_function_start_flow.sql
-- Start a run of a flow with the given input (and run id, if the caller chose one): create the
-- run and its step states (run:started), settle the conditions of the root steps, complete
-- taskless steps (maps over []), start the ready steps and complete the run at once when
-- nothing is left to do. Returns the run row as it stands at the end. Runs that need none of
-- these decisions (no root condition, no taskless root) are written by one statement
-- (_start_run_directly) with the same rows and events. Run options set by a Python client
-- (pgflow._run_options) apply to this run and are cleared.
-- Errors: PF001 unknown flow; PF003 NULL input or a non-array input for a root map step.
CREATE OR REPLACE FUNCTION pgflow.start_flow(flow_slug text, input jsonb, run_id uuid DEFAULT NULL)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run_id uuid;
BEGIN
    v_run_id := pgflow._start_run_directly(start_flow.flow_slug, start_flow.input, start_flow.run_id);
    IF v_run_id IS NULL THEN
        PERFORM pgflow._check_run_input(start_flow.flow_slug, start_flow.input);
        v_run_id := pgflow._create_run(start_flow.flow_slug, start_flow.input, start_flow.run_id);

        IF pgflow.cascade_resolve_conditions(v_run_id) THEN
            PERFORM pgflow.cascade_complete_taskless_steps(v_run_id);
            PERFORM pgflow.start_ready_steps(v_run_id);
            PERFORM pgflow.maybe_complete_run(v_run_id);
        END IF;
    END IF;
    IF pgflow._run_options() IS NOT NULL THEN  -- the caller's run options served this run only
        PERFORM set_config('pgflow.run_options', '', true);
    END IF;

    RETURN QUERY SELECT * FROM pgflow.runs AS r WHERE r.run_id = v_run_id;
END;
$$;

