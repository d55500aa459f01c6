-- pgflow-py migration 0013_functions: drafted by scripts/build_migration.py from the schema files changed since 7afcf22

-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0068_tables_run_actions.sql changed (ALTER ..., data repairs)
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
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps, trace_context)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), f.flow_slug, p_input,
               (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = f.flow_slug),
               options.o -> 'trace_context'
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
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps, trace_context)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), flow.flow_slug, p_input, flow.steps,
               options.o -> 'trace_context'
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

-- 0420_function_retry_run.sql
-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'retry'), and return it. The original is left as
-- it is; each call starts one more run. The new run has no idempotency key (the key stays with the original).
-- Only a failed run can be retried (a cancelled run is a failed one with cancelled_at set):
-- nothing is written otherwise.
-- Errors: PF002 unknown run; PF005 a run that is still going or completed ("nothing to retry");
-- then as start_flow (PF003 when the input no longer fits the flow's definition).
CREATE OR REPLACE FUNCTION pgflow.retry_run(p_run_id uuid)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_original pgflow.runs;
    v_run pgflow.runs;
BEGIN
    v_original := pgflow._run_to_rerun(p_run_id, 'retry');

    SELECT * INTO v_run FROM pgflow.start_flow(v_original.flow_slug, v_original.input);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id, retry_kind = 'retry' WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;

-- 0450_function_resume_run.sql
-- Resume a run that ended without completing (pgflow-py addition; client.resume_run and
-- `pgflow runs resume` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'resume' tells it from a retry), that reuses the
-- output of every step the original completed and of every completed item of a map step it
-- left unfinished, and queues only what is missing. Returns the new run.
-- A step is reused when it completed in the original and every step it depends on is reused;
-- its state is completed with the original's output (step:completed), its completed tasks are
-- copied (no message is sent), and its dependents are released as after a normal completion.
-- Then the run goes on as start_flow's does (conditions, taskless steps, ready steps); a map
-- step that the original had partly done gets all its tasks, and those whose item completed in
-- the original are completed at once with its output (task:completed; their messages archived),
-- so only the rest is worked on. The tasks left are ordinary queued tasks: any worker runs them.
-- The original is left as it is; each call starts one more run.
-- Only a failed run can be resumed (a cancelled run is a failed one with cancelled_at set).
-- Shape check: when the flow's steps are no longer the steps the original run has states for
-- (a step was added since), the call is refused unless p_force; forced, only the steps that
-- still exist are reused.
-- Errors: PF002 unknown run; PF005 a run that is still going or completed, or a changed
-- definition without p_force; then as start_flow (PF003 input). Nothing is written on error.
CREATE OR REPLACE FUNCTION pgflow.resume_run(p_run_id uuid, p_force boolean DEFAULT false)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_original pgflow.runs;
    v_run_id uuid;
    v_run pgflow.runs;
    v_reused text[] := '{}';
    v_step record;
    v_state pgflow.step_states;
    v_released int;
    v_changed text[];
    v_done int;
BEGIN
    v_original := pgflow._run_to_rerun(p_run_id, 'resume');

    -- the shape check: steps of the flow now vs the steps the original run has states for
    SELECT array_agg(x.step_slug ORDER BY x.step_slug) INTO v_changed
      FROM ((SELECT s.step_slug FROM pgflow.steps AS s WHERE s.flow_slug = v_original.flow_slug
             EXCEPT SELECT ss.step_slug FROM pgflow.step_states AS ss WHERE ss.run_id = p_run_id)
            UNION
            (SELECT ss.step_slug FROM pgflow.step_states AS ss WHERE ss.run_id = p_run_id
             EXCEPT SELECT s.step_slug FROM pgflow.steps AS s WHERE s.flow_slug = v_original.flow_slug)) AS x;
    IF v_changed IS NOT NULL AND NOT p_force THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('cannot resume run %s: the definition of flow %L changed since it ran (steps %s)',
                             p_run_id, v_original.flow_slug, array_to_string(v_changed, ', ')),
            HINT = 'retry the run (a clean run), or resume with force to reuse the steps that are still there';
    END IF;

    PERFORM pgflow._check_run_input(v_original.flow_slug, v_original.input);
    v_run_id := pgflow._create_run(v_original.flow_slug, v_original.input, NULL);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id, retry_kind = 'resume' WHERE r.run_id = v_run_id;

    -- reuse the completed steps whose dependencies are all reused (dependencies come first)
    FOR v_step IN
        SELECT s.step_slug, o.output, o.initial_tasks
          FROM pgflow.steps AS s
          JOIN pgflow.step_states AS o ON o.run_id = p_run_id AND o.step_slug = s.step_slug
         WHERE s.flow_slug = v_original.flow_slug AND o.status = 'completed'
         ORDER BY s.step_index
    LOOP
        CONTINUE WHEN EXISTS (SELECT 1 FROM pgflow.deps AS d
                               WHERE d.flow_slug = v_original.flow_slug AND d.step_slug = v_step.step_slug
                                 AND NOT d.dep_slug = ANY (v_reused));
        v_reused := v_reused || v_step.step_slug;

        UPDATE pgflow.step_states AS ss
           SET status = 'completed', started_at = now(), completed_at = now(), remaining_tasks = 0,
               initial_tasks = v_step.initial_tasks, output = v_step.output
         WHERE ss.run_id = v_run_id AND ss.step_slug = v_step.step_slug
        RETURNING * INTO v_state;
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, attempts_count, output,
                                       queued_at, started_at, completed_at, queue_name)
        SELECT t.flow_slug, v_run_id, t.step_slug, t.task_index, 'completed', t.attempts_count, t.output,
               now(), now(), now(), t.queue_name
          FROM pgflow.step_tasks AS t
         WHERE t.run_id = p_run_id AND t.step_slug = v_step.step_slug AND t.status = 'completed';
        PERFORM pgflow._emit(pgflow._step_event('step:completed', v_state));
        v_released := pgflow._pass_output_to_dependents(v_run_id, v_step.step_slug, v_step.output);
        UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = v_run_id;
    END LOOP;

    IF pgflow.cascade_resolve_conditions(v_run_id) THEN
        PERFORM pgflow.cascade_complete_taskless_steps(v_run_id);
        PERFORM pgflow.start_ready_steps(v_run_id);

        -- map steps the original left unfinished: complete the items it had completed
        FOR v_step IN
            SELECT ss.step_slug, ss.initial_tasks
              FROM pgflow.step_states AS ss
              JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
              JOIN pgflow.step_states AS o ON o.run_id = p_run_id AND o.step_slug = ss.step_slug
             WHERE ss.run_id = v_run_id AND ss.status = 'started' AND s.step_type = 'map'
               AND o.initial_tasks = ss.initial_tasks
        LOOP
            WITH done AS (
                UPDATE pgflow.step_tasks AS t
                   SET status = 'completed', output = o.output, attempts_count = o.attempts_count,
                       started_at = now(), completed_at = now()
                  FROM pgflow.step_tasks AS o
                 WHERE t.run_id = v_run_id AND t.step_slug = v_step.step_slug
                   AND o.run_id = p_run_id AND o.step_slug = v_step.step_slug
                   AND o.task_index = t.task_index AND o.status = 'completed'
                RETURNING t.queue_name, t.message_id, pgflow._emit(pgflow._task_event('task:completed', t)) AS emitted
            ),
            archived AS (
                SELECT count(pgmq.archive(d.queue_name, d.message_id)) AS n FROM done AS d
            )
            SELECT n INTO v_done FROM archived;
            -- a map step whose every item completed has completed in the original: never here
            UPDATE pgflow.step_states AS ss SET remaining_tasks = ss.remaining_tasks - v_done
             WHERE ss.run_id = v_run_id AND ss.step_slug = v_step.step_slug;
        END LOOP;

        PERFORM pgflow.maybe_complete_run(v_run_id);
    END IF;

    SELECT * INTO v_run FROM pgflow.runs AS r WHERE r.run_id = v_run_id;
    RETURN NEXT v_run;
END;
$$;

-- 0455_function__select_runs.sql
-- The runs that match a filter, newest first (pgflow-py addition): the one filter of
-- client.list_runs and of the bulk operations (cancel_runs, retry_runs, resume_runs), which page
-- through it in batches. Every parameter left NULL filters nothing: p_flow_slug, p_status,
-- p_since (started at or after), p_until (started before), p_input (the input contains this
-- JSON, jsonb @>). Ordered by (started_at, run_id) descending; p_before_started_at and
-- p_before_run_id, when given, return only runs before that pair (a keyset cursor: a bulk
-- operation's new runs start later, so its next batch never meets them). At most p_limit rows.
CREATE OR REPLACE FUNCTION pgflow._select_runs(
    p_flow_slug text,
    p_status text,
    p_since timestamptz,
    p_until timestamptz,
    p_input jsonb,
    p_before_started_at timestamptz,
    p_before_run_id uuid,
    p_limit int
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT r.*
      FROM pgflow.runs AS r
     WHERE (p_flow_slug IS NULL OR r.flow_slug = p_flow_slug)
       AND (p_status IS NULL OR r.status = p_status)
       AND (p_since IS NULL OR r.started_at >= p_since)
       AND (p_until IS NULL OR r.started_at < p_until)
       AND (p_input IS NULL OR r.input @> p_input)
       AND (p_before_started_at IS NULL OR (r.started_at, r.run_id) < (p_before_started_at, p_before_run_id))
     ORDER BY r.started_at DESC, r.run_id DESC
     LIMIT p_limit;
END;
$$;

-- 0456_function__act_on_runs.sql
-- One batch of a bulk operation (pgflow-py addition; client.cancel_runs, retry_runs and
-- resume_runs call it once per batch, each batch its own transaction): p_action 'cancel'
-- (cancel_run with p_reason), 'retry' (retry_run) or 'resume' (resume_run with p_force) on each
-- run of p_run_ids, in order. One row per run: done (false when there was nothing to do: a
-- run already over for cancel, a run refused for retry/resume), the new run of a retry or
-- resume, and a message saying why not. A run that cannot be acted on (PF002 gone meanwhile,
-- PF003 input no longer fits, PF005 not failed or a changed flow) is rolled back alone and
-- reported; the other runs of the batch go on. Any other error ends the batch.
CREATE OR REPLACE FUNCTION pgflow._act_on_runs(p_action text, p_run_ids uuid[], p_reason text, p_force boolean)
RETURNS TABLE (run_id uuid, done boolean, new_run_id uuid, message text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_id uuid;
    v_cancel record;
BEGIN
    IF p_action NOT IN ('cancel', 'retry', 'resume') THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('unknown bulk action %L', p_action),
            HINT = 'use cancel, retry or resume';
    END IF;
    FOREACH v_id IN ARRAY coalesce(p_run_ids, '{}') LOOP
        run_id := v_id;
        new_run_id := NULL;
        message := NULL;
        BEGIN
            IF p_action = 'cancel' THEN
                SELECT * INTO v_cancel FROM pgflow.cancel_run(v_id, p_reason);
                done := v_cancel.cancelled;
                IF NOT done THEN
                    message := format('already over (%s)', v_cancel.status);
                END IF;
            ELSIF p_action = 'retry' THEN
                SELECT r.run_id INTO new_run_id FROM pgflow.retry_run(v_id) AS r;
                done := true;
            ELSE
                SELECT r.run_id INTO new_run_id FROM pgflow.resume_run(v_id, coalesce(p_force, false)) AS r;
                done := true;
            END IF;
        EXCEPTION WHEN SQLSTATE 'PF002' OR SQLSTATE 'PF003' OR SQLSTATE 'PF005' THEN
            done := false;
            new_run_id := NULL;
            message := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END;
$$;

