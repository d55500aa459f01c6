-- pgflow-py migration 0013_functions: drafted by scripts/build_migration.py from the schema files changed since 7afcf22

-- TODO by hand: 0058_tables_flow_control.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0064_tables_waits.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0068_tables_run_actions.sql changed (ALTER ..., data repairs)
-- 0105_function__fail_run.sql
-- Fail one step and, with it, its run: the step keeps the error message, the run is marked
-- failed at once (parallel branches are not waited for) and every task of the run still queued
-- or started is cancelled, its message archived, so workers pick up none of them
-- (pgflow._end_active_tasks; the caller has already ended the task that failed, if any). Emits
-- step:failed, then run:failed. A run that is no longer started is left alone, so a replay
-- changes and emits nothing.
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

    PERFORM pgflow._end_active_tasks(p_run_id, 'cancelled');

    -- pgflow-py (subflows): the run's children still going are cancelled, and a child run fails
    -- its parent's task
    PERFORM pgflow.cancel_run(c.run_id, 'its parent run failed')
       FROM pgflow.runs AS c
      WHERE c.parent_run_id = p_run_id AND c.status = 'started';
    IF v_run.parent_run_id IS NOT NULL THEN
        PERFORM pgflow._on_child_run_ended(p_run_id);
    END IF;
END;
$$;

-- 0126_function__take_wait.sql
-- pgflow-py addition (durable waits): the first part of ending a wait (_end_wait, _fail_wait):
-- lock the step state, then the run (the lock order of complete_task and cancel_run), and
-- delete the task's pgflow.waits row. True when the wait was there and its run is still going;
-- false otherwise (the wait ended before, or the run is over: then its row is dropped).
CREATE OR REPLACE FUNCTION pgflow._take_wait(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_going boolean;
BEGIN
    PERFORM 1 FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug
       FOR UPDATE;
    v_going := pgflow._lock_started_run(p_run_id);
    DELETE FROM pgflow.waits AS w
     WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
    RETURN FOUND AND v_going;
END;
$$;

-- 0127_function__wake_time.sql
-- pgflow-py addition (durable waits): a sleep step's wake time. Without p_at_path: p_started +
-- p_seconds. With it: the time found at that path of the step's input (an ISO 8601 text or
-- seconds since 1970) + p_seconds; NULL when there is nothing there or it is not a time (the
-- step then fails with the value it got; see _start_wait_steps). A time in the past is kept:
-- the step completes at once.
CREATE OR REPLACE FUNCTION pgflow._wake_time(p_at_path text[], p_input jsonb, p_started timestamptz, p_seconds int)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_value jsonb;
BEGIN
    IF p_at_path IS NULL THEN
        RETURN p_started + make_interval(secs => p_seconds);
    END IF;
    v_value := p_input #> p_at_path;
    IF v_value IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(v_value) = 'number' THEN
        RETURN to_timestamp((v_value #>> '{}')::double precision) + make_interval(secs => p_seconds);
    END IF;
    IF jsonb_typeof(v_value) <> 'string' OR lower(v_value #>> '{}') IN ('now', 'today', 'tomorrow', 'yesterday', 'epoch', 'infinity', '-infinity') THEN
        RETURN NULL;
    END IF;
    RETURN (v_value #>> '{}')::timestamptz + make_interval(secs => p_seconds);
EXCEPTION WHEN data_exception THEN
    RETURN NULL;
END;
$$;

-- 0128_function__fail_wait.sql
-- pgflow-py addition (durable waits): a waiting task fails for good with p_error_message (a
-- signal that timed out, a sleep without a wake time, a child run that failed or could not
-- start). Retry rules do not apply: the task fails at once (task:failed, will_retry false) and
-- the step's when_exhausted decides as for a task out of attempts - 'fail' fails the step and
-- the run (_fail_run), 'skip' / 'skip-cascade' skip the step (_skip_failed_step). Locks the step
-- state, then the run (pgflow._take_wait). Returns false, changing nothing but dropping the
-- wait, when the wait is gone or its run is over.
CREATE OR REPLACE FUNCTION pgflow._fail_wait(p_run_id uuid, p_step_slug text, p_task_index int, p_error_message text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_when_exhausted text;
    v_task pgflow.step_tasks;
BEGIN
    IF NOT pgflow._take_wait(p_run_id, p_step_slug, p_task_index) THEN
        RETURN false;
    END IF;
    SELECT s.when_exhausted INTO v_when_exhausted
      FROM pgflow.step_states AS ss
      JOIN pgflow.steps AS s ON s.flow_slug = ss.flow_slug AND s.step_slug = ss.step_slug
     WHERE ss.run_id = p_run_id AND ss.step_slug = p_step_slug;
    UPDATE pgflow.step_tasks AS t
       SET status = 'failed', started_at = now(), failed_at = now(), error_message = p_error_message,
           attempts_count = t.attempts_count + 1
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'queued' AND t.message_id IS NULL
    RETURNING t.* INTO v_task;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pgflow._emit(pgflow._task_event('task:failed', v_task));
    IF v_when_exhausted = 'fail' THEN
        PERFORM pgflow._fail_run(p_run_id, p_step_slug, p_error_message);
    ELSE
        PERFORM pgflow._skip_failed_step(p_run_id, p_step_slug, p_error_message, v_when_exhausted = 'skip-cascade');
    END IF;
    RETURN true;
END;
$$;

-- 0129_function__end_wait.sql
-- pgflow-py addition (durable waits): a waiting task's wait is over with p_output (a signal's
-- payload, a sleep's wake time, a signal's default on timeout, a child run's output). The task
-- starts (attempt 1; no task:started: no worker ran it) and completes through the path of a
-- worker's report (_complete_task_apply: task:completed, the step completes with its outputs,
-- dependents start, the run completes). Locks as that path does: the step state, then the run
-- (pgflow._take_wait).
-- Returns false, changing nothing but dropping the wait, when the wait is gone (ended before)
-- or its run is over (cancelled, failed meanwhile).
CREATE OR REPLACE FUNCTION pgflow._end_wait(p_run_id uuid, p_step_slug text, p_task_index int, p_output jsonb)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow._take_wait(p_run_id, p_step_slug, p_task_index) THEN
        RETURN false;
    END IF;
    UPDATE pgflow.step_tasks AS t
       SET status = 'started', started_at = now(), attempts_count = t.attempts_count + 1
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index
       AND t.status = 'queued' AND t.message_id IS NULL;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pgflow._complete_task_apply(p_run_id, p_step_slug, p_task_index, p_output);
    RETURN true;
END;
$$;

-- 0131_function__start_child_run.sql
-- pgflow-py addition (subflows): start the child run of one task of a subflow step (from
-- _start_wait_steps). The child is a run of wait_steps.child_flow_slug that records its parent
-- run, step and task (runs.parent_*, set through the run options) and continues its trace
-- (the parent's runs.trace_context); its input is the task's
-- input - the step's input for a single step (at input_path, when set), one element of the
-- mapped array for a map step. The task's wait then names the child (waits.child_run_id), and
-- the child's end completes or fails the task (pgflow._on_child_run_ended). A child that ends
-- inside its own start (every step taskless or skipped) ends the task at once. The task fails,
-- with no retry, when the child cannot start: an unknown flow, an input the child refuses, or
-- more than 10 levels of subflows. Under resume_run (setting pgflow.resuming), a task whose item
-- completed in the original run starts no child: resume_run reuses that child's output.
CREATE OR REPLACE FUNCTION pgflow._start_child_run(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_child_flow text;
    v_input jsonb;
    v_depth int;
    v_child pgflow.runs;
BEGIN
    -- resume_run of a run whose item completed: no new child; resume_run completes the task with
    -- the original's output
    IF EXISTS (SELECT 1 FROM pgflow.step_tasks AS o
                WHERE o.run_id = nullif(current_setting('pgflow.resuming', true), '')::uuid
                  AND o.step_slug = p_step_slug AND o.task_index = p_task_index AND o.status = 'completed') THEN
        DELETE FROM pgflow.waits AS w
         WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
        RETURN;
    END IF;
    SELECT r.* INTO v_run FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
    SELECT ws.child_flow_slug,
           CASE WHEN s.step_type = 'map'
                THEN (CASE WHEN s.deps_count = 0 THEN v_run.input
                           ELSE (SELECT dep.output FROM pgflow.deps AS d
                                   JOIN pgflow.step_states AS dep
                                     ON dep.run_id = p_run_id AND dep.step_slug = d.dep_slug
                                  WHERE d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug) END)
                     -> p_task_index
                ELSE coalesce(pgflow._wait_input(s.flow_slug, p_run_id, s.step_slug, v_run.input)
                              #> ws.input_path,
                              CASE WHEN ws.input_path IS NULL
                                   THEN pgflow._wait_input(s.flow_slug, p_run_id, s.step_slug, v_run.input) END)
           END
      INTO v_child_flow, v_input
      FROM pgflow.wait_steps AS ws
      JOIN pgflow.steps AS s ON s.flow_slug = ws.flow_slug AND s.step_slug = ws.step_slug
     WHERE ws.flow_slug = v_run.flow_slug AND ws.step_slug = p_step_slug;

    WITH RECURSIVE up AS (
        SELECT r.parent_run_id, 1 AS depth FROM pgflow.runs AS r WHERE r.run_id = p_run_id
        UNION ALL
        SELECT r.parent_run_id, up.depth + 1
          FROM up JOIN pgflow.runs AS r ON r.run_id = up.parent_run_id
         WHERE up.depth <= 10
    )
    SELECT max(up.depth) INTO v_depth FROM up;
    IF v_depth > 10 THEN
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L: a child run of flow %L would be more than 10 levels of subflows deep',
            p_step_slug, v_child_flow));
        RETURN;
    END IF;
    IF v_input IS NULL THEN
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L: its input has nothing at the child''s input path', p_step_slug));
        RETURN;
    END IF;

    BEGIN
        PERFORM set_config('pgflow.run_options', jsonb_strip_nulls(jsonb_build_object(
            'parent_run_id', p_run_id, 'parent_step_slug', p_step_slug, 'parent_task_index', p_task_index,
            'trace_context', v_run.trace_context))::text, true);
        SELECT c.* INTO v_child FROM pgflow.start_flow(v_child_flow, v_input) AS c;
    EXCEPTION WHEN sqlstate 'PF001' OR sqlstate 'PF003' THEN
        PERFORM set_config('pgflow.run_options', '', true);
        PERFORM pgflow._fail_wait(p_run_id, p_step_slug, p_task_index, format(
            'subflow step %L could not start a run of flow %L: %s', p_step_slug, v_child_flow, SQLERRM));
        RETURN;
    END;

    UPDATE pgflow.waits AS w SET child_run_id = v_child.run_id
     WHERE w.run_id = p_run_id AND w.step_slug = p_step_slug AND w.task_index = p_task_index;
    IF pgflow._is_terminal(v_child.status) THEN
        PERFORM pgflow._on_child_run_ended(v_child.run_id);
    END IF;
END;
$$;

-- 0132_function__on_child_run_ended.sql
-- pgflow-py addition (subflows): a child run ended (maybe_complete_run, _fail_run and cancel_run
-- call it for runs that have a parent, in the transaction that ends them): the parent's task
-- that waits for it completes with the child's output, or fails with the child's error (no
-- retry; the parent step's when_exhausted applies). Does nothing when the parent no longer waits
-- for this child (the parent is over, or the task ended before). Returns whether it ended the
-- parent's task.
CREATE OR REPLACE FUNCTION pgflow._on_child_run_ended(p_child_run_id uuid)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_child pgflow.runs;
    v_error text;
BEGIN
    SELECT r.* INTO v_child FROM pgflow.runs AS r WHERE r.run_id = p_child_run_id;
    IF v_child.parent_run_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM pgflow.waits AS w
         WHERE w.run_id = v_child.parent_run_id AND w.step_slug = v_child.parent_step_slug
           AND w.task_index = v_child.parent_task_index AND w.child_run_id = p_child_run_id) THEN
        RETURN false;
    END IF;
    IF v_child.status = 'completed' THEN
        RETURN pgflow._end_wait(v_child.parent_run_id, v_child.parent_step_slug, v_child.parent_task_index,
                                coalesce(v_child.output, 'null'::jsonb));
    END IF;
    SELECT ss.step_slug || ': ' || coalesce(ss.error_message, 'failed') INTO v_error
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = p_child_run_id AND ss.status = 'failed'
     ORDER BY ss.failed_at, ss.step_slug
     LIMIT 1;
    RETURN pgflow._fail_wait(v_child.parent_run_id, v_child.parent_step_slug, v_child.parent_task_index, format(
        'child run %s of flow %L %s: %s', p_child_run_id, v_child.flow_slug,
        CASE WHEN v_child.cancelled_at IS NOT NULL THEN 'was cancelled' ELSE 'failed' END,
        coalesce(v_error, v_child.cancel_reason, 'no step error')));
END;
$$;

-- 0133_function__start_wait_steps.sql
-- pgflow-py addition (durable waits): start the ready waiting steps of a run (signal, sleep and
-- subflow steps, listed in pgflow.wait_steps); start_ready_steps calls it after starting the
-- plain ones. Each becomes 'started' (step:started) with its tasks - one for a single step, one
-- per element for a map of subflows - queued WITHOUT a queue message, so no worker, Python or
-- TypeScript, ever claims them, and one pgflow.waits row per task: a signal step waits until its
-- timeout (NULL: none), a sleep step until its wake time, a subflow task for its child run.
-- The waits begin now (pgflow._begin_waits, in this transaction: a kept signal is delivered, a
-- past wake time completes the step, a child run starts), or, for a run that start_flow_at
-- enqueues for later (setting pgflow.start_at, set while it starts the run), at the run's due
-- time: until then each waits row has since = due_at = that time, and pgflow.wake_due_steps
-- begins them once it comes. The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._start_wait_steps(p_run_id uuid)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_begin timestamptz := greatest(now(), nullif(current_setting('pgflow.start_at', true), '')::timestamptz);
    v_started text[];
BEGIN
    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
          FROM pgflow.runs AS r, pgflow.wait_steps AS w
         WHERE ss.run_id = p_run_id AND r.run_id = p_run_id AND NOT pgflow._is_terminal(r.status)
           AND w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.step_slug, ss.initial_tasks, w.wait_kind,
            pgflow._emit(pgflow._step_event('step:started', ss)) AS emitted
    ),
    tasks AS (
        INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, queue_name)
        SELECT st.flow_slug, p_run_id, st.step_slug, i, s.queue_name
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN generate_series(0, st.initial_tasks - 1) AS i
        RETURNING step_tasks.step_slug, step_tasks.task_index
    ),
    waits AS (
        -- not begun yet: due_at = since, the time they begin (_begin_waits sets their deadline)
        INSERT INTO pgflow.waits (run_id, step_slug, task_index, wait_kind, since, due_at)
        SELECT p_run_id, t.step_slug, t.task_index, st.wait_kind, v_begin, v_begin
          FROM tasks AS t
          JOIN started AS st ON st.step_slug = t.step_slug
        RETURNING waits.step_slug
    )
    SELECT array_agg(DISTINCT waits.step_slug) INTO v_started FROM waits;

    IF v_started IS NOT NULL AND v_begin <= now() THEN
        PERFORM pgflow._begin_waits(p_run_id, v_started);
    END IF;
END;
$$;

-- 0134_function__begin_waits.sql
-- pgflow-py addition (durable waits): begin the waits of some steps of a run whose waits rows
-- exist but have not begun (due_at = since: the time they begin; pgflow._start_wait_steps makes
-- them). A signal wait gets its timeout (since + timeout; NULL: none), a sleep its wake time
-- (from since, or from the time in its input). Then, in step order then task order: a signal
-- kept for the step is delivered, a wake time already past completes the step, a wake time
-- that is not a timestamp fails it, and each subflow task starts its child run
-- (pgflow._start_child_run). Waits that began already are left alone. Called by
-- _start_wait_steps (a run due now) and by wake_due_steps (a run enqueued for later, once due).
-- The caller holds the run row lock.
CREATE OR REPLACE FUNCTION pgflow._begin_waits(p_run_id uuid, p_steps text[])
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_wait record;
BEGIN
    WITH begun AS (
        UPDATE pgflow.waits AS w
           SET due_at = CASE w.wait_kind
                   WHEN 'signal' THEN w.since + make_interval(secs => ws.timeout_seconds)
                   WHEN 'sleep' THEN pgflow._wake_time(
                       ws.at_path,
                       CASE WHEN ws.at_path IS NOT NULL
                            THEN pgflow._wait_input(r.flow_slug, p_run_id, w.step_slug, r.input) END,
                       w.since, ws.sleep_seconds)
               END
          FROM pgflow.runs AS r, pgflow.wait_steps AS ws
         WHERE w.run_id = p_run_id AND w.step_slug = ANY (p_steps) AND w.due_at = w.since
           AND r.run_id = p_run_id AND ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
        RETURNING w.step_slug, w.task_index
    )
    SELECT array_agg(DISTINCT begun.step_slug) INTO p_steps FROM begun;
    IF p_steps IS NULL THEN
        RETURN;
    END IF;
    -- what happens at once (each call below does nothing when a nested start - a completed wait
    -- starting the next steps - has done it already)
    FOR v_wait IN
        SELECT w.step_slug, w.task_index, w.wait_kind, w.due_at, ws.at_path, sig.payload,
               CASE WHEN w.wait_kind = 'sleep' AND w.due_at IS NULL
                    THEN pgflow._wait_input(r.flow_slug, p_run_id, w.step_slug, r.input) #> ws.at_path
               END AS at_value
          FROM pgflow.waits AS w
          JOIN pgflow.runs AS r ON r.run_id = w.run_id
          JOIN pgflow.wait_steps AS ws ON ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
          JOIN pgflow.steps AS s ON s.flow_slug = r.flow_slug AND s.step_slug = w.step_slug
          LEFT JOIN pgflow.signals AS sig
                 ON sig.run_id = w.run_id AND sig.step_slug = w.step_slug AND sig.delivered_at IS NULL
         WHERE w.run_id = p_run_id AND w.step_slug = ANY (p_steps)
         ORDER BY s.step_index, w.task_index
    LOOP
        IF v_wait.wait_kind = 'signal' AND v_wait.payload IS NOT NULL THEN
            UPDATE pgflow.signals AS sig SET delivered_at = now()
             WHERE sig.run_id = p_run_id AND sig.step_slug = v_wait.step_slug;
            PERFORM pgflow._end_wait(p_run_id, v_wait.step_slug, v_wait.task_index, v_wait.payload);
        ELSIF v_wait.wait_kind = 'sleep' AND v_wait.due_at IS NULL THEN
            PERFORM pgflow._fail_wait(p_run_id, v_wait.step_slug, v_wait.task_index, format(
                'sleep step %L: its input has no time at %s (got %s); put an ISO 8601 timestamp such as '
                '"2026-01-31T09:00:00Z" (or seconds since 1970) there, or sleep for a fixed duration',
                v_wait.step_slug, array_to_string(v_wait.at_path, '.'), coalesce(v_wait.at_value::text, 'nothing')));
        ELSIF v_wait.wait_kind = 'sleep' AND v_wait.due_at <= now() THEN
            PERFORM pgflow._end_wait(p_run_id, v_wait.step_slug, v_wait.task_index,
                                     jsonb_build_object('slept_until', v_wait.due_at));
        ELSIF v_wait.wait_kind = 'subflow' THEN
            PERFORM pgflow._start_child_run(p_run_id, v_wait.step_slug, v_wait.task_index);
        END IF;
    END LOOP;
END;
$$;

-- 0135_function_start_ready_steps.sql
-- Start every step of a started run that is ready: created, no pending dependency and a known,
-- non-zero number of tasks. Each becomes 'started' (remaining_tasks = initial_tasks) with
-- step:started, and gets one pgmq message per task on the step's queue (steps.queue_name) -
-- {"flow_slug", "run_id", "step_slug", "task_index"} - sent with the step's start_delay, plus a
-- queued step_tasks row holding the message id and that queue's name. A run that is over
-- (completed or failed) starts nothing. Taskless steps are left to
-- cascade_complete_taskless_steps.
-- pgflow-py: a waiting step (pgflow.wait_steps: signal, sleep, subflow) gets no message; it
-- starts in pgflow._start_wait_steps, called last.
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
           AND NOT EXISTS (SELECT 1 FROM pgflow.wait_steps AS w
                            WHERE w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug)
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            pgflow._emit(pgflow._step_event('step:started', ss)) AS emitted
    ),
    sent AS (
        -- one send_batch per step (its own delay); pgmq numbers a batch in array order
        SELECT st.flow_slug, st.run_id, st.step_slug, s.queue_name, m.msg_id,
               (row_number() OVER (PARTITION BY st.step_slug ORDER BY m.msg_id) - 1)::int AS task_index
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN LATERAL pgmq.send_batch(
                s.queue_name,
                ARRAY(SELECT jsonb_build_object('flow_slug', st.flow_slug, 'run_id', st.run_id,
                                                'step_slug', st.step_slug, 'task_index', i)
                        FROM generate_series(0, st.initial_tasks - 1) AS i
                       ORDER BY i),
                coalesce(s.opt_start_delay, 0)) AS m (msg_id)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, queue_name)
    SELECT sent.flow_slug, sent.run_id, sent.step_slug, sent.task_index, sent.msg_id, sent.queue_name
      FROM sent;
    -- pgflow-py: the waiting steps (signal, sleep, subflow) start without messages; only flows
    -- that have some look further
    SELECT pgflow._start_wait_steps(start_ready_steps.run_id)
     WHERE EXISTS (SELECT 1 FROM pgflow.runs AS r JOIN pgflow.wait_steps AS w ON w.flow_slug = r.flow_slug
                    WHERE r.run_id = start_ready_steps.run_id);
$$;

-- 0140_function_maybe_complete_run.sql
-- Complete a started run once no step is left (remaining_steps = 0). Its output is an object
-- of the outputs of its completed leaf steps (steps nothing depends on; skipped leaves are left
-- out; null when there is none). Emits run:completed. Does nothing otherwise. A child run of a
-- subflow step (pgflow-py) then ends its parent's task (pgflow._on_child_run_ended).
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
        RETURNING r.parent_run_id, r.run_id, pgflow._emit(pgflow._run_event('run:completed', r)) AS emitted
    )
    -- pgflow-py: a child run of a subflow step completes its parent's task in this transaction
    SELECT count(CASE WHEN c.parent_run_id IS NOT NULL THEN pgflow._on_child_run_ended(c.run_id) END)
      FROM completed AS c;
$$;

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
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps, trace_context,
                                 signal_key, parent_run_id, parent_step_slug, parent_task_index, priority)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), f.flow_slug, p_input,
               (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = f.flow_slug),
               options.o -> 'trace_context',
               options.o ->> 'signal_key', (options.o ->> 'parent_run_id')::uuid,
               options.o ->> 'parent_step_slug', (options.o ->> 'parent_task_index')::int,
               coalesce((options.o ->> 'priority')::int, 0)
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
-- unknown flow, a NULL input, a condition on a root step, a waiting root step (pgflow-py), a
-- root map over an empty array or a non-array (start_flow then raises or takes the steps one decision at a time).
CREATE OR REPLACE FUNCTION pgflow._start_run_directly(p_flow_slug text, p_input jsonb, p_run_id uuid)
RETURNS uuid
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH flow AS (
        SELECT s.flow_slug, count(*) AS steps
          FROM pgflow.steps AS s
          -- a waiting root step (pgflow-py) starts through start_ready_steps (_start_wait_steps)
          LEFT JOIN pgflow.wait_steps AS w ON w.flow_slug = s.flow_slug AND w.step_slug = s.step_slug
         WHERE s.flow_slug = p_flow_slug AND p_input IS NOT NULL
         GROUP BY s.flow_slug
        HAVING bool_and(s.deps_count > 0
                        OR (s.required_input_pattern IS NULL AND s.forbidden_input_pattern IS NULL
                            AND w.step_slug IS NULL
                            AND (s.step_type = 'single'
                                 OR CASE WHEN jsonb_typeof(p_input) = 'array'
                                         THEN jsonb_array_length(p_input) > 0 ELSE false END)))
    ),
    run AS (
        INSERT INTO pgflow.runs (run_id, flow_slug, input, remaining_steps, trace_context,
                                 signal_key, parent_run_id, parent_step_slug, parent_task_index, priority)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), flow.flow_slug, p_input, flow.steps,
               options.o -> 'trace_context',
               options.o ->> 'signal_key', (options.o ->> 'parent_run_id')::uuid,
               options.o ->> 'parent_step_slug', (options.o ->> 'parent_task_index')::int,
               coalesce((options.o ->> 'priority')::int, 0)
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

-- 0165_function__rate_room.sql
-- Rate limits (pgflow-py flow control) as GCRA, the "generic cell rate algorithm": a rate
-- {"count": n, "per": seconds} lets a start happen every per/n seconds on average, with a
-- tolerance of up to 0.4 s worth of starts (never more than n) so that a worker polling a few
-- times a second loses no start, while no period sees a burst at its edge. p_tat is the
-- scope's "theoretical arrival time" (epoch seconds; NULL: never started), p_now the time now.
-- Returns how many starts the rate allows now (0: none until tat - tolerance).
-- pgflow._admit_claims admits by it and moves tat by per/n per start; pgflow._claim_room reads
-- no more messages than it allows.
CREATE OR REPLACE FUNCTION pgflow._rate_room(p_rate jsonb, p_tat float8, p_now float8)
RETURNS int
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN g.t > p_now + g.tau THEN 0 ELSE floor((p_now + g.tau - g.t) / g.step)::int + 1 END
      FROM (SELECT s.step, least((s.n - 1) * s.step, 0.4) AS tau, greatest(coalesce(p_tat, p_now), p_now) AS t
              FROM (SELECT (p_rate->>'per')::float8 / (p_rate->>'count')::float8 AS step,
                           (p_rate->>'count')::float8 AS n) AS s) AS g;
$$;

-- 0166_function__admit_claims.sql
-- Flow control at claim time (pgflow-py addition), called by pgflow._start_tasks only for a
-- flow that has a pgflow.flow_controls row: which of the tasks behind messages p_msg_ids (read
-- from queue p_queue_name) may start now. A paused flow starts none. Otherwise, under the
-- flow's claim lock (transaction-level advisory lock (3, hashtext(flow_slug)), taken only for
-- limited flows, so concurrent claims of one limited flow by any workers are serialised), the
-- flow's running tasks (status 'started': slots come from task state, a killed worker's task
-- holds its slot until it is requeued) are counted, in all and per step, and the queued tasks
-- are admitted in message order while the flow's and their step's max_running leave room and
-- the flow's and their step's rate_limit allow a start (GCRA, pgflow._rate_room; the scopes'
-- theoretical arrival times are kept in pgflow.flow_rate_state and move only for admitted
-- tasks). A refused task is not started: its message becomes visible again 250 ms later (a
-- rate-limited one when the rate next allows a start), so no worker spins on it and a
-- TypeScript worker reads it again on a later poll.
-- Returns the admitted message ids; messages without a queued task are not returned (the claim
-- gives them no row either way) and their visibility is left alone.
CREATE OR REPLACE FUNCTION pgflow._admit_claims(p_flow_slug text, p_msg_ids bigint[], p_queue_name text)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_limits jsonb;
    v_flow_max int;
    v_step_max int;
    v_running int := 0;
    v_by_step jsonb := '{}';
    v_step_running int;
    v_now float8 := extract(epoch FROM clock_timestamp());
    v_tats jsonb := '{}';  -- scope ('' = the flow, else a step) -> tat (epoch seconds)
    v_rated boolean;
    v_rate jsonb;
    v_scope text;
    v_blocked_until float8;
    v_ok boolean;
    v_task record;
    v_admitted bigint[] := '{}';
    v_refused bigint[] := '{}';
    v_refused_until float8[] := '{}';
BEGIN
    SELECT c.* INTO v_control FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF NOT FOUND OR (v_control.paused_at IS NULL AND v_control.limits = '{}') THEN
        RETURN p_msg_ids;
    END IF;
    v_limits := v_control.limits;
    v_flow_max := (v_limits->>'max_running')::int;
    v_rated := v_limits ? 'rate_limit' OR jsonb_path_exists(v_limits, '$.steps.*.rate_limit');
    IF v_control.paused_at IS NULL THEN
        PERFORM pg_advisory_xact_lock(3, hashtext(p_flow_slug));
        -- statements after the lock: they see every claim its previous holders committed
        SELECT coalesce(sum(running.n), 0)::int, coalesce(jsonb_object_agg(running.step_slug, running.n), '{}')
          INTO v_running, v_by_step
          FROM (SELECT t.step_slug, count(*)::int AS n
                  FROM pgflow.step_tasks AS t
                 WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
                 GROUP BY t.step_slug) AS running;
        IF v_rated THEN
            SELECT coalesce(jsonb_object_agg(r.step_slug, extract(epoch FROM r.tat)), '{}') INTO v_tats
              FROM pgflow.flow_rate_state AS r WHERE r.flow_slug = p_flow_slug;
        END IF;
    END IF;
    FOR v_task IN
        SELECT t.message_id, t.step_slug
          FROM unnest(p_msg_ids) AS m (msg_id)
          JOIN pgflow.step_tasks AS t ON t.queue_name = p_queue_name AND t.message_id = m.msg_id
         WHERE t.status = 'queued' AND t.flow_slug = p_flow_slug
         ORDER BY m.msg_id
    LOOP
        v_step_max := (v_limits #>> ARRAY['steps', v_task.step_slug, 'max_running'])::int;
        v_step_running := coalesce((v_by_step->>v_task.step_slug)::int, 0);
        v_ok := v_control.paused_at IS NULL
                AND (v_flow_max IS NULL OR v_running < v_flow_max)
                AND (v_step_max IS NULL OR v_step_running < v_step_max);
        v_blocked_until := NULL;
        IF v_ok AND v_rated THEN
            FOREACH v_scope IN ARRAY ARRAY['', v_task.step_slug] LOOP
                v_rate := CASE WHEN v_scope = '' THEN v_limits->'rate_limit'
                               ELSE v_limits #> ARRAY['steps', v_scope, 'rate_limit'] END;
                IF v_rate IS NOT NULL AND pgflow._rate_room(v_rate, (v_tats->>v_scope)::float8, v_now) < 1 THEN
                    v_ok := false;
                    -- the rate allows the next start once tat - tolerance is reached
                    v_blocked_until := greatest(coalesce(v_blocked_until, 0),
                        (v_tats->>v_scope)::float8 - least(((v_rate->>'count')::float8 - 1)
                            * (v_rate->>'per')::float8 / (v_rate->>'count')::float8, 0.4));
                END IF;
            END LOOP;
        END IF;
        IF v_ok THEN
            v_admitted := v_admitted || v_task.message_id;
            v_running := v_running + 1;
            v_by_step := jsonb_set(v_by_step, ARRAY[v_task.step_slug], to_jsonb(v_step_running + 1));
            IF v_rated THEN
                FOREACH v_scope IN ARRAY ARRAY['', v_task.step_slug] LOOP
                    v_rate := CASE WHEN v_scope = '' THEN v_limits->'rate_limit'
                                   ELSE v_limits #> ARRAY['steps', v_scope, 'rate_limit'] END;
                    CONTINUE WHEN v_rate IS NULL;
                    v_tats := jsonb_set(v_tats, ARRAY[v_scope], to_jsonb(
                        greatest(coalesce((v_tats->>v_scope)::float8, v_now), v_now)
                        + (v_rate->>'per')::float8 / (v_rate->>'count')::float8));
                END LOOP;
            END IF;
        ELSE
            v_refused := v_refused || v_task.message_id;
            v_refused_until := v_refused_until || CASE WHEN v_blocked_until IS NULL THEN v_now + 0.25
                                                       ELSE greatest(v_now + 0.05, v_blocked_until) END;
        END IF;
    END LOOP;
    IF cardinality(v_refused) > 0 THEN
        EXECUTE format('UPDATE pgmq.%I AS q SET vt = to_timestamp(r.until) FROM unnest($1, $2) AS r (msg_id, until) '
                       'WHERE q.msg_id = r.msg_id', pgmq.format_table_name(p_queue_name, 'q'))
          USING v_refused, v_refused_until;
    END IF;
    IF v_rated AND cardinality(v_admitted) > 0 THEN
        INSERT INTO pgflow.flow_rate_state AS r (flow_slug, step_slug, tat)
        SELECT p_flow_slug, t.key, to_timestamp(t.value::float8) FROM jsonb_each_text(v_tats) AS t
        ON CONFLICT (flow_slug, step_slug) DO UPDATE SET tat = excluded.tat;
    END IF;
    RETURN v_admitted;
END;
$$;

-- 0168_function__start_tasks.sql
-- The claim behind start_tasks and claim_tasks (one implementation for both): claim the tasks
-- behind messages already read from queue p_queue_name, and give each claimed task its handler
-- input. Only tasks whose message went to that queue (step_tasks.queue_name) are considered, of
-- flow p_flow_slug unless it is NULL (claim_tasks knows the queue only) and of step p_step_slug
-- unless it is NULL (the callers check the queue mode's rules before calling). A task is
-- claimed when it is queued and both its run and its step are started, and - for a flow under
-- flow control (paused or limited) - admitted by pgflow._admit_claims (a refused task's message
-- is made visible again shortly); messages without such a task give no row. A claimed task becomes 'started' (attempts_count
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
CREATE OR REPLACE FUNCTION pgflow._start_tasks(
    p_flow_slug text, p_msg_ids bigint[], p_worker_id uuid, p_queue_name text, p_step_slug text)
RETURNS TABLE (flow_slug text, run_id uuid, step_slug text, input jsonb, msg_id bigint, task_index int,
               flow_input jsonb, attempt int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_events boolean := pgflow._events_wanted();
    v_msg_ids bigint[] := p_msg_ids;
    v_controlled text;
BEGIN
    -- flow control: only a flow with a pgflow.flow_controls row (paused or limited) has its
    -- tasks admitted by pgflow._admit_claims; any other flow pays this one index probe
    SELECT fc.flow_slug INTO v_controlled
      FROM pgflow.flow_controls AS fc
     WHERE fc.flow_slug = coalesce(p_flow_slug, (SELECT s.flow_slug FROM pgflow.steps AS s
                                                  WHERE s.queue_name = p_queue_name LIMIT 1));
    IF v_controlled IS NOT NULL THEN
        v_msg_ids := pgflow._admit_claims(v_controlled, p_msg_ids, p_queue_name);
    END IF;
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
                         FROM unnest(v_msg_ids) AS m (msg_id)
                        CROSS JOIN LATERAL (
                               SELECT probe.ctid
                                 FROM pgflow.step_tasks AS probe
                                WHERE probe.queue_name = p_queue_name
                                  AND probe.message_id = m.msg_id
                                  AND (p_flow_slug IS NULL OR probe.flow_slug = p_flow_slug)
                                  AND (p_step_slug IS NULL OR probe.step_slug = p_step_slug)
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

-- 0169_function__claim_room.sql
-- What claim_tasks may read from queue p_queue_name now (pgflow-py flow control and priorities):
-- room, how many messages:
--   NULL - the queue's flow has no flow-wide limit (no flow control row, or step limits only):
--          read as many as asked; pgflow._start_tasks' admission does the rest;
--   0    - the flow is paused, or its running tasks fill its max_running: read nothing;
--   n    - max_running minus the running tasks (taking the flow's claim lock, as
--          pgflow._admit_claims, which counts again under it), and at most the starts the flow's
--          rate_limit allows now (pgflow._rate_room);
-- prioritized_flow, the queue's flow when it has started runs with a priority above 0 (their
-- tasks are read first, pgflow._read_prioritized), else NULL. Both come from index probes; a
-- flow with neither flow control nor priorities pays those and nothing else.
CREATE OR REPLACE FUNCTION pgflow._claim_room(p_queue_name text, OUT room int, OUT prioritized_flow text)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow text;
    v_control pgflow.flow_controls;
    v_max int;
BEGIN
    SELECT s.flow_slug INTO v_flow FROM pgflow.steps AS s WHERE s.queue_name = p_queue_name LIMIT 1;
    IF EXISTS (SELECT 1 FROM pgflow.runs AS r
                WHERE r.flow_slug = v_flow AND r.priority > 0 AND r.status = 'started') THEN
        prioritized_flow := v_flow;
    END IF;
    SELECT c.* INTO v_control FROM pgflow.flow_controls AS c WHERE c.flow_slug = v_flow;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_control.paused_at IS NOT NULL THEN
        room := 0;
        RETURN;
    END IF;
    v_max := (v_control.limits->>'max_running')::int;
    IF v_max IS NULL AND NOT v_control.limits ? 'rate_limit' THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(3, hashtext(v_flow));
    IF v_max IS NOT NULL THEN
        SELECT greatest(v_max - count(*), 0)::int INTO room
          FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_flow AND t.status = 'started';
    END IF;
    IF v_control.limits ? 'rate_limit' THEN
        SELECT least(room, pgflow._rate_room(v_control.limits->'rate_limit', extract(epoch FROM
                   (SELECT r.tat FROM pgflow.flow_rate_state AS r WHERE r.flow_slug = v_flow AND r.step_slug = '')),
                   extract(epoch FROM clock_timestamp())))
          INTO room;
    END IF;
END;
$$;

-- 0171_function__read_prioritized.sql
-- claim_tasks' read of a flow with prioritized runs (pgflow-py): up to p_qty visible messages of
-- queue p_queue_name whose tasks belong to started runs of flow p_flow_slug with a priority
-- above 0, highest priority first, then oldest run, then queue order; each read as pgmq.read
-- does (FOR UPDATE SKIP LOCKED, read_ct + 1) and hidden for its step's timeout + 2 s, as
-- claim_tasks' own read (its twin for the default lane; tests/sql/flow_control/test_priorities.py
-- checks both hide and count alike). Returns the message ids (NULL: none).
-- Planned on each call (dynamic SQL per queue): only flows with prioritized runs pay it.
CREATE OR REPLACE FUNCTION pgflow._read_prioritized(p_flow_slug text, p_queue_name text, p_qty int)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_candidates bigint[];
    v_ids bigint[];
BEGIN
    v_candidates := ARRAY(
        SELECT t.message_id
          FROM (SELECT r.run_id, r.priority, r.started_at
                  FROM pgflow.runs AS r
                 WHERE r.flow_slug = p_flow_slug AND r.priority > 0 AND r.status = 'started'
                 ORDER BY r.priority DESC, r.started_at
                 LIMIT p_qty * 4) AS r
         CROSS JOIN LATERAL (
               SELECT q.message_id
                 FROM pgflow.step_tasks AS q
                WHERE q.run_id = r.run_id AND q.status = 'queued'
                  AND q.queue_name = p_queue_name AND q.message_id IS NOT NULL
                ORDER BY q.message_id
                LIMIT p_qty * 4) AS t
         ORDER BY r.priority DESC, r.started_at, t.message_id
         LIMIT p_qty * 4);
    IF cardinality(v_candidates) = 0 THEN
        RETURN NULL;
    END IF;
    EXECUTE format($read$
        WITH picked AS (
            SELECT q.msg_id, q.message->>'flow_slug' AS flow_slug, q.message->>'step_slug' AS step_slug
              FROM pgmq.%1$I AS q
             WHERE q.msg_id = ANY ($1) AND q.vt <= clock_timestamp() AND q.enqueued_at <= now()
             ORDER BY array_position($1, q.msg_id)
             LIMIT $2
               FOR UPDATE SKIP LOCKED
        ),
        hidden AS (
            UPDATE pgmq.%1$I AS q
               SET vt = clock_timestamp() + make_interval(secs => coalesce(s.opt_timeout, f.opt_timeout) + 2),
                   read_ct = q.read_ct + 1,
                   last_read_at = clock_timestamp()
              FROM picked AS p
              JOIN pgflow.flows AS f ON f.flow_slug = p.flow_slug
              LEFT JOIN pgflow.steps AS s ON s.flow_slug = f.flow_slug AND s.step_slug = p.step_slug
             WHERE q.msg_id = p.msg_id
            RETURNING q.msg_id
        )
        SELECT array_agg(h.msg_id ORDER BY h.msg_id) FROM hidden AS h
        $read$, pgmq.format_table_name(p_queue_name, 'q'))
      INTO v_ids
      USING v_candidates, p_qty;
    RETURN v_ids;
END;
$$;

-- 0207_function__add_step.sql
-- The insert behind add_step and the compilation of flows with private step queues: add step
-- p_step_slug, whose tasks go to queue p_queue_name, to an existing flow (idempotent: a step that
-- already exists is returned unchanged). Dependencies must already be steps of the flow, so
-- steps are added in topological order and step_index (the insertion order) is a valid execution
-- order. A map step has at most one dependency: the step whose output array it maps (none = it
-- maps the run input). Step slugs of a flow differ in more than case. A flow has at most 1,000
-- steps (pgflow-py's cap; upstream has none). The caller holds the flow's advisory lock.
CREATE OR REPLACE FUNCTION pgflow._add_step(
    p_flow_slug text,
    p_step_slug text,
    p_queue_name text,
    p_deps_slugs text[],
    p_max_attempts int,
    p_base_delay int,
    p_timeout int,
    p_start_delay int,
    p_step_type text,
    p_required_input_pattern jsonb,
    p_forbidden_input_pattern jsonb,
    p_when_unmet text,
    p_when_exhausted text
)
RETURNS pgflow.steps
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_deps text[];
    v_step pgflow.steps;
    v_other text;
BEGIN
    SELECT coalesce(array_agg(DISTINCT d), '{}') INTO v_deps
    FROM unnest(coalesce(p_deps_slugs, '{}')) AS d;

    PERFORM pgflow._check_step_definition(
        p_flow_slug, p_step_slug, v_deps, p_step_type,
        p_required_input_pattern, p_forbidden_input_pattern,
        p_when_unmet, p_when_exhausted);
    PERFORM pgflow._check_options(format('step %s.%s', p_flow_slug, p_step_slug),
                                  p_max_attempts, p_base_delay, p_timeout,
                                  p_start_delay);

    SELECT s.step_slug INTO v_other FROM pgflow.steps AS s
     WHERE s.flow_slug = p_flow_slug AND lower(s.step_slug) = lower(p_step_slug) AND s.step_slug <> p_step_slug;
    IF FOUND THEN
        PERFORM pgflow._definition_error(
            format('step %s.%s differs from step %s only in case', p_flow_slug, p_step_slug, v_other),
            'Step slugs of a flow must differ in more than case: rename one of them.');
    END IF;

    SELECT s.* INTO v_step FROM pgflow.steps AS s
    WHERE s.flow_slug = p_flow_slug AND s.step_slug = p_step_slug;
    IF FOUND THEN
        RETURN v_step;
    END IF;

    IF (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug) >= 1000 THEN
        PERFORM pgflow._definition_error(
            format('flow %s already has 1000 steps, the most a flow can have: step %s is refused', p_flow_slug, p_step_slug),
            'Do many similar units of work as one map step (one task per item), or split the flow.');
    END IF;

    INSERT INTO pgflow.steps (flow_slug, step_slug, queue_name, step_type, step_index, deps_count,
                              opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
                              required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted)
    SELECT p_flow_slug, p_step_slug, p_queue_name, p_step_type,
           coalesce(max(s.step_index) + 1, 0), cardinality(v_deps),
           p_max_attempts, p_base_delay, p_timeout, p_start_delay,
           p_required_input_pattern, p_forbidden_input_pattern,
           p_when_unmet, p_when_exhausted
    FROM pgflow.steps AS s
    WHERE s.flow_slug = p_flow_slug
    RETURNING * INTO v_step;

    INSERT INTO pgflow.deps (flow_slug, dep_slug, step_slug)
    SELECT p_flow_slug, d, p_step_slug
    FROM unnest(v_deps) AS d;

    RETURN v_step;
END;
$$;

-- 0400_function_start_flow_at.sql
-- Start a run whose first tasks wait until a given time (pgflow-py addition; enqueue_in and
-- enqueue_at use it). The run and its step states are stored at once, exactly as start_flow
-- stores them; then the messages of the tasks start_flow queued are hidden until p_start_at
-- (plus the step's start_delay, which counts from when the run is due). Both happen in one
-- transaction, so no worker can see a message before it is due. A waiting step (signal, sleep,
-- subflow) started with the run begins its wait at that time too: its timeout, its wake time
-- and its child run count from the due time (pgflow._start_wait_steps, pgflow.wake_due_steps).
-- A p_start_at in the past, or NULL, means now: the call behaves like start_flow.
CREATE OR REPLACE FUNCTION pgflow.start_flow_at(
    p_flow_slug text,
    p_input jsonb,
    p_start_at timestamptz,
    p_run_id uuid DEFAULT NULL
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_queue record;
BEGIN
    -- pgflow-py (waiting steps): a waiting step started with the run begins its wait only when
    -- the run is due (pgflow._start_wait_steps reads this; pgflow.wake_due_steps begins it then)
    IF p_start_at IS NOT NULL AND p_start_at > clock_timestamp() THEN
        PERFORM set_config('pgflow.start_at', p_start_at::text, true);
    END IF;
    SELECT * INTO v_run FROM pgflow.start_flow(p_flow_slug, p_input, p_run_id);
    PERFORM set_config('pgflow.start_at', '', true);

    IF p_start_at IS NOT NULL AND p_start_at > clock_timestamp() THEN
        -- one update per queue the run's first tasks went to (one, unless the flow has step queues)
        FOR v_queue IN
            SELECT t.queue_name, array_agg(t.message_id) AS msg_ids,
                   array_agg(p_start_at + make_interval(secs => coalesce(s.opt_start_delay, 0))) AS visible_at
              FROM pgflow.step_tasks AS t
              JOIN pgflow.steps AS s ON s.flow_slug = t.flow_slug AND s.step_slug = t.step_slug
             WHERE t.run_id = v_run.run_id
               AND t.status = 'queued'
               AND t.message_id IS NOT NULL
             GROUP BY t.queue_name
        LOOP
            EXECUTE format(
                'UPDATE pgmq.%I AS q SET vt = due.visible_at '
                'FROM unnest($1::bigint[], $2::timestamptz[]) AS due(msg_id, visible_at) '
                'WHERE q.msg_id = due.msg_id',
                pgmq.format_table_name(v_queue.queue_name, 'q'))
            USING v_queue.msg_ids, v_queue.visible_at;
        END LOOP;
    END IF;

    RETURN NEXT v_run;
END;
$$;

-- 0420_function_retry_run.sql
-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'retry'), and return it. The original is left as
-- it is; each call starts one more run. The new run has no idempotency key (the key stays with the original).
-- It continues the original's trace (runs.trace_context copied; other run options the caller
-- set apply as to start_flow).
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

    -- the new run stays in the original's trace (merged into the caller's run options, if any)
    PERFORM set_config('pgflow.run_options', (coalesce(pgflow._run_options(), '{}')
        || jsonb_strip_nulls(jsonb_build_object('trace_context', v_original.trace_context)))::text, true);
    SELECT * INTO v_run FROM pgflow.start_flow(v_original.flow_slug, v_original.input);
    UPDATE pgflow.runs AS r SET retry_of = p_run_id, retry_kind = 'retry' WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;

-- 0430_function_cancel_run.sql
-- Cancel a run (pgflow-py addition; client.cancel_run and `pgflow runs cancel` call it). A run
-- that is still going ends at once: it becomes a failed run (status 'failed', failed_at) that
-- also records cancelled_at and the reason, so a TypeScript worker or tool sees a failed run and
-- its late complete_task / fail_task calls are ignored as for any failed run
-- (docs/reference/compatibility.md). Its started steps fail with the message 'Run cancelled'
-- (and the reason); steps not yet started stay 'created' and never start; every task not yet
-- finished is cancelled and its message archived (pgflow._end_active_tasks). Emits step:failed
-- for each started step, run:cancelled, then run:failed - the run's last event, as for any failed
-- run, so listeners that know only upstream's events see the run end.
-- Idempotent: a run that is already over is left as it is (cancelled = false). Raises PF002 for
-- an unknown run.
-- Locks: the run's started step states first (ordered by step), then the run - the order of
-- complete_task(s) and fail_task - so a cancel racing a report waits for it, or the report
-- waits for the cancel and then finds the run over.
CREATE OR REPLACE FUNCTION pgflow.cancel_run(run_id uuid, reason text DEFAULT NULL)
RETURNS TABLE (cancelled boolean, status text, cancelled_at timestamptz)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
    v_state pgflow.step_states;
    v_message text := 'Run cancelled' || coalesce(': ' || cancel_run.reason, '');
BEGIN
    PERFORM 1
       FROM (SELECT 1 FROM pgflow.step_states AS ss
              WHERE ss.run_id = cancel_run.run_id AND ss.status = 'started'
              ORDER BY ss.step_slug FOR UPDATE OF ss) AS locked;

    UPDATE pgflow.runs AS r
       SET status = 'failed', failed_at = now(), cancelled_at = now(), cancel_reason = cancel_run.reason
     WHERE r.run_id = cancel_run.run_id AND NOT pgflow._is_terminal(r.status)
    RETURNING r.* INTO v_run;

    IF NOT FOUND THEN
        SELECT r.* INTO v_run FROM pgflow.runs AS r WHERE r.run_id = cancel_run.run_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'PF002',
                MESSAGE = format('run %s not found', cancel_run.run_id),
                HINT = 'check the run id (the run may have been pruned)';
        END IF;
        RETURN QUERY SELECT false, v_run.status, v_run.cancelled_at;
        RETURN;
    END IF;

    FOR v_state IN
        UPDATE pgflow.step_states AS ss
           SET status = 'failed', error_message = v_message, failed_at = v_run.failed_at
         WHERE ss.run_id = cancel_run.run_id AND ss.status = 'started'
        RETURNING ss.*
    LOOP
        PERFORM pgflow._emit(pgflow._step_event('step:failed', v_state));
    END LOOP;

    PERFORM pgflow._end_active_tasks(cancel_run.run_id, 'cancelled');

    PERFORM pgflow._emit(pgflow._run_event('run:cancelled', v_run));
    PERFORM pgflow._emit(pgflow._run_event('run:failed', v_run, v_message));

    -- pgflow-py (subflows): cancelling a run cancels its children still going; a cancelled
    -- child fails its parent's task
    PERFORM pgflow.cancel_run(c.run_id, 'its parent run was cancelled')
       FROM pgflow.runs AS c
      WHERE c.parent_run_id = cancel_run.run_id AND c.status = 'started';
    IF v_run.parent_run_id IS NOT NULL THEN
        PERFORM pgflow._on_child_run_ended(cancel_run.run_id);
    END IF;
    RETURN QUERY SELECT true, v_run.status, v_run.cancelled_at;
END;
$$;

-- 0441_function__waiting_runs.sql
-- pgflow-py: the started runs (of `p_run_ids`, NULL: all) whose every unfinished task waits for
-- a hidden message (see _task_due_times) or a wait that has not begun (a waiting step of a run
-- enqueued for later), with the earliest time one becomes visible: runs
-- scheduled for later, not running. A run with a started task, or a queued one visible now, is
-- running and left out. The dashboard counts them apart; get_run shows the time as due_at.
CREATE OR REPLACE FUNCTION pgflow._waiting_runs(p_run_ids uuid[])
RETURNS TABLE (run_id uuid, due_at timestamptz)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT t.run_id, min(coalesce(d.due_at, w.since))
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id AND r.status = 'started'
      LEFT JOIN pgflow._task_due_times(p_run_ids) AS d
        ON d.run_id = t.run_id AND d.step_slug = t.step_slug AND d.task_index = t.task_index
      -- pgflow-py (waiting steps): a wait that begins when its run, enqueued for later, is due
      LEFT JOIN pgflow.waits AS w
        ON w.run_id = t.run_id AND w.step_slug = t.step_slug AND w.task_index = t.task_index
       AND w.due_at = w.since AND w.since > now()
     WHERE t.status IN ('queued', 'started')
       AND (p_run_ids IS NULL OR t.run_id = ANY (p_run_ids))
     GROUP BY t.run_id
    HAVING bool_and(coalesce(d.due_at, w.since) IS NOT NULL);
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
-- The original is left as it is; each call starts one more run. The new run continues the
-- original's trace (runs.trace_context copied).
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
    -- the new run stays in the original's trace (merged into the caller's run options, if any,
    -- which then served this run only, as start_flow's do)
    PERFORM set_config('pgflow.run_options', (coalesce(pgflow._run_options(), '{}')
        || jsonb_strip_nulls(jsonb_build_object('trace_context', v_original.trace_context)))::text, true);
    v_run_id := pgflow._create_run(v_original.flow_slug, v_original.input, NULL);
    PERFORM set_config('pgflow.run_options', '', true);
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
        -- pgflow-py (subflows): a subflow task whose item completed in the original starts no
        -- child run (pgflow._start_child_run reads this); the loop below completes it
        PERFORM set_config('pgflow.resuming', p_run_id::text, true);
        PERFORM pgflow.start_ready_steps(v_run_id);
        PERFORM set_config('pgflow.resuming', '', true);

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
    -- one fixed text, planned on each call with the values bound (EXECUTE ... USING), so a
    -- filter left NULL folds away and the index that fits (by flow, by status, by time) is used;
    -- a cached generic plan could not drop the "IS NULL OR" branches
    RETURN QUERY EXECUTE
    'SELECT r.*
       FROM pgflow.runs AS r
      WHERE ($1 IS NULL OR r.flow_slug = $1)
        AND ($2 IS NULL OR r.status = $2)
        AND ($3 IS NULL OR r.started_at >= $3)
        AND ($4 IS NULL OR r.started_at < $4)
        AND ($5 IS NULL OR r.input @> $5)
        AND ($6 IS NULL OR (r.started_at, r.run_id) < ($6, $7))
      ORDER BY r.started_at DESC, r.run_id DESC
      LIMIT $8'
    USING p_flow_slug, p_status, p_since, p_until, p_input, p_before_started_at, p_before_run_id, p_limit;
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

-- 0460_function__set_wait_steps.sql
-- pgflow-py addition (durable waits): store which steps of a flow wait and how, replacing what
-- was stored (Client.compile calls it after ensure_flow_compiled, in the same transaction).
-- p_waits is an array of {"step_slug", "wait_kind", "timeout_seconds", "on_timeout",
-- "timeout_output", "early_signals", "at_path", "sleep_seconds", "child_flow_slug",
-- "input_path"} (absent keys take the table's defaults). Runs already waiting keep their waits;
-- a step that stops waiting runs a handler from its next start on.
-- Errors: PF001 unknown flow; PF004 a step the flow does not have, or a wait the table refuses.
CREATE OR REPLACE FUNCTION pgflow._set_wait_steps(p_flow_slug text, p_waits jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_missing text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001', MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'compile the flow first';
    END IF;
    SELECT w ->> 'step_slug' INTO v_missing
      FROM jsonb_array_elements(coalesce(p_waits, '[]')) AS w
     WHERE NOT EXISTS (SELECT 1 FROM pgflow.steps AS s
                        WHERE s.flow_slug = p_flow_slug AND s.step_slug = w ->> 'step_slug')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF004',
            MESSAGE = format('flow %L has no step %L to make a waiting step', p_flow_slug, v_missing),
            HINT = 'compile the flow as defined in code (its steps and its waits come from one definition)';
    END IF;

    DELETE FROM pgflow.wait_steps AS ws WHERE ws.flow_slug = p_flow_slug;
    INSERT INTO pgflow.wait_steps (flow_slug, step_slug, wait_kind, timeout_seconds, on_timeout, timeout_output,
                                   early_signals, at_path, sleep_seconds, child_flow_slug, input_path)
    SELECT p_flow_slug, w.step_slug, w.wait_kind, w.timeout_seconds, coalesce(w.on_timeout, 'fail'),
           w.timeout_output, coalesce(w.early_signals, 'keep'), w.at_path, coalesce(w.sleep_seconds, 0),
           w.child_flow_slug, w.input_path
      FROM jsonb_to_recordset(coalesce(p_waits, '[]')) AS w (
               step_slug text, wait_kind text, timeout_seconds int, on_timeout text, timeout_output jsonb,
               early_signals text, at_path text[], sleep_seconds int, child_flow_slug text, input_path text[]);
EXCEPTION WHEN check_violation OR not_null_violation OR invalid_text_representation THEN
    RAISE EXCEPTION USING ERRCODE = 'PF004',
        MESSAGE = format('flow %L: a waiting step is not valid (%s)', p_flow_slug, SQLERRM),
        HINT = 'define waiting steps with the DSL (flow.signal, flow.sleep, flow.sleep_until, flow.subflow)';
END;
$$;

-- 0461_function_signal.sql
-- pgflow-py addition (durable waits): send a signal to a signal step of a run. Its payload
-- becomes the step's output (dependents receive it as any step's output). Outcomes, returned
-- as {"run_id", "step_slug", "outcome", "received_at"}:
--   'delivered' - the step was waiting: it completes now (task:completed, step:completed, the
--                 next steps start) in this transaction;
--   'kept'      - the step is not waiting yet (the steps it depends on are not done, or its run
--                 is enqueued for later): the signal is kept and delivered when it waits
--                 (a step with early_signals 'reject' raises PF005 instead);
--   'duplicate' - a signal for this run and step came first (received_at is its time): the
--                 first one wins, this one changes nothing.
-- Errors: PF002 unknown run; PF003 a NULL payload, a step the flow does not have or one that is
-- not a signal step; PF005 the run is over, or the step no longer waits (timed out, skipped).
-- Locks the step state, then the run (the order of complete_task and cancel_run).
CREATE OR REPLACE FUNCTION pgflow.signal(run_id uuid, step_slug text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text;
    v_kind text;
    v_early text;
    v_step_status text;
    v_waiting boolean;
    v_run_status text;
    v_first pgflow.signals;
    v_signals text;
BEGIN
    IF signal.payload IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('the signal for step %L has no payload', signal.step_slug),
            HINT = 'send a JSON value (''null''::jsonb for none)';
    END IF;
    SELECT r.flow_slug INTO v_flow_slug FROM pgflow.runs AS r WHERE r.run_id = signal.run_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002', MESSAGE = format('run %s not found', signal.run_id),
            HINT = 'check the run id (the run may have been pruned)';
    END IF;
    SELECT ws.wait_kind, ws.early_signals INTO v_kind, v_early
      FROM pgflow.wait_steps AS ws
     WHERE ws.flow_slug = v_flow_slug AND ws.step_slug = signal.step_slug;
    IF v_kind IS DISTINCT FROM 'signal' THEN
        SELECT string_agg(format('%L', ws.step_slug), ', ' ORDER BY s.step_index) INTO v_signals
          FROM pgflow.wait_steps AS ws
          JOIN pgflow.steps AS s ON s.flow_slug = ws.flow_slug AND s.step_slug = ws.step_slug
         WHERE ws.flow_slug = v_flow_slug AND ws.wait_kind = 'signal';
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('step %L of flow %L %s', signal.step_slug, v_flow_slug,
                             CASE WHEN v_kind IS NOT NULL THEN format('is a %s step, not a signal step', v_kind)
                                  WHEN EXISTS (SELECT 1 FROM pgflow.steps AS s
                                                WHERE s.flow_slug = v_flow_slug AND s.step_slug = signal.step_slug)
                                  THEN 'is not a signal step (a worker runs its handler)'
                                  ELSE 'does not exist' END),
            HINT = coalesce(format('its signal steps: %s', v_signals), format('flow %L has no signal step', v_flow_slug));
    END IF;

    SELECT ss.status INTO v_step_status
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = signal.run_id AND ss.step_slug = signal.step_slug
       FOR UPDATE;
    -- a started step waits unless its wait has not begun (due_at = since: a run enqueued for later)
    v_waiting := v_step_status = 'started'
                 AND NOT EXISTS (SELECT 1 FROM pgflow.waits AS w
                                  WHERE w.run_id = signal.run_id AND w.step_slug = signal.step_slug
                                    AND w.due_at = w.since);
    SELECT sig.* INTO v_first
      FROM pgflow.signals AS sig
     WHERE sig.run_id = signal.run_id AND sig.step_slug = signal.step_slug;
    IF FOUND THEN
        RETURN jsonb_build_object('run_id', signal.run_id, 'step_slug', signal.step_slug,
                                  'outcome', 'duplicate', 'received_at', v_first.received_at);
    END IF;
    SELECT r.status INTO v_run_status FROM pgflow.runs AS r WHERE r.run_id = signal.run_id;
    IF pgflow._is_terminal(v_run_status) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('run %s is %s: a signal can no longer change it', signal.run_id, v_run_status),
            HINT = 'signal a run that is still going (retry_run or resume_run start it again)';
    END IF;
    IF NOT v_waiting AND v_step_status IN ('created', 'started') AND v_early = 'reject' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('step %L of run %s does not wait yet (%s)', signal.step_slug, signal.run_id,
                             CASE WHEN v_step_status = 'created' THEN 'the steps it depends on are not done'
                                  ELSE 'its run is enqueued for later' END),
            HINT = 'this step refuses early signals (early_signals=''reject''); send it again once it waits';
    END IF;
    IF v_step_status NOT IN ('created', 'started') THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('step %L of run %s no longer waits: it is %s', signal.step_slug, signal.run_id,
                             v_step_status),
            HINT = 'a signal step that timed out or was skipped takes no signal';
    END IF;

    INSERT INTO pgflow.signals (run_id, step_slug, payload, delivered_at)
    VALUES (signal.run_id, signal.step_slug, signal.payload,
            CASE WHEN v_waiting THEN now() END)
    RETURNING * INTO v_first;
    IF v_waiting THEN
        PERFORM pgflow._end_wait(signal.run_id, signal.step_slug, 0, signal.payload);
    END IF;
    RETURN jsonb_build_object('run_id', signal.run_id, 'step_slug', signal.step_slug,
                              'outcome', CASE WHEN v_waiting THEN 'delivered' ELSE 'kept' END,
                              'received_at', v_first.received_at);
END;
$$;

-- 0462_function_signal_by_key.sql
-- pgflow-py addition (durable waits): pgflow.signal for the run of p_flow_slug started with
-- p_signal_key (run option signal_key; e.g. an order id, for a webhook that knows its own id
-- but not the run's). The run still going takes it; when none is, the latest run with the key
-- (so a late signal is reported as a duplicate, or refused because that run is over).
-- Errors: PF002 no run of the flow has the key; PF005 several runs still going share it (send
-- by run id); then as pgflow.signal.
CREATE OR REPLACE FUNCTION pgflow.signal_by_key(flow_slug text, signal_key text, step_slug text, payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_runs uuid[];
    v_run_id uuid;
BEGIN
    SELECT array_agg(r.run_id ORDER BY r.started_at DESC) INTO v_runs
      FROM pgflow.runs AS r
     WHERE r.flow_slug = signal_by_key.flow_slug AND r.signal_key = signal_by_key.signal_key
       AND r.status = 'started';
    IF cardinality(v_runs) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('%s runs of flow %L still going have signal key %L (%s)', cardinality(v_runs),
                             signal_by_key.flow_slug, signal_by_key.signal_key, array_to_string(v_runs[1:3], ', ')),
            HINT = 'send the signal by run id, or start one run per key (idempotency_key= does that)';
    END IF;
    v_run_id := v_runs[1];
    IF v_run_id IS NULL THEN
        SELECT r.run_id INTO v_run_id
          FROM pgflow.runs AS r
         WHERE r.flow_slug = signal_by_key.flow_slug AND r.signal_key = signal_by_key.signal_key
         ORDER BY r.started_at DESC
         LIMIT 1;
    END IF;
    IF v_run_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002',
            MESSAGE = format('no run of flow %L has signal key %L', signal_by_key.flow_slug, signal_by_key.signal_key),
            HINT = 'start the run with signal_key=... (or send the signal by run id)';
    END IF;
    RETURN pgflow.signal(v_run_id, signal_by_key.step_slug, signal_by_key.payload);
END;
$$;

-- 0463_function_wake_due_steps.sql
-- pgflow-py addition (durable waits): end the waits that are due - sleep steps whose wake time
-- came (they complete with {"slept_until": <wake time>}) and signal steps whose timeout passed
-- (on_timeout 'fail': the step fails with no retry, when_exhausted applies; 'default': it
-- completes with its default output) - and begins the waits of a run enqueued for later
-- (start_flow_at) that is now due (pgflow._begin_waits: timeouts and wake times count from
-- then, a kept signal is delivered, child runs start). At most p_limit waits per call, oldest first; a step
-- another transaction holds is left for the next call (SKIP LOCKED), so concurrent callers do
-- not wait for each other. Every Python worker's sweeper calls it about once a second; pg_cron
-- can too. Returns how many waits it ended or began.
CREATE OR REPLACE FUNCTION pgflow.wake_due_steps(p_limit int DEFAULT 1000)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_due record;
    v_wait record;
    v_ended int := 0;
BEGIN
    FOR v_due IN
        SELECT w.run_id, w.step_slug, w.task_index
          FROM pgflow.waits AS w
         WHERE w.due_at <= now()
         ORDER BY w.due_at
         LIMIT p_limit
    LOOP
        PERFORM 1 FROM pgflow.step_states AS ss
         WHERE ss.run_id = v_due.run_id AND ss.step_slug = v_due.step_slug
           FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            CONTINUE;
        END IF;
        SELECT w.wait_kind, w.due_at, w.since, ws.on_timeout, ws.timeout_output, ws.timeout_seconds
          INTO v_wait
          FROM pgflow.waits AS w
          JOIN pgflow.runs AS r ON r.run_id = w.run_id
          LEFT JOIN pgflow.wait_steps AS ws ON ws.flow_slug = r.flow_slug AND ws.step_slug = w.step_slug
         WHERE w.run_id = v_due.run_id AND w.step_slug = v_due.step_slug AND w.task_index = v_due.task_index
           AND w.due_at <= now();
        IF NOT FOUND THEN
            CONTINUE;  -- ended by a signal meanwhile
        END IF;
        IF v_wait.due_at = v_wait.since THEN
            -- a wait that has not begun (its run was enqueued for later): it begins now, with
            -- the step's other tasks; a run over meanwhile drops them
            IF pgflow._lock_started_run(v_due.run_id) THEN
                PERFORM pgflow._begin_waits(v_due.run_id, ARRAY[v_due.step_slug]);
            ELSE
                DELETE FROM pgflow.waits AS w WHERE w.run_id = v_due.run_id AND w.step_slug = v_due.step_slug;
            END IF;
        ELSIF v_wait.wait_kind = 'sleep' THEN
            PERFORM pgflow._end_wait(v_due.run_id, v_due.step_slug, v_due.task_index,
                                     jsonb_build_object('slept_until', v_wait.due_at));
        ELSIF v_wait.on_timeout = 'default' THEN
            PERFORM pgflow._end_wait(v_due.run_id, v_due.step_slug, v_due.task_index,
                                     coalesce(v_wait.timeout_output, 'null'::jsonb));
        ELSE
            PERFORM pgflow._fail_wait(v_due.run_id, v_due.step_slug, v_due.task_index, format(
                'Timed out: no signal for step %L within %s (waiting since %s)', v_due.step_slug,
                justify_interval(coalesce(make_interval(secs => v_wait.timeout_seconds),
                                         date_trunc('second', v_wait.due_at - v_wait.since))),
                to_char(v_wait.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')));
        END IF;
        v_ended := v_ended + 1;
    END LOOP;
    RETURN v_ended;
END;
$$;

-- 0480_function__check_flow_limits.sql
-- Check a flow's limits (flow control, pgflow-py addition) and return them tidied: keys whose
-- value is JSON null are dropped, and so are steps left without limits. The form is
--   {"max_running": n, "rate_limit": {"count": n, "per": seconds},
--    "steps": {"<step_slug>": {"max_running": n, "rate_limit": {...}}}}
-- where every n is a whole number from 1 to 2147483647, per a number of seconds above 0 (at
-- most a day), and every step is one of the flow's.
-- Raises PF003 naming the option, the flow (and the step) for anything else.
CREATE OR REPLACE FUNCTION pgflow._check_flow_limits(p_flow_slug text, p_limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_limits jsonb;
    v_item record;
    v_where text;
BEGIN
    IF jsonb_typeof(p_limits) IS DISTINCT FROM 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('the limits of flow %L must be a JSON object, got %s', p_flow_slug,
                             coalesce(jsonb_typeof(p_limits), 'NULL')),
            HINT = 'For example {"max_running": 3, "steps": {"charge": {"max_running": 1}}}.';
    END IF;
    v_limits := jsonb_strip_nulls(p_limits);
    IF v_limits ? 'steps' AND jsonb_typeof(v_limits->'steps') <> 'object' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('"steps" in the limits of flow %L must be a JSON object of step slugs, got %s',
                             p_flow_slug, jsonb_typeof(v_limits->'steps')),
            HINT = 'For example {"steps": {"charge": {"max_running": 1}}}.';
    END IF;
    FOR v_item IN
        SELECT NULL::text AS step_slug, e.key, e.value
          FROM jsonb_each(v_limits - 'steps') AS e
        UNION ALL
        SELECT s.key, e.key, e.value
          FROM jsonb_each(coalesce(v_limits->'steps', '{}')) AS s
         CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(s.value) = 'object' THEN s.value
                                            ELSE jsonb_build_object('', s.value) END) AS e
    LOOP
        v_where := CASE WHEN v_item.step_slug IS NULL THEN format('flow %L', p_flow_slug)
                        ELSE format('step %L of flow %L', v_item.step_slug, p_flow_slug) END;
        IF v_item.step_slug IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM pgflow.steps AS st
                WHERE st.flow_slug = p_flow_slug AND st.step_slug = v_item.step_slug) THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('flow %L has no step %L to limit', p_flow_slug, v_item.step_slug),
                HINT = 'Name one of the flow''s steps (pgflow.steps), or leave the step out.';
        END IF;
        IF v_item.key = '' THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('the limits of %s must be a JSON object, got %s', v_where,
                                 jsonb_typeof(v_item.value)),
                HINT = 'For example {"max_running": 1}.';
        END IF;
        IF v_item.key NOT IN ('max_running', 'rate_limit') THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('unknown limit %L for %s', v_item.key, v_where),
                HINT = CASE WHEN v_item.step_slug IS NULL THEN 'The limits are: max_running, rate_limit, steps.'
                            ELSE 'A step''s limits are: max_running, rate_limit.' END;
        END IF;
        IF v_item.key = 'rate_limit' THEN
            IF jsonb_typeof(v_item.value) <> 'object' OR (v_item.value - 'count' - 'per') <> '{}'
               OR jsonb_typeof(v_item.value->'count') IS DISTINCT FROM 'number'
               OR jsonb_typeof(v_item.value->'per') IS DISTINCT FROM 'number'
               OR (v_item.value->>'count')::numeric <> trunc((v_item.value->>'count')::numeric)
               OR (v_item.value->>'count')::numeric NOT BETWEEN 1 AND 2147483647
               OR (v_item.value->>'per')::numeric <= 0 OR (v_item.value->>'per')::numeric > 86400 THEN
                RAISE EXCEPTION USING ERRCODE = 'PF003',
                    MESSAGE = format('rate_limit of %s must be {"count": a whole number of at least 1, "per": '
                                     'seconds above 0 (at most 86400)}, got %s', v_where, v_item.value),
                    HINT = 'For example {"count": 10, "per": 1} for 10 starts a second.';
            END IF;
            CONTINUE;
        END IF;
        IF jsonb_typeof(v_item.value) <> 'number' OR v_item.value::numeric <> trunc(v_item.value::numeric)
           OR v_item.value::numeric < 1 OR v_item.value::numeric > 2147483647 THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('%s of %s must be a whole number of at least 1, got %s', v_item.key, v_where,
                                 v_item.value),
                HINT = 'To let the tasks run without a limit, remove it (set it to null).';
        END IF;
    END LOOP;
    -- steps left without limits go
    RETURN CASE WHEN (SELECT count(*) FROM jsonb_each(coalesce(v_limits->'steps', '{}')) AS s
                       WHERE s.value <> '{}') = 0
                THEN v_limits - 'steps'
                ELSE jsonb_set(v_limits, '{steps}',
                               (SELECT jsonb_object_agg(s.key, s.value)
                                  FROM jsonb_each(v_limits->'steps') AS s WHERE s.value <> '{}')) END;
END;
$$;

-- 0481_function__flow_control_row.sql
-- The flow control row of flow p_flow_slug, created (empty) when missing and locked until the
-- transaction ends, for the functions that change it (set_flow_limits, pause_flow, resume_flow,
-- _declare_flow_limits). Raises PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow._flow_control_row(p_flow_slug text)
RETURNS pgflow.flow_controls
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'Check the slug (pgflow flows list), or compile the flow first.';
    END IF;
    INSERT INTO pgflow.flow_controls AS c (flow_slug) VALUES (p_flow_slug) ON CONFLICT (flow_slug) DO NOTHING;
    SELECT c.* INTO v_row FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug FOR UPDATE;
    RETURN v_row;
END;
$$;

-- 0482_function__drop_idle_flow_control.sql
-- Delete flow p_flow_slug's flow control row when it controls nothing (no limits, not paused,
-- no limits declared by code), so the flow's claims take the fast path again.
CREATE OR REPLACE FUNCTION pgflow._drop_idle_flow_control(p_flow_slug text)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    DELETE FROM pgflow.flow_controls AS c
     WHERE c.flow_slug = p_flow_slug AND c.limits = '{}' AND c.paused_at IS NULL
       AND coalesce(c.declared, '{}') = '{}';
$$;

-- 0483_function_set_flow_limits.sql
-- Change a flow's limits at runtime (pgflow-py addition; client.set_limits and
-- `pgflow flows limits` call it). `limits` is merged into the limits in force: a key given
-- replaces its value, a key set to JSON null removes that limit, keys left out stay; under
-- "steps" each step's limits merge the same way ({"steps": {"a": null}} removes all of step a's).
-- The result is checked by pgflow._check_flow_limits (PF003) and applies to the next claim. It
-- lasts until the flow's code declares different limits (pgflow._declare_flow_limits).
-- Returns the limits now in force. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.set_flow_limits(flow_slug text, limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(set_flow_limits.flow_slug);
    v_limits jsonb;
    v_steps jsonb;
    v_step record;
BEGIN
    IF jsonb_typeof(set_flow_limits.limits) IS DISTINCT FROM 'object' THEN
        PERFORM pgflow._check_flow_limits(set_flow_limits.flow_slug, set_flow_limits.limits);
    END IF;
    v_limits := v_row.limits || (set_flow_limits.limits - 'steps');
    IF jsonb_typeof(set_flow_limits.limits->'steps') = 'object' THEN
        v_steps := coalesce(v_row.limits->'steps', '{}');
        FOR v_step IN SELECT s.key, s.value FROM jsonb_each(set_flow_limits.limits->'steps') AS s LOOP
            v_steps := jsonb_set(v_steps, ARRAY[v_step.key],
                                 CASE WHEN jsonb_typeof(v_step.value) = 'null' THEN '{}'::jsonb
                                      WHEN jsonb_typeof(v_step.value) = 'object'
                                      THEN coalesce(v_steps->v_step.key, '{}') || v_step.value
                                      ELSE v_step.value END);
        END LOOP;
        v_limits := jsonb_set(v_limits, '{steps}', v_steps);
    ELSIF set_flow_limits.limits ? 'steps' THEN
        v_limits := jsonb_set(v_limits, '{steps}', set_flow_limits.limits->'steps');
    END IF;
    v_limits := pgflow._check_flow_limits(set_flow_limits.flow_slug, v_limits);
    UPDATE pgflow.flow_controls AS c SET limits = v_limits, updated_at = now()
     WHERE c.flow_slug = set_flow_limits.flow_slug;
    PERFORM pgflow._drop_idle_flow_control(set_flow_limits.flow_slug);
    RETURN v_limits;
END;
$$;

-- 0484_function__declare_flow_limits.sql
-- The limits a flow's code declares (Flow(max_running=...), step(max_running=...)), recorded when
-- the flow is compiled (pgflow-py's compile_flow; a TypeScript compiler never calls it). They
-- replace the limits in force only when they differ from what the code declared last time, so a
-- runtime change (set_flow_limits) survives redeploys of unchanged code and is replaced by a
-- deploy that changes the limits. Checked like set_flow_limits (PF003). Returns the limits in
-- force. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow._declare_flow_limits(p_flow_slug text, p_declared jsonb)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_declared jsonb := pgflow._check_flow_limits(p_flow_slug, coalesce(p_declared, '{}'));
    v_row pgflow.flow_controls;
BEGIN
    SELECT c.* INTO v_row FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF NOT FOUND AND v_declared = '{}' THEN
        RETURN '{}'::jsonb;  -- nothing declared, nothing stored: no write
    END IF;
    v_row := pgflow._flow_control_row(p_flow_slug);
    -- never declared (NULL: set at runtime only) counts as declaring nothing
    IF coalesce(v_row.declared, '{}') IS DISTINCT FROM v_declared THEN
        UPDATE pgflow.flow_controls AS c SET limits = v_declared, declared = v_declared, updated_at = now()
         WHERE c.flow_slug = p_flow_slug
        RETURNING c.* INTO v_row;
        PERFORM pgflow._drop_idle_flow_control(p_flow_slug);
    END IF;
    RETURN v_row.limits;
END;
$$;

-- 0485_function_pause_flow.sql
-- Pause a flow (pgflow-py addition; client.pause_flow, `pgflow flows pause`, the dashboard): from
-- the next claim on, no task of the flow is claimed, by any worker (start_tasks and claim_tasks
-- both pass through pgflow._start_tasks); tasks already running finish and report as usual, runs
-- can still be started (their tasks wait in the queue). Idempotent: pausing a paused flow keeps
-- its first paused_at and reason. Returns when the flow was paused. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.pause_flow(flow_slug text, reason text DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(pause_flow.flow_slug);
BEGIN
    IF v_row.paused_at IS NULL THEN
        UPDATE pgflow.flow_controls AS c SET paused_at = now(), pause_reason = pause_flow.reason, updated_at = now()
         WHERE c.flow_slug = pause_flow.flow_slug
        RETURNING c.* INTO v_row;
    END IF;
    RETURN v_row.paused_at;
END;
$$;

-- 0486_function_resume_flow.sql
-- Resume a paused flow (pgflow-py addition; client.resume_flow, `pgflow flows resume`, the
-- dashboard): its queued tasks are claimed again from the next read on, in queue order. Returns
-- whether the flow was paused. PF001 for an unknown flow.
CREATE OR REPLACE FUNCTION pgflow.resume_flow(flow_slug text)
RETURNS boolean
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_row pgflow.flow_controls := pgflow._flow_control_row(resume_flow.flow_slug);
BEGIN
    UPDATE pgflow.flow_controls AS c SET paused_at = NULL, pause_reason = NULL, updated_at = now()
     WHERE c.flow_slug = resume_flow.flow_slug;
    PERFORM pgflow._drop_idle_flow_control(resume_flow.flow_slug);
    RETURN v_row.paused_at IS NOT NULL;
END;
$$;

-- 0487_function__run_held_by.sql
-- Why flow control holds a started run back (pgflow-py; get_run's Run.held_by), or NULL: the
-- run has queued tasks with a message (its delays, if any, are over or not the point: due_at
-- says those) that its flow's flow control keeps from being claimed -
--   'paused[: <reason>]'                                   the flow is paused;
--   'concurrency limit: flow max_running <n> (<r> running)' the flow's slots are all taken;
--   'concurrency limit: step <slug> max_running <n> (<r> running)' the slots of a step it waits in;
--   'rate limit: flow|step <slug> <count> per <per> s'      the rate allows no start right now.
-- A run of a flow without flow control costs one index probe.
CREATE OR REPLACE FUNCTION pgflow._run_held_by(p_run_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_steps text[];
    v_max int;
    v_running int;
    v_step text;
BEGIN
    SELECT c.* INTO v_control
      FROM pgflow.runs AS r JOIN pgflow.flow_controls AS c ON c.flow_slug = r.flow_slug
     WHERE r.run_id = p_run_id AND r.status = 'started';
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT t.step_slug ORDER BY t.step_slug) INTO v_steps
      FROM pgflow.step_tasks AS t
     WHERE t.run_id = p_run_id AND t.status = 'queued' AND t.message_id IS NOT NULL;
    IF v_steps IS NULL THEN
        RETURN NULL;
    END IF;
    IF v_control.paused_at IS NOT NULL THEN
        RETURN 'paused' || coalesce(': ' || v_control.pause_reason, '');
    END IF;
    v_max := (v_control.limits->>'max_running')::int;
    IF v_max IS NOT NULL THEN
        SELECT count(*)::int INTO v_running
          FROM pgflow.step_tasks AS t WHERE t.flow_slug = v_control.flow_slug AND t.status = 'started';
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: flow max_running %s (%s running)', v_max, v_running);
        END IF;
    END IF;
    IF v_control.limits ? 'rate_limit' AND pgflow._rate_room(v_control.limits->'rate_limit',
           (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
             WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = ''),
           extract(epoch FROM clock_timestamp())) < 1 THEN
        RETURN format('rate limit: flow %s per %s s', v_control.limits #>> '{rate_limit,count}',
                      v_control.limits #>> '{rate_limit,per}');
    END IF;
    FOREACH v_step IN ARRAY v_steps LOOP
        IF v_control.limits #> ARRAY['steps', v_step, 'rate_limit'] IS NOT NULL
           AND pgflow._rate_room(v_control.limits #> ARRAY['steps', v_step, 'rate_limit'],
                   (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
                     WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = v_step),
                   extract(epoch FROM clock_timestamp())) < 1 THEN
            RETURN format('rate limit: step %s %s per %s s', v_step,
                          v_control.limits #>> ARRAY['steps', v_step, 'rate_limit', 'count'],
                          v_control.limits #>> ARRAY['steps', v_step, 'rate_limit', 'per']);
        END IF;
        v_max := (v_control.limits #>> ARRAY['steps', v_step, 'max_running'])::int;
        CONTINUE WHEN v_max IS NULL;
        SELECT count(*)::int INTO v_running
          FROM pgflow.step_tasks AS t
         WHERE t.flow_slug = v_control.flow_slug AND t.step_slug = v_step AND t.status = 'started';
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: step %s max_running %s (%s running)', v_step, v_max, v_running);
        END IF;
    END LOOP;
    RETURN NULL;
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
    v_children uuid[];
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
                       THEN pgflow._emit(pgflow._run_event('run:completed', r)) END AS emitted,
                  CASE WHEN r.status = 'completed' AND r.parent_run_id IS NOT NULL THEN r.run_id END AS child
    )
    SELECT count(l.emitted), array_agg(l.child) FILTER (WHERE l.child IS NOT NULL)
      INTO v_completed, v_children
      FROM lowered AS l;
    -- pgflow-py: a completed child run of a subflow step ends its parent's task (as in
    -- maybe_complete_run)
    PERFORM pgflow._on_child_run_ended(c.run_id) FROM unnest(v_children) AS c (run_id);

    IF v_released IS NOT NULL THEN
        PERFORM pgflow._advance_runs(v_released);
    END IF;
END;
$$;

-- 0702_function_claim_tasks.sql
-- Read and claim in one call (one round trip, one commit): up to `qty` visible messages of queue
-- `queue_name` (a flow's queue, or with `for_step` a step's private queue), oldest first, then
-- start_tasks' claim of their tasks, under start_tasks' queue rules (pgflow._check_claim_route:
-- a queue no flow routes to gives nothing; a step queue needs its step's slug). The
-- read is pgmq.read's (FOR UPDATE SKIP LOCKED, read_ct + 1), prepared once per session and queue
-- (pgmq.read plans its dynamic SQL on every call, which cost more than the read itself), and
-- hides each message for its step's timeout + 2 s straight away. Messages enqueued by a
-- transaction that started after this one are left for the next call: the claim stamps
-- started_at with now(), which must not precede the task's queued_at.
-- Flow control (pgflow._claim_room): a paused flow, or one whose running tasks fill its
-- max_running, reads nothing; one with less room than `qty` reads only that many. Priorities:
-- while the flow has started runs with a priority above 0, their visible messages are read
-- first, highest priority first (pgflow._read_prioritized), and the rest from the queue in order.
-- Returns one row per claimed task (start_tasks' columns, plus attempt, the attempt now
-- starting), each carrying `messages`, how many messages were read; when none of them gave a
-- task, or flow control held work back, also a row with `messages` (0 when nothing was read)
-- and NULL elsewhere; no row when the queue had nothing.
-- Its statements run with generic plans: custom plans were re-planned on every call.
CREATE OR REPLACE FUNCTION pgflow.claim_tasks(queue_name text, qty int, worker_id uuid, for_step text DEFAULT NULL)
RETURNS TABLE (messages int, flow_slug text, run_id uuid, step_slug text, input jsonb, msg_id bigint,
               task_index int, flow_input jsonb, attempt int)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_ids bigint[];
    v_room int;
    v_prioritized text;
    v_qty int;
    v_read_ids bigint[];
    -- one prepared read per queue; a long queue name is hashed to stay within 63 bytes
    v_read text := 'pgflow_claim_next_' || CASE WHEN octet_length(claim_tasks.queue_name) <= 45
                                                THEN claim_tasks.queue_name ELSE md5(claim_tasks.queue_name) END;
BEGIN
    IF NOT pgflow._check_claim_route(NULL, claim_tasks.queue_name, claim_tasks.for_step) THEN
        RETURN;
    END IF;
    -- flow control: a paused flow, or one whose max_running is reached, reads nothing (a row with
    -- messages 0 says so); one with room reads at most that many
    SELECT cr.room, cr.prioritized_flow INTO v_room, v_prioritized FROM pgflow._claim_room(claim_tasks.queue_name) AS cr;
    IF v_room = 0 THEN
        RETURN QUERY SELECT 0, NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                            NULL::int, NULL::jsonb, NULL::int;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements AS p WHERE p.name = v_read) THEN
        EXECUTE format($read$
        PREPARE %2$I (int) AS
        WITH picked AS (
            SELECT q.msg_id, q.message->>'flow_slug' AS flow_slug, q.message->>'step_slug' AS step_slug
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
              JOIN pgflow.flows AS f ON f.flow_slug = p.flow_slug
              LEFT JOIN pgflow.steps AS s ON s.flow_slug = f.flow_slug AND s.step_slug = p.step_slug
             WHERE q.msg_id = p.msg_id
               -- by key: the generic plan cannot know how few rows LIMIT $1 leaves
               AND q.msg_id = ANY (ARRAY(SELECT p2.msg_id FROM picked AS p2))
            RETURNING q.msg_id
        )
        SELECT array_agg(h.msg_id ORDER BY h.msg_id) FROM hidden AS h
        $read$, pgmq.format_table_name(claim_tasks.queue_name, 'q'), v_read);
    END IF;
    v_qty := least(claim_tasks.qty, coalesce(v_room, claim_tasks.qty));
    -- priorities: the tasks of the flow's prioritized runs first, then the queue in order
    IF v_prioritized IS NOT NULL THEN
        v_ids := pgflow._read_prioritized(v_prioritized, claim_tasks.queue_name, v_qty);
    END IF;
    IF coalesce(cardinality(v_ids), 0) < v_qty THEN
        EXECUTE format('EXECUTE %I(%s)', v_read, v_qty - coalesce(cardinality(v_ids), 0)) INTO v_read_ids;
        v_ids := CASE WHEN v_ids IS NULL THEN v_read_ids ELSE v_ids || coalesce(v_read_ids, '{}') END;
    END IF;

    IF v_ids IS NULL THEN
        RETURN;
    END IF;
    -- the claim of start_tasks (pgflow._start_tasks: same eligibility, same updates, task:started,
    -- same inputs), without moving the messages' visibility a second time
    RETURN QUERY
        SELECT cardinality(v_ids), c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index,
               c.flow_input, c.attempt
          FROM pgflow._start_tasks(NULL, v_ids, claim_tasks.worker_id, claim_tasks.queue_name,
                                   claim_tasks.for_step) AS c
         ORDER BY c.msg_id;
    -- no task, or flow control held some back (fewer read than asked, or refused): a row
    -- without a task tells the worker to look at the queue again shortly
    IF NOT FOUND OR v_room < claim_tasks.qty THEN
        RETURN QUERY SELECT cardinality(v_ids), NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                            NULL::int, NULL::jsonb, NULL::int;
    END IF;
END;
$$;

-- 0704_function__advance_runs.sql
-- Batch path: move on several runs at once after their steps completed (what _advance_run does
-- for one run). Runs whose ready steps are all plain - no condition to settle, at least one task
-- each, not a waiting step (pgflow-py) - have those steps started set-based: one UPDATE of the step states (step:started each),
-- one pgmq.send_batch per queue (steps.queue_name) and start delay for every task of every step, one INSERT of the
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
            OR ss.initial_tasks IS NULL OR ss.initial_tasks = 0
            -- pgflow-py: a waiting step (signal, sleep, subflow) starts in start_ready_steps
            OR EXISTS (SELECT 1 FROM pgflow.wait_steps AS w
                        WHERE w.flow_slug = ss.flow_slug AND w.step_slug = ss.step_slug));

    WITH started AS (
        UPDATE pgflow.step_states AS ss
           SET status = 'started', started_at = now(), remaining_tasks = ss.initial_tasks
         WHERE ss.run_id = ANY (p_run_ids) AND NOT (ss.run_id = ANY (coalesce(v_full, '{}')))
           AND ss.status = 'created' AND ss.remaining_deps = 0 AND ss.initial_tasks > 0
        RETURNING ss.flow_slug, ss.run_id, ss.step_slug, ss.initial_tasks,
            CASE WHEN v_events THEN pgflow._emit(pgflow._step_event('step:started', ss)) END AS emitted
    ),
    tasks AS (
        SELECT st.flow_slug, st.run_id, st.step_slug, s.queue_name, i AS task_index,
               coalesce(s.opt_start_delay, 0) AS delay,
               row_number() OVER (PARTITION BY s.queue_name, coalesce(s.opt_start_delay, 0)
                                  ORDER BY st.run_id, st.step_slug, i) AS pos
          FROM started AS st
          JOIN pgflow.steps AS s ON s.flow_slug = st.flow_slug AND s.step_slug = st.step_slug
         CROSS JOIN generate_series(0, st.initial_tasks - 1) AS i
    ),
    sent AS (
        -- pgmq numbers a batch in array order
        SELECT b.queue_name, b.delay, m.msg_id, m.pos
          FROM (SELECT t.queue_name, t.delay,
                       array_agg(jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id,
                                                    'step_slug', t.step_slug, 'task_index', t.task_index)
                                 ORDER BY t.pos) AS msgs
                  FROM tasks AS t
                 GROUP BY t.queue_name, t.delay) AS b
         CROSS JOIN LATERAL pgmq.send_batch(b.queue_name, b.msgs, b.delay) WITH ORDINALITY AS m (msg_id, pos)
    )
    INSERT INTO pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id, queue_name)
    SELECT t.flow_slug, t.run_id, t.step_slug, t.task_index, sent.msg_id, t.queue_name
      FROM tasks AS t
      JOIN sent ON sent.queue_name = t.queue_name AND sent.delay = t.delay AND sent.pos = t.pos;

    FOR v_run IN SELECT unnest(v_full) ORDER BY 1 LOOP
        PERFORM pgflow._advance_run(v_run);
    END LOOP;
END;
$$;

-- 0705_function__wait_input.sql
-- pgflow-py addition (durable waits): the input of a waiting step, as a handler of a single step
-- would get it: the run's input for a root step, {dep_slug: output} of its dependencies
-- otherwise (pgflow._task_input). A sleep step reads its wake time in it, a subflow step its
-- child's input.
CREATE OR REPLACE FUNCTION pgflow._wait_input(p_flow_slug text, p_run_id uuid, p_step_slug text, p_run_input jsonb)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN s.deps_count = 0 THEN p_run_input
                ELSE pgflow._task_input(p_flow_slug, p_run_id, p_step_slug, s.deps_count) END
      FROM pgflow.steps AS s
     WHERE s.flow_slug = p_flow_slug AND s.step_slug = p_step_slug
$$;

