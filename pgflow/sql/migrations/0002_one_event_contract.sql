-- pgflow-py migration 0002_one_event_contract: drafted by scripts/build_migration.py from the schema files changed since a77a4f6

DROP FUNCTION pgflow._emit_task_failed(pgflow.step_tasks, timestamptz);
-- 0024_function__is_terminal.sql
-- Whether a run, a step state or a task with this status is over: 'completed', 'failed' or
-- 'skipped', the statuses no transition leaves. The engine's one spelling of "the run (step)
-- is over"; "still going" is NOT pgflow._is_terminal(status). (In Python: RunStatus.is_terminal
-- and its siblings in pgflow.models.)
-- No SET clause, so that PostgreSQL inlines it into the calling statement (it never inlines a
-- function with SET): the body is SQL-standard, its names bound when it is created.
CREATE OR REPLACE FUNCTION pgflow._is_terminal(p_status text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN p_status IN ('completed', 'failed', 'skipped');

-- 0076_function__run_event.sql
-- The payload of a run event for pgflow._emit, built from the run's row as the transition left
-- it: the one place that says which fields run:started, run:completed and run:failed carry
-- (docs/reference/events.md, pgflow/events.py). run:failed also names the step that failed the
-- run and its error, which the runs table does not hold.
-- No SET clause, so that PostgreSQL inlines it into the emitting statement (it never inlines a
-- function with SET): given a table's row (pgflow._run_event('run:completed', r)) it then reads
-- only the columns it names, and behind CASE WHEN v_events it is not evaluated at all. The body
-- is SQL-standard, its names bound when it is created.
CREATE OR REPLACE FUNCTION pgflow._run_event(
    p_event_type text, p_run pgflow.runs, p_error_message text DEFAULT NULL, p_failed_step_slug text DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_run.run_id, 'flow_slug', p_run.flow_slug,
                          'status', p_run.status)
    || CASE p_event_type
           WHEN 'run:started' THEN jsonb_build_object(
               'input', p_run.input, 'remaining_steps', p_run.remaining_steps, 'started_at', p_run.started_at)
           WHEN 'run:completed' THEN jsonb_build_object(
               'output', p_run.output, 'completed_at', p_run.completed_at)
           WHEN 'run:failed' THEN jsonb_build_object(
               'error_message', p_error_message, 'failed_at', p_run.failed_at,
               'failed_step_slug', p_failed_step_slug)
       END;

-- 0077_function__step_event.sql
-- The payload of a step event for pgflow._emit, built from the step state's row as the
-- transition left it: the one place that says which fields step:started, step:completed,
-- step:failed and step:skipped carry (docs/reference/events.md, pgflow/events.py). A step
-- skipped because its task used up its attempts (skip_reason 'handler_failed') keeps the error.
-- Inlined like pgflow._run_event (no SET clause; SQL-standard body).
CREATE OR REPLACE FUNCTION pgflow._step_event(p_event_type text, p_state pgflow.step_states)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_state.run_id, 'flow_slug', p_state.flow_slug,
                          'step_slug', p_state.step_slug, 'status', p_state.status)
    || CASE p_event_type
           WHEN 'step:started' THEN jsonb_build_object(
               'started_at', p_state.started_at, 'remaining_tasks', p_state.remaining_tasks,
               'remaining_deps', p_state.remaining_deps, 'initial_tasks', p_state.initial_tasks)
           WHEN 'step:completed' THEN jsonb_build_object(
               'output', p_state.output, 'started_at', p_state.started_at, 'completed_at', p_state.completed_at,
               'remaining_tasks', p_state.remaining_tasks, 'remaining_deps', p_state.remaining_deps)
           WHEN 'step:failed' THEN jsonb_build_object(
               'error_message', p_state.error_message, 'failed_at', p_state.failed_at)
           WHEN 'step:skipped' THEN jsonb_build_object(
               'skip_reason', p_state.skip_reason, 'skipped_at', p_state.skipped_at)
               || CASE WHEN p_state.skip_reason = 'handler_failed'
                       THEN jsonb_build_object('error_message', p_state.error_message)
                       ELSE '{}'::jsonb END
       END;

-- 0078_function__task_event.sql
-- The payload of a task event for pgflow._emit, built from the task's row as the transition
-- left it: the one place that says which fields task:started, task:completed and task:failed
-- carry (docs/reference/events.md, pgflow/events.py). For task:failed, p_retry_at is when the
-- task's message becomes visible again, NULL when it will not be retried.
-- Inlined like pgflow._run_event (no SET clause; SQL-standard body).
CREATE OR REPLACE FUNCTION pgflow._task_event(p_event_type text, p_task pgflow.step_tasks,
                                              p_retry_at timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
RETURN jsonb_build_object('event_type', p_event_type, 'run_id', p_task.run_id, 'flow_slug', p_task.flow_slug,
                          'step_slug', p_task.step_slug, 'task_index', p_task.task_index,
                          'status', p_task.status, 'attempt', p_task.attempts_count)
    || CASE p_event_type
           WHEN 'task:started' THEN jsonb_build_object(
               'worker_id', p_task.last_worker_id, 'started_at', p_task.started_at)
           WHEN 'task:completed' THEN jsonb_build_object(
               'output', p_task.output, 'completed_at', p_task.completed_at)
           WHEN 'task:failed' THEN jsonb_build_object(
               'error_message', p_task.error_message, 'will_retry', p_retry_at IS NOT NULL,
               'retry_at', p_retry_at, 'failed_at', coalesce(p_task.failed_at, now()))
       END;

-- 0103_function__archive_active_messages.sql
-- Archive the pgmq messages of a run's unfinished (queued or started) tasks, of the given steps
-- or, when p_step_slugs is NULL, of every step, so that no worker picks them up any more.
-- Returns how many messages were archived.
CREATE OR REPLACE FUNCTION pgflow._archive_active_messages(p_run_id uuid, p_step_slugs text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT count(*)::int
      FROM pgflow.runs AS r
     CROSS JOIN LATERAL pgmq.archive(r.flow_slug, ARRAY(
                SELECT t.message_id
                  FROM pgflow.step_tasks AS t
                 WHERE t.run_id = p_run_id
                   AND (p_step_slugs IS NULL OR t.step_slug = ANY (p_step_slugs))
                   AND NOT pgflow._is_terminal(t.status)
                   AND t.message_id IS NOT NULL)) AS archived
     WHERE r.run_id = p_run_id;
$$;

-- 0105_function__fail_run.sql
-- Fail one step and, with it, its run: the step keeps the error message, the run is marked
-- failed at once (parallel branches are not waited for) and every message still in flight for
-- the run is archived, so workers pick up none of its remaining tasks. Emits step:failed, then
-- run:failed. A run that is no longer started is left alone.
-- Used by cascade_resolve_conditions for unmet 'fail' conditions; complete_task and fail_task
-- may use it for their failure paths.
CREATE OR REPLACE FUNCTION pgflow._fail_run(p_run_id uuid, p_step_slug text, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_state pgflow.step_states;
BEGIN
    UPDATE pgflow.runs AS r
       SET status = 'failed', failed_at = now()
     WHERE r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
    RETURNING r.* INTO v_run;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    UPDATE pgflow.step_states AS ss
       SET status = 'failed', error_message = p_error_message, failed_at = v_run.failed_at
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug AND NOT pgflow._is_terminal(ss.status)
    RETURNING ss.* INTO v_state;
    IF FOUND THEN
        PERFORM pgflow._emit(pgflow._step_event('step:failed', v_state));
    END IF;

    PERFORM pgflow._emit(pgflow._run_event('run:failed', v_run, p_error_message, p_step_slug));

    PERFORM pgflow._archive_active_messages(p_run_id);
END;
$$;

-- 0115_function__unmet_condition_steps.sql
-- Steps of a started run that are ready (created, no pending dependency) and whose condition is
-- not met. The condition is checked against the run input for root steps and against
-- {dep_slug: output} over the completed dependencies for the others (skipped dependencies are
-- absent): met = (required_input_pattern IS NULL OR input @> required_input_pattern)
--            AND (forbidden_input_pattern IS NULL OR NOT input @> forbidden_input_pattern).
CREATE OR REPLACE FUNCTION pgflow._unmet_condition_steps(p_run_id uuid)
RETURNS TABLE (step_slug text, step_index int, when_unmet text)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT ss.step_slug, s.step_index, s.when_unmet
      FROM pgflow.step_states AS ss
      JOIN pgflow.runs AS r ON r.run_id = ss.run_id
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     CROSS JOIN LATERAL (
            SELECT CASE
                     WHEN s.deps_count = 0 THEN r.input
                     ELSE coalesce(
                            (SELECT jsonb_object_agg(d.dep_slug, parent.output)
                               FROM pgflow.deps AS d
                               JOIN pgflow.step_states AS parent
                                 ON parent.run_id = ss.run_id AND parent.step_slug = d.dep_slug
                              WHERE d.flow_slug = ss.flow_slug AND d.step_slug = ss.step_slug
                                AND parent.status = 'completed'),
                            '{}'::jsonb)
                   END AS input
         ) AS i
     WHERE ss.run_id = p_run_id
       AND NOT pgflow._is_terminal(r.status)
       AND ss.status = 'created'
       AND ss.remaining_deps = 0
       AND (s.required_input_pattern IS NOT NULL OR s.forbidden_input_pattern IS NOT NULL)
       AND NOT ((s.required_input_pattern IS NULL OR i.input @> s.required_input_pattern)
                AND (s.forbidden_input_pattern IS NULL OR NOT i.input @> s.forbidden_input_pattern))
$$;

-- 0120_function_cascade_resolve_conditions.sql
-- Settle the conditions of every ready step of a run, repeating while skips make more steps
-- ready (at most 50 rounds). For the first unmet step with when_unmet = 'fail' the step and the
-- run fail ('Condition not met', step:failed + run:failed, in-flight messages archived) and the
-- function returns false. Unmet 'skip' steps are skipped (skip_reason 'condition_unmet'; their
-- dependents lose a dependency, a dependent map gets zero tasks); unmet 'skip-cascade' steps are
-- skipped with everything downstream. Steps whose condition holds stay ready for
-- start_ready_steps. Returns true while the run can go on (false if the run is failed).
CREATE OR REPLACE FUNCTION pgflow.cascade_resolve_conditions(run_id uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_fail text;
    v_skip text[];
    v_cascade text[];
    v_step text;
BEGIN
    FOR i IN 1..50 LOOP
        SELECT (array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'fail'))[1],
               array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'skip'),
               array_agg(u.step_slug ORDER BY u.step_index) FILTER (WHERE u.when_unmet = 'skip-cascade')
          INTO v_fail, v_skip, v_cascade
          FROM pgflow._unmet_condition_steps(cascade_resolve_conditions.run_id) AS u;

        IF v_fail IS NOT NULL THEN
            PERFORM pgflow._fail_run(cascade_resolve_conditions.run_id, v_fail, 'Condition not met');
            RETURN false;
        END IF;
        EXIT WHEN v_skip IS NULL AND v_cascade IS NULL;

        IF v_skip IS NOT NULL THEN
            PERFORM pgflow._skip_steps(cascade_resolve_conditions.run_id, v_skip, 'condition_unmet');
        END IF;
        FOREACH v_step IN ARRAY coalesce(v_cascade, '{}') LOOP
            PERFORM pgflow._cascade_force_skip_steps(cascade_resolve_conditions.run_id, v_step, 'condition_unmet');
        END LOOP;
    END LOOP;

    RETURN NOT EXISTS (
        SELECT 1 FROM pgflow.runs AS r
         WHERE r.run_id = cascade_resolve_conditions.run_id AND pgflow._is_terminal(r.status));
END;
$$;

-- 0125_function__complete_taskless_layer.sql
-- One round of cascade_complete_taskless_steps: complete every ready step of a started run that
-- has zero tasks (a map over an empty array) with output [] (map) or null (single) and
-- step:completed; its dependents lose a dependency and dependent maps get zero tasks too
-- (pgflow._release_dependents); the completed steps are counted off remaining_steps.
-- Returns how many steps were completed.
CREATE OR REPLACE FUNCTION pgflow._complete_taskless_layer(p_run_id uuid)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_done text[];
BEGIN
    WITH done AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'completed',
               started_at = now(),
               completed_at = now(),
               remaining_tasks = 0,
               output = CASE WHEN s.step_type = 'map' THEN '[]'::jsonb END
          FROM pgflow.steps AS s, pgflow.runs AS r
         WHERE ss.run_id = p_run_id
           AND r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks = 0
           AND s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
        RETURNING ss.step_slug, pgflow._emit(pgflow._step_event('step:completed', ss)) AS emitted
    )
    SELECT array_agg(done.step_slug) INTO v_done FROM done;
    IF v_done IS NULL THEN
        RETURN 0;
    END IF;

    PERFORM pgflow._release_dependents(p_run_id, v_done);
    UPDATE pgflow.runs AS r
       SET remaining_steps = r.remaining_steps - cardinality(v_done)
     WHERE r.run_id = p_run_id;
    RETURN cardinality(v_done);
END;
$$;

-- 0135_function_start_ready_steps.sql
-- Start every step of a started run that is ready: created, no pending dependency and a known,
-- non-zero number of tasks. Each becomes 'started' (remaining_tasks = initial_tasks) with
-- step:started, and gets one pgmq message per task on the flow's queue -
-- {"flow_slug", "run_id", "step_slug", "task_index"} - sent with the step's start_delay, plus a
-- queued step_tasks row holding the message id. Taskless steps are left to
-- cascade_complete_taskless_steps.
-- Twins: _advance_runs starts the plain ready steps of many runs set-based (guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py), and _start_run_directly starts a
-- plain run's root steps in the statement that inserts the run (guarded by
-- tests/sql/start_flow/test_direct_start.py).
CREATE OR REPLACE FUNCTION pgflow.start_ready_steps(run_id uuid)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
          FROM pgflow.runs AS r
         WHERE ss.run_id = start_ready_steps.run_id
           AND r.run_id = start_ready_steps.run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            pgflow._emit(pgflow._step_event('step:started', ss)) AS emitted
    ),
    sent AS (
        -- one send_batch per step (its own delay); pgmq numbers a batch in array order
        SELECT st.flow_slug, st.run_id, st.step_slug, m.msg_id,
               (row_number() OVER (PARTITION BY st.step_slug ORDER BY m.msg_id) - 1)::int AS task_index
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN LATERAL pgmq.send_batch(
                st.flow_slug,
                ARRAY(SELECT jsonb_build_object('flow_slug', st.flow_slug, 'run_id', st.run_id,
                                                'step_slug', st.step_slug, 'task_index', i)
                        FROM generate_series(0, st.initial_tasks - 1) AS i
                       ORDER BY i),
                coalesce(s.opt_start_delay, 0)) AS m (msg_id)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
    SELECT sent.flow_slug, sent.run_id, sent.step_slug, sent.task_index, sent.msg_id
      FROM sent;
$$;

-- 0140_function_maybe_complete_run.sql
-- Complete a started run once no step is left (remaining_steps = 0). Its output is an object
-- of the outputs of its completed leaf steps (steps nothing depends on; skipped leaves are left
-- out; null when there is none). Emits run:completed. Does nothing otherwise.
CREATE OR REPLACE FUNCTION pgflow.maybe_complete_run(run_id uuid)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH completed AS (
        UPDATE pgflow.runs AS r
           SET status = 'completed',
               completed_at = now(),
               output = (
                   SELECT jsonb_object_agg(ss.step_slug, ss.output)
                     FROM pgflow.step_states AS ss
                    WHERE ss.run_id = r.run_id
                      AND ss.status = 'completed'
                      AND NOT EXISTS (SELECT 1 FROM pgflow.deps AS d
                                       WHERE d.flow_slug = ss.flow_slug AND d.dep_slug = ss.step_slug))
         WHERE r.run_id = maybe_complete_run.run_id
           AND NOT pgflow._is_terminal(r.status)
           AND r.remaining_steps = 0
        RETURNING pgflow._emit(pgflow._run_event('run:completed', r)) AS emitted
    )
    SELECT count(*) FROM completed;
$$;

-- 0150_function__create_run.sql
-- Insert a run of a flow and one step state per step, and emit run:started. Root steps have no
-- pending dependency; a single step has one task, a root map step one per element of the input,
-- a dependent map step an unknown number (NULL) until its dependency completes.
-- Returns the run id. The input must already be checked (pgflow._check_run_input).
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
        SELECT st.flow_slug, st.run_id, st.step_slug, m.msg_id,
               (row_number() OVER (PARTITION BY st.step_slug ORDER BY m.msg_id) - 1)::int AS task_index
          FROM states AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN LATERAL pgmq.send_batch(
                st.flow_slug,
                ARRAY(SELECT jsonb_build_object('flow_slug', st.flow_slug, 'run_id', st.run_id,
                                                'step_slug', st.step_slug, 'task_index', i)
                        FROM generate_series(0, st.initial_tasks - 1) AS i
                       ORDER BY i),
                coalesce(s.opt_start_delay, 0)) AS m (msg_id)
         WHERE st.status = 'started'
    ),
    tasks AS (
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
        SELECT sent.flow_slug, sent.run_id, sent.step_slug, sent.task_index, sent.msg_id
          FROM sent
    )
    SELECT run.run_id FROM run;
$$;

-- 0168_function__start_tasks.sql
-- The claim behind start_tasks and claim_tasks (one implementation for both): claim the tasks
-- behind messages already read from the flow's queue, and give each claimed task its handler
-- input. A task is claimed when it is queued and both its run and its step are started;
-- messages without such a task give no row. A claimed task becomes 'started' (attempts_count
-- + 1, started_at, last_worker_id; the worker must be registered in pgflow.workers) with
-- task:started. Leaves the messages' visibility to the caller.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise; attempt is the attempt now
-- starting. Rows come in message order.
-- Its statements run with generic plans (claim_tasks calls it on every poll; custom plans were
-- re-planned on every call).
CREATE OR REPLACE FUNCTION pgflow._start_tasks(p_flow_slug text, p_msg_ids bigint[], p_worker_id uuid)
RETURNS TABLE (flow_slug text, run_id uuid, step_slug text, input jsonb, msg_id bigint, task_index int,
               flow_input jsonb, attempt int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_events boolean := pgflow._events_wanted();
BEGIN
    RETURN QUERY
        WITH claimed AS (
            -- Each message id is looked up on its own (LATERAL ... OFFSET 0) and the eligible
            -- task locked, then updated by ctid: index probes and a TID scan whatever the
            -- planner's statistics say (on a young, never analysed table they would make it scan
            -- every queued task). The lock re-checks the task status, so a task claimed
            -- concurrently is skipped.
            UPDATE pgflow.step_tasks AS t
               SET status = 'started',
                   attempts_count = t.attempts_count + 1,
                   started_at = now(),
                   last_worker_id = p_worker_id
             WHERE t.ctid = ANY (ARRAY(
                       SELECT task.ctid
                         FROM unnest(p_msg_ids) AS m (msg_id)
                        CROSS JOIN LATERAL (
                               SELECT probe.ctid
                                 FROM pgflow.step_tasks AS probe
                                WHERE probe.message_id = m.msg_id
                                  AND probe.flow_slug = p_flow_slug
                                  AND probe.status = 'queued'
                                  AND EXISTS (SELECT 1 FROM pgflow.runs AS r
                                               WHERE r.run_id = probe.run_id AND NOT pgflow._is_terminal(r.status))
                                  AND EXISTS (SELECT 1 FROM pgflow.step_states AS ss
                                               WHERE ss.run_id = probe.run_id AND ss.step_slug = probe.step_slug
                                                 AND ss.status = 'started')
                               OFFSET 0
                                  FOR UPDATE) AS task))
            RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id, t.attempts_count,
                CASE WHEN v_events THEN pgflow._emit(pgflow._task_event('task:started', t)) END AS emitted
        ),
        items AS MATERIALIZED (
            -- the array a map step's tasks take their elements from (the run input of a root map,
            -- else the output of the step it maps), read and decompressed once per call, not once
            -- per task: a 10,000-element array is large
            SELECT m.run_id, m.step_slug,
                   (CASE WHEN s.deps_count = 0
                         THEN (SELECT r.input FROM pgflow.runs AS r WHERE r.run_id = m.run_id)
                         ELSE (SELECT parent.output
                                 FROM pgflow.deps AS d
                                 JOIN pgflow.step_states AS parent
                                   ON parent.run_id = m.run_id AND parent.step_slug = d.dep_slug
                                WHERE d.flow_slug = m.flow_slug AND d.step_slug = m.step_slug)
                    END) || '[]'::jsonb AS elements
              FROM (SELECT DISTINCT c.flow_slug, c.run_id, c.step_slug FROM claimed AS c) AS m
              JOIN pgflow.steps AS s ON s.flow_slug = m.flow_slug AND s.step_slug = m.step_slug
             WHERE s.step_type = 'map'
        )
        SELECT c.flow_slug, c.run_id, c.step_slug,
               CASE WHEN s.step_type = 'map' THEN i.elements -> c.task_index
                    WHEN s.deps_count = 0 THEN '{}'::jsonb  -- a root single step (every job): no call
                    ELSE pgflow._task_input(c.flow_slug, c.run_id, c.step_slug, s.deps_count) END,
               c.message_id, c.task_index,
               CASE WHEN s.step_type = 'single' AND s.deps_count = 0
                    THEN (SELECT r.input FROM pgflow.runs AS r WHERE r.run_id = c.run_id) END,
               c.attempts_count
          FROM claimed AS c
          JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
          LEFT JOIN items AS i ON i.run_id = c.run_id AND i.step_slug = c.step_slug
         ORDER BY c.message_id;
END;
$$;

-- 0170_function_start_tasks.sql
-- Claim the tasks behind messages a worker has just read from the flow's queue, in one
-- statement: pgflow._start_tasks' claim (shared with claim_tasks: a task is claimed when it is
-- queued and both its run and its step are started, and becomes 'started' with task:started;
-- messages without such a task give no row, so the worker must accept fewer tasks than
-- messages), then each claimed message is hidden for the step's timeout (step, else flow) + 2
-- seconds.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise (read pgflow.runs.input).
CREATE OR REPLACE FUNCTION pgflow.start_tasks(flow_slug text, msg_ids bigint[], worker_id uuid)
RETURNS SETOF pgflow.step_task_record
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH claimed AS (
        SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
          FROM pgflow._start_tasks(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id) AS c
    ),
    visibility AS (
        -- hide the claimed messages for the step's timeout + 2 s; read by the final SELECT, so
        -- it always runs (an unread SELECT in WITH would be skipped)
        SELECT count(*) AS extended
          FROM (SELECT array_agg(c.msg_id ORDER BY c.msg_id) AS ids,
                       array_agg(coalesce(s.opt_timeout, f.opt_timeout) + 2 ORDER BY c.msg_id) AS offsets
                  FROM claimed AS c
                  JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
                  JOIN pgflow.flows AS f ON f.flow_slug = c.flow_slug) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(start_tasks.flow_slug, batch.ids, batch.offsets)
    )
    SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
      FROM claimed AS c
     CROSS JOIN visibility
     ORDER BY c.msg_id;
$$;

-- 0224_function__fail_task_type_violation.sql
-- A single step produced a non-array output for a dependent map step: the task fails keeping
-- the offending output (task:failed), the step and the run fail (step:failed, run:failed,
-- in-flight messages archived) and the task's own message is archived. Not retried: the
-- same handler would produce the same type again.
CREATE OR REPLACE FUNCTION pgflow._fail_task_type_violation(
    p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_task pgflow.step_tasks;
BEGIN
    UPDATE pgflow.step_tasks AS t
       SET status = 'failed', failed_at = now(), output = p_output, error_message = p_error_message
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    PERFORM pgmq.archive(v_task.flow_slug, v_task.message_id);
END;
$$;

-- 0225_function__lock_reported_task.sql
-- First step of complete_task and fail_task: lock the task's step state row (so reports of
-- sibling tasks are applied one after another) and decide whether the report counts.
-- Returns one row - the task's flow, step settings and message - when run, step and task are
-- all 'started'. Returns nothing for an unknown task, and for a late report (the run failed or
-- the step is no longer started: then the task's message is archived) or a task that is not
-- started (completed already, or requeued: left alone).
CREATE OR REPLACE FUNCTION pgflow._lock_reported_task(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS TABLE (flow_slug text, step_type text, remaining_tasks int, message_id bigint, attempts_count int,
               when_exhausted text, max_attempts int, base_delay int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_step_status text;
    v_task_status text;
    v_run_status text;
BEGIN
    SELECT ss.flow_slug, s.step_type, ss.status, ss.remaining_tasks, s.when_exhausted,
           coalesce(s.opt_max_attempts, f.opt_max_attempts), coalesce(s.opt_base_delay, f.opt_base_delay)
      INTO flow_slug, step_type, v_step_status, remaining_tasks, when_exhausted, max_attempts, base_delay
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
      JOIN pgflow.flows AS f ON f.flow_slug = ss.flow_slug
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
       FOR UPDATE OF ss;
    -- a new statement, so it sees what earlier holders of the lock committed
    SELECT t.status, t.message_id, t.attempts_count, r.status
      INTO v_task_status, message_id, attempts_count, v_run_status
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index;

    IF v_task_status IS NULL OR v_step_status IS NULL THEN
        RETURN;
    END IF;
    IF pgflow._is_terminal(v_run_status) OR v_step_status <> 'started' THEN
        PERFORM pgmq.archive(flow_slug, message_id);
        RETURN;
    END IF;
    IF v_task_status = 'started' THEN
        RETURN NEXT;
    END IF;
END;
$$;

-- 0226_function__on_step_completed.sql
-- A step of a run has just completed (its state row holds the output): emit step:completed,
-- release its dependents and move the run on (after a leaf step, only the run itself can
-- complete). The caller holds the run row lock.
-- Twin: _finish_steps does the same for many steps at once (complete_tasks); guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py.
CREATE OR REPLACE FUNCTION pgflow._on_step_completed(p_run_id uuid, p_step_slug text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_state pgflow.step_states;
    v_released int;
BEGIN
    SELECT ss.* INTO v_state
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug;
    PERFORM pgflow._emit(pgflow._step_event('step:completed', v_state));
    v_released := pgflow._pass_output_to_dependents(p_run_id, p_step_slug, v_state.output);
    UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = p_run_id;
    IF v_released > 0 THEN
        PERFORM pgflow._advance_run(p_run_id);
    ELSE
        -- a leaf step: no step became ready (every earlier change ran the cascades already)
        PERFORM pgflow.maybe_complete_run(p_run_id);
    END IF;
END;
$$;

-- 0227_function__lock_started_run.sql
-- Lock a run row before a report changes the run (a step finishes); false when the run is no
-- longer started (it failed while the caller waited for the lock).
CREATE OR REPLACE FUNCTION pgflow._lock_started_run(p_run_id uuid)
RETURNS boolean
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    SELECT coalesce((SELECT NOT pgflow._is_terminal(r.status) FROM pgflow.runs AS r WHERE r.run_id = p_run_id FOR UPDATE), false)
$$;

-- 0228_function__complete_task_apply.sql
-- One report of a task's output, applied on its own: complete_tasks (and so complete_task)
-- sends here every report its set-based path does not take (late, repeated, possibly violating
-- a dependent map's type, or of a run that failed meanwhile).
-- Twin: complete_tasks' set-based path applies clean reports; this function applies them too
-- when a report turns clean after complete_tasks sorted it out (a requeued task claimed again
-- meanwhile), and the two must leave the same rows and events: guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py (every outcome) and
-- tests/sql/complete_tasks/test_same_result_as_complete_task.py.
--
-- Locking: the step state row first (_lock_reported_task), so sibling tasks of one step (map
-- tasks) complete one after another with an exact remaining_tasks count; the run row only in
-- the completion that finishes the step, because only then are the run and the dependents
-- touched. Order of locks everywhere: step state, run, task, queue messages.
CREATE OR REPLACE FUNCTION pgflow._complete_task_apply(
    p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_reported record;
    v_violation text;
    v_task pgflow.step_tasks;
    v_step_status text;
BEGIN
    SELECT * INTO v_reported FROM pgflow._lock_reported_task(p_run_id, p_step_slug, p_task_index);
    IF NOT FOUND THEN
        RETURN;
    END IF;

    IF v_reported.remaining_tasks = 1 THEN
        IF NOT pgflow._lock_started_run(p_run_id) THEN
            PERFORM pgmq.archive(v_reported.flow_slug, v_reported.message_id);
            RETURN;
        END IF;
        IF v_reported.step_type = 'single' THEN
            v_violation := pgflow._output_type_violation(p_run_id, p_step_slug, p_output);
            IF v_violation IS NOT NULL THEN
                PERFORM pgflow._fail_task_type_violation(p_run_id, p_step_slug, p_task_index, p_output, v_violation);
                RETURN;
            END IF;
        END IF;
    END IF;

    UPDATE pgflow.step_tasks AS t
       SET status = 'completed', output = p_output, completed_at = now()
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;  -- requeued by requeue_stalled_tasks meanwhile
    END IF;
    PERFORM pgflow._emit(pgflow._task_event('task:completed', v_task));

    UPDATE pgflow.step_states AS ss
       SET remaining_tasks = ss.remaining_tasks - 1,
           status = CASE WHEN ss.remaining_tasks = 1 THEN 'completed' ELSE ss.status END,
           completed_at = CASE WHEN ss.remaining_tasks = 1 THEN now() END,
           output = CASE
               WHEN ss.remaining_tasks > 1 THEN NULL
               WHEN v_reported.step_type = 'single' THEN p_output
               ELSE (SELECT coalesce(jsonb_agg(t.output ORDER BY t.task_index), '[]'::jsonb)
                       FROM pgflow.step_tasks AS t
                      WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug)
           END
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
    RETURNING ss.status INTO v_step_status;

    IF v_step_status = 'completed' THEN
        PERFORM pgflow._on_step_completed(p_run_id, p_step_slug);
    END IF;
    PERFORM pgmq.archive(v_reported.flow_slug, v_reported.message_id);
END;
$$;

-- 0229_function_complete_task.sql
-- A worker reports a task's output. The task completes (task:completed); when it was the last
-- task of its step the step completes (step:completed) with the output - the task's output
-- for a single step, the outputs of all tasks in task_index order for a map step (nulls kept)
-- - its dependents are released, steps that became ready start, and the run completes when no
-- step is left. The task's message is archived. A single step whose output is not an array
-- although a map step maps it fails the run ('[TYPE_VIOLATION] ...').
-- Late or repeated reports change nothing (see _lock_reported_task). Returns the task row (no
-- row for an unknown task).
-- One implementation: this is complete_tasks with one report (its set-based path for a clean
-- report, _complete_task_apply for any other).
CREATE OR REPLACE FUNCTION pgflow.complete_task(run_id uuid, step_slug text, task_index int, output jsonb)
RETURNS SETOF pgflow.step_tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    PERFORM 1 FROM pgflow.complete_tasks(ARRAY[complete_task.run_id], ARRAY[complete_task.step_slug],
                                         ARRAY[complete_task.task_index], ARRAY[complete_task.output]);
    RETURN QUERY
        SELECT t.* FROM pgflow.step_tasks AS t
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index;
END;
$$;

-- 0230_function__skip_failed_step.sql
-- A task of a step with when_exhausted 'skip' or 'skip-cascade' used up its attempts: the step
-- is skipped (skip_reason 'handler_failed', keeping the error message; step:skipped), the
-- messages of its other unfinished tasks are archived, and the run goes on without it -
-- dependents lose one dependency (a dependent map step gets zero tasks), or with
-- 'skip-cascade' everything downstream is skipped too. The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._skip_failed_step(
    p_run_id uuid, p_step_slug text, p_error_message text, p_cascade boolean)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_state pgflow.step_states;
BEGIN
    UPDATE pgflow.step_states AS ss
       SET status = 'skipped', skip_reason = 'handler_failed', skipped_at = now(),
           remaining_tasks = NULL, error_message = p_error_message
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug AND ss.status = 'started'
    RETURNING ss.* INTO v_state;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM pgflow._emit(pgflow._step_event('step:skipped', v_state));

    PERFORM pgflow._archive_active_messages(p_run_id, ARRAY[p_step_slug]);
    UPDATE pgflow.runs AS r SET remaining_steps = r.remaining_steps - 1 WHERE r.run_id = p_run_id;
    IF p_cascade THEN
        PERFORM pgflow._cascade_force_skip_steps(p_run_id, p_step_slug, 'handler_failed');
    ELSE
        PERFORM pgflow._release_dependents(p_run_id, ARRAY[p_step_slug]);
    END IF;
    PERFORM pgflow._advance_run(p_run_id);
END;
$$;

-- 0231_function__fail_task_apply.sql
-- The state change behind fail_task (which then returns the task row). Locks as
-- _complete_task_apply does: the step state row first, the run row only when the task has
-- used up its attempts (then the step fails or is skipped).
--
-- With attempts left (attempts_count < max_attempts, step option else flow option) the task
-- is queued again and its message hidden for calculate_retry_delay(base_delay, attempts_count)
-- seconds. Otherwise the task fails and when_exhausted decides: 'fail' fails the step and the
-- run, 'skip' / 'skip-cascade' skip the step (see _skip_failed_step). task:failed tells which
-- (will_retry, retry_at).
CREATE OR REPLACE FUNCTION pgflow._fail_task_apply(
    p_run_id uuid, p_step_slug text, p_task_index int, p_error_message text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_reported record;
    v_exhausted boolean;
    v_task pgflow.step_tasks;
    v_delay int;
    v_retry_at timestamptz;
BEGIN
    SELECT * INTO v_reported FROM pgflow._lock_reported_task(p_run_id, p_step_slug, p_task_index);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_exhausted := v_reported.attempts_count >= v_reported.max_attempts;
    IF v_exhausted AND NOT pgflow._lock_started_run(p_run_id) THEN
        PERFORM pgmq.archive(v_reported.flow_slug, v_reported.message_id);
        RETURN;
    END IF;

    UPDATE pgflow.step_tasks AS t
       SET status = CASE WHEN v_exhausted THEN 'failed' ELSE 'queued' END,
           started_at = CASE WHEN v_exhausted THEN t.started_at END,
           failed_at = CASE WHEN v_exhausted THEN now() END,
           error_message = p_error_message
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'started'
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN;  -- requeued by requeue_stalled_tasks meanwhile
    END IF;

    IF NOT v_exhausted THEN
        v_delay := pgflow.calculate_retry_delay(v_reported.base_delay, v_task.attempts_count);
        SELECT m.vt INTO v_retry_at FROM pgmq.set_vt(v_reported.flow_slug, v_task.message_id, v_delay) AS m;
        v_retry_at := coalesce(v_retry_at, clock_timestamp() + make_interval(secs => v_delay));
        PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task, v_retry_at));
        RETURN;
    END IF;

    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    IF v_reported.when_exhausted = 'fail' THEN
        PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    ELSE
        PERFORM pgflow._skip_failed_step(p_run_id, p_step_slug, p_error_message,
                                         v_reported.when_exhausted = 'skip-cascade');
    END IF;
    PERFORM pgmq.archive(v_reported.flow_slug, v_task.message_id);
END;
$$;

-- 0240_function_requeue_stalled_tasks.sql
-- Give tasks of crashed workers another chance. A task is stalled when it has been 'started'
-- for longer than its step's effective timeout (step option, else flow option) + 30 seconds
-- while its run and its step are still started. A stalled task is requeued at most 3 times:
-- back to 'queued' (started_at and last_worker_id cleared, requeued_count + 1,
-- last_requeued_at) with its message visible at once. After that it is given up: it stays
-- 'started', gets permanently_stalled_at and its message is archived.
-- Rows locked by someone else are skipped (SKIP LOCKED), so concurrent sweepers do not wait.
-- Returns how many tasks were requeued. Run it periodically (pg_cron or the Python worker).
CREATE OR REPLACE FUNCTION pgflow.requeue_stalled_tasks()
RETURNS int
LANGUAGE sql
VOLATILE
SECURITY DEFINER
SET search_path = ''
AS $$
    WITH stalled AS (
        SELECT t.run_id, t.step_slug, t.task_index, t.flow_slug, t.message_id, t.requeued_count
          FROM pgflow.step_tasks AS t
          JOIN pgflow.runs AS r ON r.run_id = t.run_id
          JOIN pgflow.step_states AS ss ON ss.run_id = t.run_id AND ss.step_slug = t.step_slug
          JOIN pgflow.steps AS s ON s.flow_slug = t.flow_slug AND s.step_slug = t.step_slug
          JOIN pgflow.flows AS f ON f.flow_slug = t.flow_slug
         WHERE t.status = 'started'
           AND t.permanently_stalled_at IS NULL
           AND NOT pgflow._is_terminal(r.status)
           AND ss.status = 'started'
           AND t.started_at < now() - make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 30)
           FOR UPDATE OF t SKIP LOCKED
    ),
    requeued AS (
        UPDATE pgflow.step_tasks AS t
           SET status = 'queued', started_at = NULL, last_worker_id = NULL,
               requeued_count = t.requeued_count + 1, last_requeued_at = now()
          FROM stalled
         WHERE stalled.requeued_count < 3
           AND t.run_id = stalled.run_id AND t.step_slug = stalled.step_slug
           AND t.task_index = stalled.task_index
        RETURNING t.flow_slug, t.message_id
    ),
    given_up AS (
        UPDATE pgflow.step_tasks AS t
           SET permanently_stalled_at = now()
          FROM stalled
         WHERE stalled.requeued_count >= 3
           AND t.run_id = stalled.run_id AND t.step_slug = stalled.step_slug
           AND t.task_index = stalled.task_index
        RETURNING t.flow_slug, t.message_id
    ),
    -- the two message statements below are read by the final SELECT, so they always run
    made_visible AS (
        SELECT count(*) AS n
          FROM (SELECT q.flow_slug, array_agg(q.message_id) AS ids
                  FROM requeued AS q WHERE q.message_id IS NOT NULL
                 GROUP BY q.flow_slug) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(batch.flow_slug, batch.ids,
                                                array_fill(0, ARRAY[cardinality(batch.ids)])) AS m
    ),
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT g.flow_slug, array_agg(g.message_id) AS ids
                  FROM given_up AS g WHERE g.message_id IS NOT NULL
                 GROUP BY g.flow_slug) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.flow_slug, batch.ids) AS a
    )
    SELECT (SELECT count(*)::int FROM requeued)
      FROM made_visible, archived
$$;

-- 0261_function_prune_data_older_than.sql
-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in the queue; archived queue messages older than
-- the cutoff; workers (of those flows' queues) whose last heartbeat is older than the cutoff.
-- Started runs are never touched, however old. Keep the retention longer than any start_delay.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[])
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := now() - prune_data_older_than.retention_interval;
    v_runs uuid[];
    v_counts jsonb := '{}';
    v_n int;
BEGIN
    SELECT coalesce(array_agg(r.run_id), '{}') INTO v_runs
      FROM pgflow.runs AS r
     WHERE (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
       AND pgflow._is_terminal(r.status)
       AND coalesce(r.completed_at, r.failed_at) < v_cutoff;

    SELECT jsonb_build_object(
               'messages', coalesce(sum((q.pruned->>'messages')::int), 0),
               'archived_messages', coalesce(sum((q.pruned->>'archived_messages')::int), 0))
      INTO v_counts
      FROM pgflow.flows AS f
     CROSS JOIN LATERAL pgflow._prune_queue(
            f.flow_slug,
            ARRAY(SELECT t.message_id FROM pgflow.step_tasks AS t
                   WHERE t.run_id = ANY (v_runs) AND t.flow_slug = f.flow_slug AND t.message_id IS NOT NULL),
            v_cutoff) AS q(pruned)
     WHERE prune_data_older_than.flow_slugs IS NULL OR f.flow_slug = ANY (prune_data_older_than.flow_slugs);

    DELETE FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('step_tasks', v_n);
    DELETE FROM pgflow.step_states AS ss WHERE ss.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('step_states', v_n);
    DELETE FROM pgflow.runs AS r WHERE r.run_id = ANY (v_runs);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('runs', v_n);

    DELETE FROM pgflow.workers AS w
     WHERE w.last_heartbeat_at < v_cutoff
       AND (prune_data_older_than.flow_slugs IS NULL OR w.queue_name = ANY (prune_data_older_than.flow_slugs));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_counts || jsonb_build_object('workers', v_n);
END;
$$;

-- 0270_function_hand_back_tasks.sql
-- A worker shutting down gives back the tasks it claimed but will not finish, so another worker
-- takes them at once instead of waiting for the sweeper (requeue_stalled_tasks).
-- The tasks are those of `msg_ids` in the flow's queue that are still 'started' by `worker_id`
-- in a started run and step (tasks of a finished run or step are left alone, as the sweeper
-- leaves them). Each goes back to 'queued' (started_at and last_worker_id cleared) and its
-- message becomes visible now.
-- The interrupted attempt does not count: attempts_count goes back down by one, so a deploy that
-- stops workers mid-task never uses up a task's retries, and the next claim runs the same
-- attempt number again. requeued_count is not touched (that limit is for crashed workers).
-- No event is emitted: no task event can say "queued again, same attempt" without the next
-- task:started of that attempt being ignored by forward-only subscribers (docs/reference/events.md).
-- Returns how many tasks were handed back.
CREATE OR REPLACE FUNCTION pgflow.hand_back_tasks(flow_slug text, msg_ids bigint[], worker_id uuid)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH handed_back AS (
        UPDATE pgflow.step_tasks AS t
           SET status = 'queued', started_at = NULL, last_worker_id = NULL,
               attempts_count = greatest(t.attempts_count - 1, 0)
          FROM pgflow.runs AS r, pgflow.step_states AS ss
         WHERE t.flow_slug = hand_back_tasks.flow_slug
           AND t.message_id = ANY (hand_back_tasks.msg_ids)
           AND t.status = 'started'
           AND t.last_worker_id = hand_back_tasks.worker_id
           AND r.run_id = t.run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.run_id = t.run_id AND ss.step_slug = t.step_slug AND ss.status = 'started'
        RETURNING t.message_id
    ),
    -- read by the final SELECT, so it always runs
    made_visible AS (
        SELECT count(*) AS n
          FROM pgflow.set_vt_batch(hand_back_tasks.flow_slug,
                                   ARRAY(SELECT h.message_id FROM handed_back AS h),
                                   array_fill(0, ARRAY[(SELECT count(*)::int FROM handed_back)])) AS m
    )
    SELECT (SELECT count(*)::int FROM handed_back)
      FROM made_visible
$$;

-- 0271_function__mark_steps_skipped.sql
-- Mark steps of a run skipped, each for its own reason: p_step_slugs[i] gets skip_reason
-- p_skip_reasons[i] when it is not completed, failed or skipped yet, and step:skipped is emitted
-- for it. The messages of the skipped steps' unfinished tasks are archived and the run's
-- remaining_steps drops by their number. Dependents are left to the caller: _skip_steps
-- releases them, _cascade_force_skip_steps skips them too.
-- Returns the slugs of the steps it skipped (NULL when none).
CREATE OR REPLACE FUNCTION pgflow._mark_steps_skipped(p_run_id uuid, p_step_slugs text[], p_skip_reasons text[])
RETURNS text[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    WITH skipped AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'skipped', skip_reason = given.skip_reason, skipped_at = now(), remaining_tasks = NULL
          FROM unnest(p_step_slugs, p_skip_reasons) AS given (step_slug, skip_reason)
         WHERE ss.run_id = p_run_id
           AND ss.step_slug = given.step_slug
           AND NOT pgflow._is_terminal(ss.status)
        RETURNING ss.step_slug, pgflow._emit(pgflow._step_event('step:skipped', ss)) AS emitted
    )
    SELECT array_agg(skipped.step_slug) INTO v_skipped FROM skipped;
    IF v_skipped IS NOT NULL THEN
        PERFORM pgflow._archive_active_messages(p_run_id, v_skipped);
        UPDATE pgflow.runs AS r
           SET remaining_steps = r.remaining_steps - cardinality(v_skipped)
         WHERE r.run_id = p_run_id;
    END IF;
    RETURN v_skipped;
END;
$$;

-- 0700_function__finish_steps.sql
-- Batch path (complete_tasks): steps of runs that have just completed (their state rows hold
-- status 'completed' and the output). For all of them at once: step:completed, their outputs
-- passed to the dependents, remaining_steps of each run lowered; then each run with a released
-- dependent moves on (_advance_runs: ready steps start; conditions, taskless steps and completion
-- as _advance_run); a run with no step left completes.
-- The same end state and events, per run in the same order, as one _on_step_completed per step.
-- Twin: _on_step_completed (one step, _complete_task_apply); guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py.
-- The caller holds the locks of the step states and of the runs.
CREATE OR REPLACE FUNCTION pgflow._finish_steps(p_run_ids uuid[], p_step_slugs text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_released uuid[];
    v_completed int;
    v_events boolean := pgflow._events_wanted();
BEGIN
    IF v_events THEN
        PERFORM pgflow._emit(pgflow._step_event('step:completed', ss))
           FROM unnest(p_run_ids, p_step_slugs) AS d (run_id, step_slug)
           JOIN pgflow.step_states AS ss ON ss.run_id = d.run_id AND ss.step_slug = d.step_slug;
    END IF;

    -- every dependent loses one dependency per completed parent; a dependent map step (one
    -- parent) learns its task count from the parent's array
    WITH released AS (
        UPDATE pgflow.step_states AS child
           SET remaining_deps = child.remaining_deps - x.parents,
               initial_tasks = coalesce(x.map_tasks, child.initial_tasks)
          FROM (SELECT parent.run_id, d.step_slug, count(*)::int AS parents,
                       max(CASE WHEN s.step_type = 'map' AND jsonb_typeof(parent.output) = 'array'
                                THEN jsonb_array_length(parent.output) END) AS map_tasks
                  FROM unnest(p_run_ids, p_step_slugs) AS done (run_id, step_slug)
                  JOIN pgflow.step_states AS parent
                    ON parent.run_id = done.run_id AND parent.step_slug = done.step_slug
                  JOIN pgflow.deps AS d ON d.flow_slug = parent.flow_slug AND d.dep_slug = parent.step_slug
                  JOIN pgflow.steps AS s ON s.flow_slug = d.flow_slug AND s.step_slug = d.step_slug
                 GROUP BY parent.run_id, d.step_slug) AS x
         WHERE child.run_id = x.run_id AND child.step_slug = x.step_slug AND child.status = 'created'
        RETURNING child.run_id
    )
    SELECT array_agg(DISTINCT released.run_id) INTO v_released FROM released;

    -- each run loses its completed steps; a run left with none completes in the same update
    -- (what maybe_complete_run does: output = the completed leaf steps' outputs, run:completed)
    WITH lowered AS (
        UPDATE pgflow.runs AS r
           SET remaining_steps = r.remaining_steps - x.steps,
               status = CASE WHEN r.remaining_steps = x.steps THEN 'completed' ELSE r.status END,
               completed_at = CASE WHEN r.remaining_steps = x.steps THEN now() ELSE r.completed_at END,
               output = CASE WHEN r.remaining_steps > x.steps THEN r.output ELSE (
                   SELECT jsonb_object_agg(ss.step_slug, ss.output)
                     FROM pgflow.step_states AS ss
                    WHERE ss.run_id = r.run_id
                      AND ss.status = 'completed'
                      AND NOT EXISTS (SELECT 1 FROM pgflow.deps AS d
                                       WHERE d.flow_slug = ss.flow_slug AND d.dep_slug = ss.step_slug)) END
          FROM (SELECT d.run_id, count(*)::int AS steps FROM unnest(p_run_ids) AS d (run_id) GROUP BY d.run_id) AS x
         WHERE r.run_id = x.run_id AND NOT pgflow._is_terminal(r.status)
           AND r.run_id = ANY (p_run_ids)  -- probe runs by key, never scan them
        RETURNING CASE WHEN v_events AND r.status = 'completed'
                       THEN pgflow._emit(pgflow._run_event('run:completed', r)) END AS emitted
    )
    SELECT count(l.emitted) INTO v_completed FROM lowered AS l;

    IF v_released IS NOT NULL THEN
        PERFORM pgflow._advance_runs(v_released);
    END IF;
END;
$$;

-- 0702_function_claim_tasks.sql
-- Read and claim in one call (one round trip, one commit): up to `qty` visible messages of a
-- flow's queue (named after the flow), oldest first, then start_tasks' claim of their tasks. The
-- read is pgmq.read's (FOR UPDATE SKIP LOCKED, read_ct + 1), prepared once per session and queue
-- (pgmq.read plans its dynamic SQL on every call, which cost more than the read itself), and
-- hides each message for its step's timeout + 2 s straight away. Messages enqueued by a
-- transaction that started after this one are left for the next call: the claim stamps
-- started_at with now(), which must not precede the task's queued_at.
-- Returns one row per claimed task (start_tasks' columns, plus attempt, the attempt now
-- starting), each carrying `messages`, how many messages were read; when none of them gave a
-- task, a single row with `messages` and NULL elsewhere; no row when the queue had nothing.
-- Its statements run with generic plans: custom plans were re-planned on every call.
CREATE OR REPLACE FUNCTION pgflow.claim_tasks(queue_name text, qty int, worker_id uuid)
RETURNS TABLE (messages int, flow_slug text, run_id uuid, step_slug text, input jsonb, msg_id bigint,
               task_index int, flow_input jsonb, attempt int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_ids bigint[];
    -- one prepared read per queue; a long queue name is hashed to stay within 63 bytes
    v_read text := 'pgflow_claim_read_' || CASE WHEN octet_length(claim_tasks.queue_name) <= 45
                                                THEN claim_tasks.queue_name ELSE md5(claim_tasks.queue_name) END;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements AS p WHERE p.name = v_read) THEN
        EXECUTE format($read$
        PREPARE %2$I (int, text) AS
        WITH picked AS (
            SELECT q.msg_id, q.message->>'step_slug' AS step_slug
              FROM pgmq.%1$I AS q
             WHERE q.vt <= clock_timestamp() AND q.enqueued_at <= now()
             ORDER BY q.msg_id
             LIMIT $1
               FOR UPDATE SKIP LOCKED
        ),
        hidden AS (
            UPDATE pgmq.%1$I AS q
               SET vt = clock_timestamp() + make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 2),
                   read_ct = q.read_ct + 1,
                   last_read_at = clock_timestamp()
              FROM picked AS p
              JOIN pgflow.flows AS f ON f.flow_slug = $2
              LEFT JOIN pgflow.steps AS s ON s.flow_slug = f.flow_slug AND s.step_slug = p.step_slug
             WHERE q.msg_id = p.msg_id
               -- by key: the generic plan cannot know how few rows LIMIT $1 leaves
               AND q.msg_id = ANY (ARRAY(SELECT p2.msg_id FROM picked AS p2))
            RETURNING q.msg_id
        )
        SELECT array_agg(h.msg_id ORDER BY h.msg_id) FROM hidden AS h
        $read$, pgmq.format_table_name(claim_tasks.queue_name, 'q'), v_read);
    END IF;
    EXECUTE format('EXECUTE %I(%s, %L)', v_read, claim_tasks.qty, claim_tasks.queue_name) INTO v_ids;

    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    -- the claim of start_tasks (pgflow._start_tasks: same eligibility, same updates, task:started,
    -- same inputs), without moving the messages' visibility a second time
    RETURN QUERY
        SELECT cardinality(v_ids), c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index,
               c.flow_input, c.attempt
          FROM pgflow._start_tasks(claim_tasks.queue_name, v_ids, claim_tasks.worker_id) AS c
         ORDER BY c.msg_id;
    IF NOT FOUND THEN
        RETURN QUERY SELECT cardinality(v_ids), NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                            NULL::int, NULL::jsonb, NULL::int;
    END IF;
END;
$$;

-- 0703_function_complete_tasks.sql
-- Report task outputs, many in one call (one round trip, one commit), element i of each array
-- describing one task; complete_task is this function with one report. The result is what
-- reporting the tasks one at a time would leave, the clean reports (below) first: same rows,
-- same events (per run in a valid order: task:completed, step:completed, dependents'
-- step:started, run:completed), messages archived. Returns each reported task's status
-- afterwards, in the order given (NULL status for an unknown task).
--
-- Set-based where it is safe: tasks that are started, of a started step of a started run, are
-- completed with one statement per table, whatever their number (a map step's tasks lower its
-- remaining_tasks once per call, not once per task). Everything else - late or repeated
-- reports, outputs that may violate a dependent map's type - goes through _complete_task_apply,
-- one by one. Locks: every reported step state first (ordered by run, step), then the runs
-- whose step completes (ordered by run).
-- Twin: _complete_task_apply applies one report the same way; guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py (every outcome).
CREATE OR REPLACE FUNCTION pgflow.complete_tasks(run_ids uuid[], step_slugs text[], task_indexes int[], outputs jsonb[])
RETURNS TABLE (run_id uuid, step_slug text, task_index int, status text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_fast bigint[];       -- ordinals of the reports that take the set-based path
    v_lock_runs uuid[];
    v_gone uuid[];
    v_done_runs uuid[];
    v_done_steps text[];
    v_slow record;
    v_events boolean := pgflow._events_wanted();
BEGIN
    IF cardinality(run_ids) IS DISTINCT FROM cardinality(step_slugs)
       OR cardinality(run_ids) IS DISTINCT FROM cardinality(task_indexes)
       OR cardinality(run_ids) IS DISTINCT FROM cardinality(outputs) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('complete_tasks got arrays of different lengths (%s run ids, %s step slugs, '
                             '%s task indexes, %s outputs)', cardinality(run_ids), cardinality(step_slugs),
                             cardinality(task_indexes), cardinality(outputs)),
            HINT = 'Pass one element per task in each of the four arrays.';
    END IF;

    -- Every lookup below probes the primary key for each report (LATERAL ... OFFSET 0, or TIDs
    -- collected that way): whatever the statistics say, a plan that scans the started tasks
    -- would also walk the dead index entries they leave behind, and a map leaves thousands.
    -- (For the same reason this function keeps custom plans: a generic plan of the task update
    -- scanned the partial index of started tasks, 15 s instead of 3 s for a 10,000-item map.)
    PERFORM 1
       FROM (SELECT DISTINCT u.run_id, u.step_slug
               FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs) AS u (run_id, step_slug)
              ORDER BY u.run_id, u.step_slug) AS u
      CROSS JOIN LATERAL (SELECT 1 FROM pgflow.step_states AS ss
                           WHERE ss.run_id = u.run_id AND ss.step_slug = u.step_slug
                             FOR UPDATE OF ss) AS locked;

    -- the clean reports: the first report of a started task of a started step of a started run,
    -- whose output cannot violate a dependent map's type; and the runs where a step completes
    SELECT array_agg(x.ord), array_agg(DISTINCT x.run_id) FILTER (WHERE x.completes_step)
      INTO v_fast, v_lock_runs
      FROM (SELECT u.ord, u.run_id,
                   count(*) OVER (PARTITION BY u.run_id, u.step_slug) = ss.remaining_tasks AS completes_step
              FROM (SELECT DISTINCT ON (u.run_id, u.step_slug, u.task_index) u.*
                      FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                                  complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
                     ORDER BY u.run_id, u.step_slug, u.task_index, u.ord) AS u
              CROSS JOIN LATERAL (SELECT t.status FROM pgflow.step_tasks AS t
                                   WHERE t.run_id = u.run_id AND t.step_slug = u.step_slug
                                     AND t.task_index = u.task_index OFFSET 0) AS t
              JOIN pgflow.step_states AS ss ON ss.run_id = u.run_id AND ss.step_slug = u.step_slug
              JOIN pgflow.runs AS r ON r.run_id = u.run_id
              JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
             WHERE t.status = 'started' AND ss.status = 'started' AND NOT pgflow._is_terminal(r.status)
               AND r.run_id = ANY (complete_tasks.run_ids)  -- probe runs by key, never scan them
               AND NOT (s.step_type = 'single' AND jsonb_typeof(u.output) IS DISTINCT FROM 'array'
                        AND EXISTS (SELECT 1
                                      FROM pgflow.deps AS d
                                      JOIN pgflow.steps AS m ON m.flow_slug = d.flow_slug AND m.step_slug = d.step_slug
                                     WHERE d.flow_slug = s.flow_slug AND d.dep_slug = s.step_slug
                                       AND m.step_type = 'map'))) AS x;

    IF v_lock_runs IS NOT NULL THEN
        -- a run that failed meanwhile sends its reports down the one-by-one path (which archives)
        SELECT array_agg(locked.run_id) FILTER (WHERE pgflow._is_terminal(locked.status)) INTO v_gone
          FROM (SELECT r.run_id, r.status FROM pgflow.runs AS r
                 WHERE r.run_id = ANY (v_lock_runs) ORDER BY r.run_id FOR UPDATE OF r) AS locked;
        IF v_gone IS NOT NULL THEN
            v_fast := ARRAY(SELECT o FROM unnest(v_fast) AS o WHERE complete_tasks.run_ids[o::int] <> ALL (v_gone));
        END IF;
    END IF;

    IF cardinality(v_fast) > 0 THEN
        WITH reported AS (
            SELECT u.run_id, u.step_slug, u.task_index, u.output
              FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                          complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
             WHERE u.ord = ANY (v_fast)
        ),
        completed AS (
            UPDATE pgflow.step_tasks AS t
               SET status = 'completed', output = rep.output, completed_at = now()
              FROM reported AS rep
             WHERE t.ctid = ANY (ARRAY(
                       SELECT k.ctid
                         FROM reported AS r
                        CROSS JOIN LATERAL (SELECT p.ctid FROM pgflow.step_tasks AS p
                                             WHERE p.run_id = r.run_id AND p.step_slug = r.step_slug
                                               AND p.task_index = r.task_index OFFSET 0) AS k))
               AND t.run_id = rep.run_id AND t.step_slug = rep.step_slug AND t.task_index = rep.task_index
               AND t.status = 'started'
            RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id, t.output,
                CASE WHEN v_events THEN pgflow._emit(pgflow._task_event('task:completed', t)) END AS emitted
        ),
        archived AS (
            SELECT count(*) AS n
              FROM (SELECT c.flow_slug, array_agg(c.message_id) AS ids FROM completed AS c GROUP BY c.flow_slug) AS q
             CROSS JOIN LATERAL pgmq.archive(q.flow_slug, q.ids) AS a
        ),
        steps AS (
            UPDATE pgflow.step_states AS ss
               SET remaining_tasks = ss.remaining_tasks - c.n,
                   status = CASE WHEN ss.remaining_tasks = c.n THEN 'completed' ELSE ss.status END,
                   completed_at = CASE WHEN ss.remaining_tasks = c.n THEN now() END,
                   output = CASE
                       WHEN ss.remaining_tasks > c.n THEN NULL
                       WHEN s.step_type = 'single' THEN c.output
                       ELSE (SELECT coalesce(jsonb_agg(coalesce(mine.output, t.output) ORDER BY t.task_index), '[]'::jsonb)
                               FROM pgflow.step_tasks AS t
                               LEFT JOIN completed AS mine
                                 ON mine.run_id = t.run_id AND mine.step_slug = t.step_slug
                                AND mine.task_index = t.task_index
                              WHERE t.run_id = ss.run_id AND t.step_slug = ss.step_slug)
                   END
              FROM (SELECT c.run_id, c.step_slug, count(*)::int AS n, (array_agg(c.output))[1] AS output
                      FROM completed AS c GROUP BY c.run_id, c.step_slug) AS c,
                   pgflow.steps AS s
             WHERE ss.run_id = c.run_id AND ss.step_slug = c.step_slug
               AND s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
            RETURNING ss.run_id, ss.step_slug, ss.status
        )
        SELECT array_agg(st.run_id ORDER BY st.run_id, st.step_slug) FILTER (WHERE st.status = 'completed'),
               array_agg(st.step_slug ORDER BY st.run_id, st.step_slug) FILTER (WHERE st.status = 'completed')
          INTO v_done_runs, v_done_steps
          FROM steps AS st
         CROSS JOIN archived;

        IF v_done_runs IS NOT NULL THEN
            PERFORM pgflow._finish_steps(v_done_runs, v_done_steps);
        END IF;
    END IF;

    -- the reports that are not clean, one by one (none when every report took the set-based path)
    IF cardinality(v_fast) IS DISTINCT FROM cardinality(complete_tasks.run_ids) THEN
        FOR v_slow IN
            SELECT u.run_id, u.step_slug, u.task_index, u.output
              FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes,
                          complete_tasks.outputs) WITH ORDINALITY AS u (run_id, step_slug, task_index, output, ord)
             WHERE NOT (u.ord = ANY (coalesce(v_fast, '{}')))
             ORDER BY u.ord
        LOOP
            PERFORM pgflow._complete_task_apply(v_slow.run_id, v_slow.step_slug, v_slow.task_index, v_slow.output);
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT u.run_id, u.step_slug, u.task_index, t.status
          FROM unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes)
               WITH ORDINALITY AS u (run_id, step_slug, task_index, ord)
          LEFT JOIN LATERAL (SELECT p.status FROM pgflow.step_tasks AS p
                              WHERE p.run_id = u.run_id AND p.step_slug = u.step_slug
                                AND p.task_index = u.task_index OFFSET 0) AS t ON true
         ORDER BY u.ord;
END;
$$;

-- 0704_function__advance_runs.sql
-- Batch path: move on several runs at once after their steps completed (what _advance_run does
-- for one run). Runs whose ready steps are all plain - no condition to settle, at least one task
-- each - have those steps started set-based: one UPDATE of the step states (step:started each),
-- one pgmq.send_batch per queue and start delay for every task of every step, one INSERT of the
-- queued tasks. Any other run goes through _advance_run (conditions, taskless steps, completion).
-- The caller holds the locks of the runs.
-- Twin: start_ready_steps (through _advance_run) starts the same steps for one run; guarded by
-- tests/sql/complete_tasks/test_same_result_as_apply.py and
-- tests/sql/complete_tasks/test_same_result_as_complete_task.py.
CREATE OR REPLACE FUNCTION pgflow._advance_runs(p_run_ids uuid[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_full uuid[];
    v_run uuid;
    v_events boolean := pgflow._events_wanted();
BEGIN
    SELECT array_agg(DISTINCT ss.run_id) INTO v_full
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     WHERE ss.run_id = ANY (p_run_ids)
       AND ss.status = 'created' AND ss.remaining_deps = 0
       AND (s.required_input_pattern IS NOT NULL OR s.forbidden_input_pattern IS NOT NULL
            OR ss.initial_tasks IS NULL OR ss.initial_tasks = 0);

    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
         WHERE ss.run_id = ANY (p_run_ids) AND NOT (ss.run_id = ANY (coalesce(v_full, '{}')))
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            CASE WHEN v_events THEN pgflow._emit(pgflow._step_event('step:started', ss)) END AS emitted
    ),
    tasks AS (
        SELECT st.flow_slug, st.run_id, st.step_slug, i AS task_index, coalesce(s.opt_start_delay, 0) AS delay,
               row_number() OVER (PARTITION BY st.flow_slug, coalesce(s.opt_start_delay, 0)
                                  ORDER BY st.run_id, st.step_slug, i) AS pos
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN generate_series(0, st.initial_tasks - 1) AS i
    ),
    sent AS (
        -- pgmq numbers a batch in array order
        SELECT b.flow_slug, b.delay, m.msg_id, m.pos
          FROM (SELECT t.flow_slug, t.delay,
                       array_agg(jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id,
                                                    'step_slug', t.step_slug, 'task_index', t.task_index)
                                 ORDER BY t.pos) AS msgs
                  FROM tasks AS t
                 GROUP BY t.flow_slug, t.delay) AS b
         CROSS JOIN LATERAL pgmq.send_batch(b.flow_slug, b.msgs, b.delay) WITH ORDINALITY AS m (msg_id, pos)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
    SELECT t.flow_slug, t.run_id, t.step_slug, t.task_index, sent.msg_id
      FROM tasks AS t
      JOIN sent ON sent.flow_slug = t.flow_slug AND sent.delay = t.delay AND sent.pos = t.pos;

    FOR v_run IN SELECT unnest(v_full) ORDER BY 1 LOOP
        PERFORM pgflow._advance_run(v_run);
    END LOOP;
END;
$$;

