-- pgflow-py migration 0004_core_0_17_functions: drafted by scripts/build_migration.py from the schema files changed since 44916db

-- TODO by hand: 0050_tables_definitions.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0055_tables_workers.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
DROP FUNCTION pgflow._archive_active_messages(uuid, text[]);
-- 0020_function_is_valid_slug.sql
-- A slug names a flow or a step: at most 128 characters of letters, digits and single
-- underscores, starting with a letter and ending with a letter or a digit, and not the reserved
-- word "run" (reserved because handlers once received the flow input under it). "__" is kept
-- for the queue names pgflow generates (flow__step); flow slugs are further limited to 47
-- characters by create_flow (pgmq's queue name limit).
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

-- 0024_function__is_terminal.sql
-- Whether a run, a step state or a task with this status is over: 'completed', 'failed',
-- 'skipped' or 'cancelled' (a task of a failed run), the statuses no transition leaves. The engine's one spelling of "the run (step)
-- is over"; "still going" is NOT pgflow._is_terminal(status). (In Python: RunStatus.is_terminal
-- and its siblings in pgflow.models.)
-- No SET clause, so that PostgreSQL inlines it into the calling statement (it never inlines a
-- function with SET): the body is SQL-standard, its names bound when it is created.
CREATE OR REPLACE FUNCTION pgflow._is_terminal(p_status text)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
RETURN p_status IN ('completed', 'failed', 'skipped', 'cancelled');

-- 0025_function_is_valid_queue_name.sql
-- A queue name pgflow stores (steps.queue_name, step_tasks.queue_name): non-empty, at most 47
-- characters (pgmq's limit) and in the lower-case spelling pgmq gives its tables.
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

-- 0026_function__listed_queue_name.sql
-- The spelling under which pgmq lists a queue whose name matches p_queue_name ignoring case
-- (pgmq.drop_queue needs it exactly; other pgmq calls lower-case names themselves). A name pgmq
-- does not list is returned as given; two listed spellings of one name raise (ambiguous_alias):
-- someone created them by hand, and dropping either could be wrong.
CREATE OR REPLACE FUNCTION pgflow._listed_queue_name(p_queue_name text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_listed text[];
BEGIN
    SELECT array_agg(q.queue_name ORDER BY q.queue_name) INTO v_listed
      FROM pgmq.list_queues() AS q
     WHERE lower(q.queue_name) = lower(p_queue_name);
    IF v_listed IS NULL THEN
        RETURN p_queue_name;
    END IF;
    IF cardinality(v_listed) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'ambiguous_alias',
            MESSAGE = format('queue name "%s" is ambiguous: it matches listed queues %s', p_queue_name, v_listed),
            HINT = 'Drop the queue spelling nobody uses with pgmq.drop_queue, then retry.';
    END IF;
    RETURN v_listed[1];
END;
$$;

-- 0100_function_set_vt_batch.sql
-- Move the visibility time of several messages of one queue in one statement: message
-- msg_ids[i] becomes visible vt_offsets[i] seconds from now (clock time). Returns the updated
-- messages; ids that are not in the queue are left out. Both arrays must have the same length
-- (the error's text is upstream pgflow's; a missing array counts as length 0, where upstream
-- returns nothing).
-- The queue table is named through pgmq.format_table_name, so this follows pgmq's layout
-- (pgmq >= 1.5, which has the headers column).
CREATE OR REPLACE FUNCTION pgflow.set_vt_batch(queue_name text, msg_ids bigint[], vt_offsets int[])
RETURNS TABLE (msg_id bigint, read_ct int, enqueued_at timestamptz, vt timestamptz, message jsonb, headers jsonb)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF cardinality(msg_ids) IS DISTINCT FROM cardinality(vt_offsets) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('msg_ids length (%s) must equal vt_offsets length (%s)',
                             coalesce(cardinality(msg_ids), 0), coalesce(cardinality(vt_offsets), 0)),
            HINT = 'Pass exactly one visibility offset (seconds) per message id.';
    END IF;
    IF coalesce(cardinality(msg_ids), 0) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'UPDATE pgmq.%I AS q
            SET vt = clock_timestamp() + make_interval(secs => v.vt_offset)
           FROM unnest($1, $2) AS v(msg_id, vt_offset)
          WHERE q.msg_id = v.msg_id
      RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
        pgmq.format_table_name(queue_name, 'q'))
    USING msg_ids, vt_offsets;
END;
$$;

-- 0102_function__end_active_tasks.sql
-- End a run's unfinished (queued or started) tasks - of the given steps, or of every step when
-- p_step_slugs is NULL - with p_status: 'skipped' when their step was skipped, 'cancelled' when
-- their run failed. Then archive the messages of exactly those tasks, so that no worker claims
-- them and no sweeper revives them (one pgmq.archive per queue the messages went to). Task rows
-- change before their queue messages are touched: the lock order of every path
-- (requeue_stalled_tasks locks tasks, then messages too).
-- No event: step:skipped and run:failed announce these ends (docs/reference/events.md).
-- Returns how many tasks it ended.
CREATE OR REPLACE FUNCTION pgflow._end_active_tasks(p_run_id uuid, p_status text, p_step_slugs text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    WITH ended AS (
        UPDATE pgflow.step_tasks AS t
           SET status = p_status
         WHERE t.run_id = p_run_id
           AND (p_step_slugs IS NULL OR t.step_slug = ANY (p_step_slugs))
           AND t.status IN ('queued', 'started')
        RETURNING t.queue_name, t.message_id
    ),
    -- read by the final SELECT, so it always runs (after every ended row is locked and updated)
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT e.queue_name, array_agg(e.message_id) AS ids
                  FROM ended AS e
                 WHERE e.message_id IS NOT NULL
                 GROUP BY e.queue_name) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.queue_name, batch.ids) AS a
    )
    SELECT (SELECT count(*)::int FROM ended)
      FROM archived
$$;

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
END;
$$;

-- 0106_function__skip_steps.sql
-- Skip the given steps of a run (those not yet completed, failed or skipped) for one reason,
-- without deciding their dependents' fate: dependents just lose a dependency, and a dependent
-- map step gets zero tasks (pgflow._release_dependents). The skipped steps' unfinished tasks
-- become 'skipped' with their messages archived, the run's remaining_steps drops by the number
-- of skipped steps, and step:skipped is emitted for each (pgflow._mark_steps_skipped). Returns
-- how many steps were skipped.
CREATE OR REPLACE FUNCTION pgflow._skip_steps(p_run_id uuid, p_step_slugs text[], p_skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_skipped text[];
BEGIN
    v_skipped := pgflow._mark_steps_skipped(
        p_run_id, p_step_slugs, array_fill(p_skip_reason, ARRAY[coalesce(cardinality(p_step_slugs), 0)]));
    IF v_skipped IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM pgflow._release_dependents(p_run_id, v_skipped);
    RETURN cardinality(v_skipped);
END;
$$;

-- 0110_function__cascade_force_skip_steps.sql
-- Skip a step and everything downstream of it in one go: the step itself gets skip_reason,
-- every step that depends on it (directly or transitively) gets 'dependency_skipped'. Steps
-- already completed, failed or skipped keep their state (so a second call changes nothing). The
-- skipped steps' unfinished tasks become 'skipped', then their messages are archived; the run's remaining_steps drops by the number of skipped steps,
-- and step:skipped is emitted for each (pgflow._mark_steps_skipped). Returns how many steps
-- were skipped.
-- Called for when_unmet / when_exhausted = 'skip-cascade'.
CREATE OR REPLACE FUNCTION pgflow._cascade_force_skip_steps(run_id uuid, step_slug text, skip_reason text)
RETURNS int
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_slugs text[];
    v_reasons text[];
BEGIN
    WITH RECURSIVE subtree (step_slug) AS (
        SELECT _cascade_force_skip_steps.step_slug
        UNION
        SELECT d.step_slug
          FROM subtree AS t
          JOIN pgflow.deps AS d ON d.dep_slug = t.step_slug
          JOIN pgflow.runs AS r ON r.flow_slug = d.flow_slug
         WHERE r.run_id = _cascade_force_skip_steps.run_id
    )
    SELECT array_agg(t.step_slug),
           array_agg(CASE WHEN t.step_slug = _cascade_force_skip_steps.step_slug
                          THEN _cascade_force_skip_steps.skip_reason
                          ELSE 'dependency_skipped' END)
      INTO v_slugs, v_reasons
      FROM subtree AS t;
    RETURN coalesce(cardinality(
        pgflow._mark_steps_skipped(_cascade_force_skip_steps.run_id, v_slugs, v_reasons)), 0);
END;
$$;

-- 0120_function_cascade_resolve_conditions.sql
-- Settle the conditions of every ready step of a run, repeating while skips make more steps
-- ready (at most 50 rounds). For the first unmet step with when_unmet = 'fail' the step and the
-- run fail ('Condition not met', step:failed + run:failed, the run's unfinished tasks cancelled
-- and their messages archived) and the function returns false. Unmet 'skip' steps are skipped
-- (skip_reason 'condition_unmet'; their dependents lose a dependency, a dependent map gets zero
-- tasks); unmet 'skip-cascade' steps are skipped with everything downstream. Steps whose
-- condition holds stay ready for start_ready_steps. Returns true while the run can go on (false
-- if the run is failed).
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

-- 0135_function_start_ready_steps.sql
-- Start every step of a started run that is ready: created, no pending dependency and a known,
-- non-zero number of tasks. Each becomes 'started' (remaining_tasks = initial_tasks) with
-- step:started, and gets one pgmq message per task on the step's queue (steps.queue_name) -
-- {"flow_slug", "run_id", "step_slug", "task_index"} - sent with the step's start_delay, plus a
-- queued step_tasks row holding the message id and that queue's name. A run that is over
-- (completed or failed) starts nothing. Taskless steps are left to
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
$$;

-- 0145_function__check_run_input.sql
-- Refuse to start a run that cannot work: an unknown flow (PF001), a NULL input, or an input
-- that is not a JSON array for a flow with a root map step (PF003). The two root-map messages
-- are upstream pgflow's texts ('Flow <slug> has root map steps but input is ...'), which
-- pgflow's TypeScript client and tools match on; SQLSTATE and hint are pgflow-py's.
CREATE OR REPLACE FUNCTION pgflow._check_run_input(p_flow_slug text, p_input jsonb)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_has_root_map boolean;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', p_flow_slug),
            HINT = 'Check the slug, or compile the flow first (a worker compiles its flows when it '
                   'starts; in SQL use pgflow.create_flow and pgflow.add_step).';
    END IF;
    v_has_root_map := EXISTS (
        SELECT 1 FROM pgflow.steps AS s
         WHERE s.flow_slug = p_flow_slug AND s.step_type = 'map' AND s.deps_count = 0);
    IF v_has_root_map AND p_input IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('Flow %s has root map steps but input is NULL', p_flow_slug),
            HINT = 'A root map step maps the flow input: start the flow with a JSON array, for example '
                   '''[1, 2, 3]''::jsonb (an empty array is fine).';
    END IF;
    IF p_input IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('flow %L cannot start with a NULL input', p_flow_slug),
            HINT = 'Pass a JSON value as the input, for example ''{}''::jsonb or ''null''::jsonb.';
    END IF;
    IF v_has_root_map AND jsonb_typeof(p_input) <> 'array' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'PF003',
            MESSAGE = format('Flow %s has root map steps but input is not an array (got %s)',
                             p_flow_slug, jsonb_typeof(p_input)),
            HINT = 'A root map step maps the flow input: start the flow with a JSON array, for example '
                   '''[1, 2, 3]''::jsonb (an empty array is fine).';
    END IF;
END;
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

-- 0167_function__check_claim_route.sql
-- The queue rules of a claim (start_tasks, claim_tasks), checked before anything is claimed.
-- The flow is p_flow_slug, or (when NULL, as claim_tasks calls it) the flow that owns queue
-- p_queue_name. Returns false when there is no such flow (nothing can be claimed). A flow with
-- private step queues (queue_mode 'step') needs p_step_slug, and that step must route to
-- p_queue_name exactly; a flow with one queue (queue_mode 'flow') takes no step selector.
-- The messages are upstream pgflow's (callers match on them).
CREATE OR REPLACE FUNCTION pgflow._check_claim_route(p_flow_slug text, p_queue_name text, p_step_slug text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_flow_slug text := p_flow_slug;
    v_queue_mode text;
    v_routed boolean;
BEGIN
    IF v_flow_slug IS NULL THEN
        SELECT s.flow_slug INTO v_flow_slug FROM pgflow.steps AS s WHERE s.queue_name = p_queue_name LIMIT 1;
    END IF;
    SELECT f.queue_mode,
           EXISTS (SELECT 1 FROM pgflow.steps AS s
                    WHERE s.flow_slug = f.flow_slug AND s.step_slug = p_step_slug AND s.queue_name = p_queue_name)
      INTO v_queue_mode, v_routed
      FROM pgflow.flows AS f
     WHERE f.flow_slug = v_flow_slug;
    IF v_queue_mode IS NULL THEN
        RETURN false;
    END IF;
    IF v_queue_mode = 'step' THEN
        IF p_step_slug IS NULL THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Flow "%s" uses per-step queues: an exact step_slug is required to claim tasks.',
                                 v_flow_slug),
                DETAIL = format('Queue "%s" is one step''s private queue.', p_queue_name),
                HINT = 'Pass the slug of the step whose queue was read.';
        END IF;
        IF NOT v_routed THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Step "%s" does not route to queue "%s" in flow "%s".',
                                 p_step_slug, p_queue_name, v_flow_slug),
                HINT = 'Read the queue stored for the step (pgflow.steps.queue_name) and pass that exact name.';
        END IF;
    ELSIF p_step_slug IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" uses the default flow queue: a step selector is not allowed.', v_flow_slug),
            DETAIL = format('Step "%s" was given, but the flow''s steps share one queue.', p_step_slug),
            HINT = 'Leave step_slug NULL to claim any step''s tasks.';
    END IF;
    RETURN true;
END;
$$;

-- 0168_function__start_tasks.sql
-- The claim behind start_tasks and claim_tasks (one implementation for both): claim the tasks
-- behind messages already read from queue p_queue_name, and give each claimed task its handler
-- input. Only tasks whose message went to that queue (step_tasks.queue_name) are considered, of
-- flow p_flow_slug unless it is NULL (claim_tasks knows the queue only) and of step p_step_slug
-- unless it is NULL (the callers check the queue mode's rules before calling). A task is
-- claimed when it is queued and both its run and its step are started;
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

-- 0170_function_start_tasks.sql
-- Claim the tasks behind messages a worker has just read from queue `queue_name` (core 0.17's
-- claim): pgflow._start_tasks' claim (shared with claim_tasks: a task is claimed when its
-- message went to that queue, it is queued and both its run and its step are started, and it
-- becomes 'started' with task:started; messages without such a task give no row, so the worker
-- must accept fewer tasks than messages), then each claimed message is hidden for the step's
-- timeout (step, else flow) + 2 seconds.
-- Queue rules first (pgflow._check_claim_route): an unknown flow claims nothing; a flow with
-- private step queues needs `step_slug`, routed to exactly that queue; a flow with one queue
-- refuses a step selector. When fewer messages could be hidden than tasks were claimed (a
-- message deleted behind the engine's back), the whole call fails and nothing is claimed.
-- The handler input of each task:
--   root map step      -> the element task_index of the run input
--   dependent map step -> the element task_index of its dependency's output
--   other steps        -> {dep_slug: output} over the completed dependencies ({} for root steps)
-- flow_input is the run input for root single steps, NULL otherwise (read pgflow.runs.input).
CREATE OR REPLACE FUNCTION pgflow.start_tasks(
    flow_slug text, msg_ids bigint[], worker_id uuid, queue_name text, step_slug text DEFAULT NULL)
RETURNS SETOF pgflow.step_task_record
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow._check_claim_route(start_tasks.flow_slug, start_tasks.queue_name, start_tasks.step_slug) THEN
        RETURN;
    END IF;
    RETURN QUERY
        WITH claimed AS MATERIALIZED (
            SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
              FROM pgflow._start_tasks(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id,
                                       start_tasks.queue_name, start_tasks.step_slug) AS c
        ),
        visibility AS (
            -- hide the claimed messages for the step's timeout + 2 s
            SELECT v.msg_id
              FROM (SELECT array_agg(c.msg_id ORDER BY c.msg_id) AS ids,
                           array_agg(coalesce(s.opt_timeout, f.opt_timeout) + 2 ORDER BY c.msg_id) AS offsets
                      FROM claimed AS c
                      JOIN pgflow.steps AS s ON s.flow_slug = c.flow_slug AND s.step_slug = c.step_slug
                      JOIN pgflow.flows AS f ON f.flow_slug = c.flow_slug) AS batch
             CROSS JOIN LATERAL pgflow.set_vt_batch(start_tasks.queue_name, batch.ids, batch.offsets) AS v
        ),
        checked AS (
            -- read by the final SELECT, so it always runs; a shortfall fails the statement (the
            -- text is upstream's), rolling back the claim
            SELECT CASE WHEN hidden.n = (SELECT count(*) FROM claimed) THEN hidden.n
                        ELSE format('start_tasks(): visibility updated %s of %s claimed messages',
                                    hidden.n, (SELECT count(*) FROM claimed))::int END AS n
              FROM (SELECT count(*)::int AS n FROM visibility) AS hidden
        )
        SELECT c.flow_slug, c.run_id, c.step_slug, c.input, c.msg_id, c.task_index, c.flow_input
          FROM claimed AS c
         CROSS JOIN checked
         WHERE checked.n >= 0
         ORDER BY c.msg_id;
END;
$$;

-- 0201_function__check_slug.sql
-- Raise PF004 unless `p_slug` is a valid slug; `p_what` names it in the message ("flow slug").
CREATE OR REPLACE FUNCTION pgflow._check_slug(p_what text, p_slug text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF NOT pgflow.is_valid_slug(p_slug) THEN
        PERFORM pgflow._definition_error(format('invalid %s %L', p_what, p_slug),
            'A slug starts with a letter, continues with letters, digits and single underscores, ends with '
            || 'a letter or a digit, has at most 128 characters and is not "run" ("__" is kept for queue names).');
    END IF;
END;
$$;

-- 0203_function__check_step_definition.sql
-- Validate a step before add_step inserts it; every problem raises PF004 with a hint.
CREATE OR REPLACE FUNCTION pgflow._check_step_definition(
    p_flow_slug text,
    p_step_slug text,
    p_deps text[],
    p_step_type text,
    p_required_input_pattern jsonb,
    p_forbidden_input_pattern jsonb,
    p_when_unmet text,
    p_when_exhausted text
)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_step text := format('step %s.%s', p_flow_slug, p_step_slug);
    v_unknown text[];
BEGIN
    PERFORM pgflow._check_slug('step slug', p_step_slug);
    IF p_step_type IS NULL OR p_step_type NOT IN ('single', 'map') THEN
        PERFORM pgflow._definition_error(format('%s has step_type %L', v_step, p_step_type),
            'Use step_type ''single'' or ''map''.');
    END IF;
    IF p_step_type = 'map' AND cardinality(p_deps) > 1 THEN
        PERFORM pgflow._definition_error(
            -- upstream pgflow's text, which tools match on
            format('Map step "%s" can have at most one dependency, but %s were provided: %s',
                   p_step_slug, cardinality(p_deps), array_to_string(p_deps, ', ')),
            'Map the output array of a single step: give the map step exactly that one dependency, or none to map the run input.');
    END IF;
    IF p_step_slug = ANY (p_deps) THEN
        PERFORM pgflow._definition_error(format('%s depends on itself', v_step),
            'Remove the step from its own dependencies.');
    END IF;
    SELECT array_agg(d ORDER BY d) INTO v_unknown
    FROM unnest(p_deps) AS d
    WHERE NOT EXISTS (SELECT 1 FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug AND s.step_slug = d);
    IF v_unknown IS NOT NULL THEN
        PERFORM pgflow._definition_error(
            format('%s depends on unknown step(s) %s', v_step, array_to_string(v_unknown, ', ')),
            'Dependencies must be defined before the step: add them first (steps are added in dependency order).');
    END IF;
    IF p_when_unmet IS NULL OR p_when_unmet NOT IN ('fail', 'skip', 'skip-cascade')
       OR p_when_exhausted IS NULL OR p_when_exhausted NOT IN ('fail', 'skip', 'skip-cascade') THEN
        PERFORM pgflow._definition_error(
            format('%s has when_unmet %L and when_exhausted %L', v_step, p_when_unmet, p_when_exhausted),
            'Use ''fail'', ''skip'' or ''skip-cascade'' for when_unmet and when_exhausted.');
    END IF;
    IF jsonb_typeof(p_required_input_pattern) IS DISTINCT FROM 'object' AND p_required_input_pattern IS NOT NULL
       OR jsonb_typeof(p_forbidden_input_pattern) IS DISTINCT FROM 'object' AND p_forbidden_input_pattern IS NOT NULL THEN
        PERFORM pgflow._definition_error(format('%s has an input pattern that is not a JSON object', v_step),
            'Give required_input_pattern and forbidden_input_pattern as JSON objects (matched with @>), or NULL.');
    END IF;
END;
$$;

-- 0204_function_create_flow.sql
-- Define a flow (idempotent). NULL options take the defaults 3 attempts, 5 s base delay and
-- 60 s timeout. A flow that already exists keeps its options: the row is returned unchanged.
-- The flow's pgmq queue, lower(flow_slug), is created when pgmq lists it in no spelling (a flow
-- with private step queues gets none). A new flow whose queue pgmq already lists belongs to
-- someone else's queue and is refused (unique_violation), as is a slug differing from an
-- existing flow's only in case. Definitions of one flow are serialized by the advisory lock
-- (1, hashtext(lower(flow_slug))), upstream's key, so compilers in any language take turns.
CREATE OR REPLACE FUNCTION pgflow.create_flow(
    flow_slug text,
    max_attempts int DEFAULT NULL,
    base_delay int DEFAULT NULL,
    timeout int DEFAULT NULL
)
RETURNS pgflow.flows
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_flow pgflow.flows;
    v_other text;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(create_flow.flow_slug)));
    PERFORM pgflow._check_slug('flow slug', create_flow.flow_slug);
    IF length(create_flow.flow_slug) > 47 THEN
        PERFORM pgflow._definition_error(
            format('flow slug %L is %s characters long; its pgmq queue name allows at most 47',
                   create_flow.flow_slug, length(create_flow.flow_slug)),
            'Choose a flow slug of at most 47 characters.');
    END IF;
    PERFORM pgflow._check_options('flow ' || create_flow.flow_slug,
                                  create_flow.max_attempts, create_flow.base_delay, create_flow.timeout, NULL);

    SELECT f.flow_slug INTO v_other FROM pgflow.flows AS f
     WHERE lower(f.flow_slug) = lower(create_flow.flow_slug) AND f.flow_slug <> create_flow.flow_slug;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation',
            MESSAGE = format('cannot create flow "%s": flow "%s" differs from it only in case and owns queue "%s"',
                             create_flow.flow_slug, v_other, lower(create_flow.flow_slug)),
            HINT = format('Use the existing slug "%s", or choose a slug that differs in more than case.', v_other);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pgflow.flows AS f WHERE f.flow_slug = create_flow.flow_slug)
       AND EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(create_flow.flow_slug)) THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation',
            MESSAGE = format('cannot create flow "%s": queue "%s" is already in use by another owner',
                             create_flow.flow_slug, lower(create_flow.flow_slug)),
            HINT = 'Choose another flow slug, or drop the queue (pgmq.drop_queue) if nothing uses it.';
    END IF;

    INSERT INTO pgflow.flows AS f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
    VALUES (create_flow.flow_slug,
            coalesce(create_flow.max_attempts, 3),
            coalesce(create_flow.base_delay, 5),
            coalesce(create_flow.timeout, 60))
    ON CONFLICT ON CONSTRAINT flows_pkey DO UPDATE SET flow_slug = f.flow_slug
    RETURNING f.* INTO v_flow;

    IF v_flow.queue_mode = 'flow'
       AND NOT EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(create_flow.flow_slug)) THEN
        PERFORM pgmq.create(lower(create_flow.flow_slug));
    END IF;
    RETURN v_flow;
END;
$$;

-- 0205_function_add_step.sql
-- Add a step to a flow (idempotent: a step that already exists is returned unchanged), with the
-- rules of pgflow._add_step. The step's queue is the flow's, lower(flow_slug). A flow with private step queues
-- (queue_mode 'step') takes no steps one by one: compile its whole definition instead.
CREATE OR REPLACE FUNCTION pgflow.add_step(
    flow_slug text,
    step_slug text,
    deps_slugs text[] DEFAULT '{}',
    max_attempts int DEFAULT NULL,
    base_delay int DEFAULT NULL,
    timeout int DEFAULT NULL,
    start_delay int DEFAULT NULL,
    step_type text DEFAULT 'single',
    required_input_pattern jsonb DEFAULT NULL,
    forbidden_input_pattern jsonb DEFAULT NULL,
    when_unmet text DEFAULT 'skip',
    when_exhausted text DEFAULT 'fail'
)
RETURNS pgflow.steps
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_queue_mode text;
BEGIN
    -- serialize definitions of one flow (step_index is max + 1), with every compiler's lock
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(add_step.flow_slug)));
    SELECT f.queue_mode INTO v_queue_mode FROM pgflow.flows AS f WHERE f.flow_slug = add_step.flow_slug;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF001',
            MESSAGE = format('flow %L not found', add_step.flow_slug),
            HINT = format('Create the flow first: SELECT pgflow.create_flow(%L).', add_step.flow_slug);
    END IF;
    IF v_queue_mode = 'step' THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" uses per-step queues: steps cannot be added incrementally.', add_step.flow_slug),
            DETAIL = 'A flow with private step queues is defined only by compiling its whole definition.',
            HINT = 'Compile the complete flow (ensure_flow_compiled with queue_mode ''step'') instead.';
    END IF;
    RETURN pgflow._add_step(add_step.flow_slug, add_step.step_slug, lower(add_step.flow_slug), add_step.deps_slugs,
                            add_step.max_attempts, add_step.base_delay, add_step.timeout, add_step.start_delay,
                            add_step.step_type, add_step.required_input_pattern, add_step.forbidden_input_pattern,
                            add_step.when_unmet, add_step.when_exhausted);
END;
$$;

-- 0206_function_delete_flow_and_data.sql
-- Delete a flow with everything that belongs to it: its pgmq queues (with their archives), its
-- tasks, step states and runs, and its definition. Meant for development and recompilation.
-- Only a flow stored under exactly this slug has its queues dropped: those its steps route to,
-- and in flow mode its default queue lower(flow_slug), each under the spelling pgmq lists
-- (pgflow._listed_queue_name). Serialized with compilers by the flow's advisory lock.
CREATE OR REPLACE FUNCTION pgflow.delete_flow_and_data(p_flow_slug text)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_queue_mode text;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(p_flow_slug)));
    SELECT f.queue_mode INTO v_queue_mode FROM pgflow.flows AS f WHERE f.flow_slug = p_flow_slug;
    IF v_queue_mode IS NOT NULL THEN
        PERFORM pgmq.drop_queue(pgflow._listed_queue_name(route.queue_name))
           FROM (SELECT s.queue_name FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug
                 UNION
                 SELECT lower(p_flow_slug) WHERE v_queue_mode = 'flow') AS route
          WHERE EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = route.queue_name);
    END IF;
    DELETE FROM pgflow.step_tasks WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.step_states WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.runs WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.deps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.steps WHERE flow_slug = p_flow_slug;
    DELETE FROM pgflow.flows WHERE flow_slug = p_flow_slug;
END;
$$;

-- 0207_function__add_step.sql
-- The insert behind add_step and the compilation of flows with private step queues: add step
-- p_step_slug, whose tasks go to queue p_queue_name, to an existing flow (idempotent: a step that
-- already exists is returned unchanged). Dependencies must already be steps of the flow, so
-- steps are added in topological order and step_index (the insertion order) is a valid execution
-- order. A map step has at most one dependency: the step whose output array it maps (none = it
-- maps the run input). Step slugs of a flow differ in more than case. The caller holds the
-- flow's advisory lock.
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

-- 0208_function__resolve_step_queue_name.sql
-- The private queue of a step of a flow with step queues: lower(flow_slug || '__' || step_slug)
-- when that fits pgmq's 47 characters, else lower(flow_slug || '__' || step_index). Raises when
-- neither fits (the messages are upstream pgflow's).
CREATE OR REPLACE FUNCTION pgflow._resolve_step_queue_name(p_flow_slug text, p_step_slug text, p_step_index int)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_by_slug text := lower(p_flow_slug || '__' || p_step_slug);
    v_by_index text := lower(p_flow_slug || '__' || p_step_index);
    v_shortest text := lower(p_flow_slug || '__0');
BEGIN
    IF length(v_by_slug) <= 47 THEN
        RETURN v_by_slug;
    END IF;
    IF length(v_shortest) > 47 THEN
        RAISE EXCEPTION USING
            MESSAGE = format('Flow "%s" cannot use per-step queues.', p_flow_slug),
            DETAIL = format('Even its shortest step queue name "%s" has %s characters; pgmq allows 47.',
                            v_shortest, length(v_shortest)),
            HINT = 'Use a shorter flow slug, or keep the flow on one queue.';
    END IF;
    IF length(v_by_index) <= 47 THEN
        RETURN v_by_index;
    END IF;
    RAISE EXCEPTION USING
        MESSAGE = format('Cannot derive a queue for step "%s" at index %s in flow "%s".',
                         p_step_slug, p_step_index, p_flow_slug),
        DETAIL = format('"%s" has %s characters and "%s" has %s; pgmq allows 47.',
                        v_by_slug, length(v_by_slug), v_by_index, length(v_by_index)),
        HINT = 'Use a shorter flow slug or step slug, or keep the flow on one queue.';
END;
$$;

-- 0209_function__derive_queue_routes.sql
-- The queue of every step of a shape, in shape order: [{"stepSlug", "queueName"}, ...]. In flow
-- mode every step routes to lower(flow_slug); in step mode each to its private queue
-- (pgflow._resolve_step_queue_name). Checks first that the mode is known, that every slug is
-- valid, that step slugs differ in more than case and that no two steps share a private queue
-- (the messages are upstream pgflow's).
CREATE OR REPLACE FUNCTION pgflow._derive_queue_routes(p_flow_slug text, p_shape jsonb, p_queue_mode text)
RETURNS jsonb
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_rules constant text := 'Slugs are 1-128 characters of letters, digits and single underscores, start with '
        || 'a letter, end with a letter or a digit and are not the reserved word "run".';
    v_steps jsonb := coalesce(p_shape->'steps', '[]'::jsonb);
    v_slug text;
    v_index int;
    v_queue text;
    v_routes jsonb := '[]'::jsonb;
    v_earlier jsonb;
BEGIN
    IF p_queue_mode IS NULL OR p_queue_mode NOT IN ('flow', 'step') THEN
        RAISE EXCEPTION USING MESSAGE = format('Unknown queue mode "%s".', p_queue_mode),
            HINT = 'Queue mode must be ''flow'' or ''step''.';
    END IF;
    IF p_queue_mode = 'step' AND jsonb_array_length(v_steps) = 0 THEN
        RAISE EXCEPTION USING MESSAGE = format('Flow "%s" cannot use per-step queues: it has no steps.', p_flow_slug),
            HINT = 'Add a step, or keep the flow on one queue.';
    END IF;
    IF NOT pgflow.is_valid_slug(p_flow_slug) THEN
        RAISE EXCEPTION USING MESSAGE = format('Flow slug "%s" is not valid.', p_flow_slug), DETAIL = v_rules,
            HINT = 'Fix the flow slug in the flow definition.';
    END IF;
    SELECT e->>'slug' INTO v_slug
      FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS t(e, i)
     WHERE NOT pgflow.is_valid_slug(e->>'slug')
     ORDER BY i
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING MESSAGE = format('Step slug "%s" in flow "%s" is not valid.', v_slug, p_flow_slug),
            DETAIL = v_rules, HINT = 'Fix the step slug in the flow definition.';
    END IF;

    FOR v_slug, v_index IN
        SELECT e->>'slug', (i - 1)::int FROM jsonb_array_elements(v_steps) WITH ORDINALITY AS t(e, i) ORDER BY i
    LOOP
        SELECT r INTO v_earlier FROM jsonb_array_elements(v_routes) AS r
         WHERE lower(r->>'stepSlug') = lower(v_slug) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING
                MESSAGE = format('Steps "%s" and "%s" in flow "%s" conflict case-insensitively.',
                                 v_earlier->>'stepSlug', v_slug, p_flow_slug),
                HINT = 'Rename one of the two steps.';
        END IF;
        v_queue := CASE WHEN p_queue_mode = 'step'
                        THEN pgflow._resolve_step_queue_name(p_flow_slug, v_slug, v_index)
                        ELSE lower(p_flow_slug) END;
        IF p_queue_mode = 'step' THEN
            SELECT r INTO v_earlier FROM jsonb_array_elements(v_routes) AS r WHERE r->>'queueName' = v_queue LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION USING
                    MESSAGE = format('Steps "%s" and "%s" in flow "%s" both resolve to queue "%s".',
                                     v_earlier->>'stepSlug', v_slug, p_flow_slug, v_queue),
                    HINT = 'Rename one of the two steps.';
            END IF;
        END IF;
        v_routes := v_routes || jsonb_build_array(jsonb_build_object('stepSlug', v_slug, 'queueName', v_queue));
    END LOOP;
    RETURN v_routes;
END;
$$;

-- 0215_function__compare_flow_shapes.sql
-- The structural differences between two FlowShapes - `p_code`, the shape a worker's code
-- declares, and `p_database`, the stored one - one line each; empty when they match. Compared
-- per position: step count, slug, stepType, dependencies, whenUnmet, whenExhausted and both
-- input patterns (missing keys count as their defaults, see _normalize_shape_step). Numeric
-- options are not structural and are not compared. The lines are upstream pgflow's texts
-- ("first" is p_code, "second" p_database), which tools match on; pgflow-py's Python layer
-- words its own errors.
CREATE OR REPLACE FUNCTION pgflow._compare_flow_shapes(p_code jsonb, p_database jsonb)
RETURNS text[]
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    WITH code AS (
        SELECT (i - 1)::int AS idx, pgflow._normalize_shape_step(e) AS step
        FROM jsonb_array_elements(coalesce(p_code->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    ), db AS (
        SELECT (i - 1)::int AS idx, pgflow._normalize_shape_step(e) AS step
        FROM jsonb_array_elements(coalesce(p_database->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    ), pairs AS (
        SELECT coalesce(code.idx, db.idx) AS idx, code.step AS c, db.step AS d
        FROM code FULL JOIN db ON db.idx = code.idx
    ), differences AS (
        SELECT -1 AS idx, 0 AS n,
               format('Step count differs: %s vs %s', (SELECT count(*) FROM code), (SELECT count(*) FROM db)) AS line
        WHERE (SELECT count(*) FROM code) <> (SELECT count(*) FROM db)
        UNION ALL
        SELECT idx, 0, CASE WHEN c IS NULL
                            THEN format('Step at index %s: missing in first shape (second has ''%s'')', idx, d->>'slug')
                            ELSE format('Step at index %s: missing in second shape (first has ''%s'')', idx, c->>'slug') END
        FROM pairs
        WHERE c IS NULL OR d IS NULL
        UNION ALL
        SELECT p.idx, k.n,
               CASE WHEN k.key = 'dependencies'
                    THEN format('Step at index %s: dependencies differ %s vs %s', p.idx,
                                pgflow._shape_value_text(p.c->k.key), pgflow._shape_value_text(p.d->k.key))
                    ELSE format('Step at index %s: %s differs ''%s'' vs ''%s''', p.idx, k.label,
                                CASE WHEN jsonb_typeof(p.c->k.key) = 'string' THEN p.c->>k.key ELSE (p.c->k.key)::text END,
                                CASE WHEN jsonb_typeof(p.d->k.key) = 'string' THEN p.d->>k.key ELSE (p.d->k.key)::text END)
               END
        FROM pairs AS p
        CROSS JOIN (VALUES (1, 'slug', 'slug'), (2, 'stepType', 'type'), (3, 'dependencies', 'dependencies'),
                           (4, 'whenUnmet', 'whenUnmet'), (5, 'whenExhausted', 'whenExhausted'),
                           (6, 'requiredInputPattern', 'requiredInputPattern'),
                           (7, 'forbiddenInputPattern', 'forbiddenInputPattern')) AS k(n, key, label)
        WHERE p.c IS NOT NULL AND p.d IS NOT NULL AND p.c->k.key IS DISTINCT FROM p.d->k.key
    )
    SELECT coalesce(array_agg(line ORDER BY idx, n), '{}') FROM differences
$$;

-- 0216_function__create_flow_from_shape.sql
-- Create a flow and its steps from a FlowShape (see _get_flow_shape), so every definition rule
-- of create_flow and add_step applies. Options missing from the shape take the defaults.
-- pgflow-py extension: a top-level "flowType" ('flow' or 'job') sets flows.flow_type.
-- p_queue_mode 'flow' gives the flow one queue, lower(flow_slug) (create_flow); 'step' gives each
-- step a private queue (pgflow._derive_queue_routes): every queue is checked first
-- (pgflow._assert_step_queue_available), then the missing ones are created, so a refused
-- definition leaves no queue behind; such a flow has no default queue.
-- Takes the flow's advisory lock (1, hashtext(lower(flow_slug))), as ensure_flow_compiled does.
CREATE OR REPLACE FUNCTION pgflow._create_flow_from_shape(p_flow_slug text, p_shape jsonb, p_queue_mode text DEFAULT 'flow')
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_mode text := coalesce(p_queue_mode, 'flow');
    v_routes jsonb;
    v_missing text[] := '{}';
    v_step jsonb;
    v_index int;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(p_flow_slug)));
    v_routes := pgflow._derive_queue_routes(p_flow_slug, p_shape, v_mode);

    IF v_mode = 'step' THEN
        SELECT coalesce(array_agg(r->>'queueName' ORDER BY i), '{}') INTO v_missing
          FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS t(r, i)
         WHERE pgflow._assert_step_queue_available(p_flow_slug, r->>'queueName');
        PERFORM pgflow._check_options('flow ' || p_flow_slug, (p_shape #>> '{options,maxAttempts}')::int,
                                      (p_shape #>> '{options,baseDelay}')::int,
                                      (p_shape #>> '{options,timeout}')::int, NULL);
        PERFORM pgmq.create(q) FROM unnest(v_missing) AS q;
        INSERT INTO pgflow.flows AS f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout, queue_mode)
        VALUES (p_flow_slug,
                coalesce((p_shape #>> '{options,maxAttempts}')::int, 3),
                coalesce((p_shape #>> '{options,baseDelay}')::int, 5),
                coalesce((p_shape #>> '{options,timeout}')::int, 60),
                'step')
        ON CONFLICT ON CONSTRAINT flows_pkey DO NOTHING;
    ELSE
        PERFORM pgflow.create_flow(p_flow_slug,
                                   (p_shape #>> '{options,maxAttempts}')::int,
                                   (p_shape #>> '{options,baseDelay}')::int,
                                   (p_shape #>> '{options,timeout}')::int);
    END IF;
    IF p_shape ? 'flowType' THEN
        IF p_shape->>'flowType' IS DISTINCT FROM 'flow' AND p_shape->>'flowType' IS DISTINCT FROM 'job' THEN
            PERFORM pgflow._definition_error(format('flow %s has flowType %s', p_flow_slug, p_shape->'flowType'),
                                             'Use "flow" or "job" as flowType, or leave it out.');
        END IF;
        UPDATE pgflow.flows SET flow_type = p_shape->>'flowType' WHERE flow_slug = p_flow_slug;
    END IF;

    -- each step with the queue derived for it (in flow mode lower(flow_slug), as add_step gives)
    FOR v_step, v_index IN
        SELECT e, (i - 1)::int FROM jsonb_array_elements(coalesce(p_shape->'steps', '[]')) WITH ORDINALITY AS t(e, i)
    LOOP
        PERFORM pgflow._add_step(
            p_flow_slug,
            v_step->>'slug',
            v_routes->v_index->>'queueName',
            ARRAY(SELECT jsonb_array_elements_text(coalesce(v_step->'dependencies', '[]'))),
            (v_step #>> '{options,maxAttempts}')::int,
            (v_step #>> '{options,baseDelay}')::int,
            (v_step #>> '{options,timeout}')::int,
            (v_step #>> '{options,startDelay}')::int,
            coalesce(v_step->>'stepType', 'single'),
            pgflow._shape_pattern_value(v_step->'requiredInputPattern'),
            pgflow._shape_pattern_value(v_step->'forbiddenInputPattern'),
            coalesce(v_step->>'whenUnmet', 'skip'),
            coalesce(v_step->>'whenExhausted', 'fail'));
    END LOOP;
END;
$$;

-- 0217_function_ensure_flow_compiled.sql
-- Make sure the database holds the flow a worker's code declares (`shape`, FlowShape JSON) with
-- the queues it declares (`queue_mode` 'flow': one queue; 'step': a private queue per step,
-- `route_map` optionally naming them as the worker computed them). Answers
-- {"status": ..., "differences": [...], "mismatchKind": ...}:
--   compiled   - the flow did not exist and was created from the shape;
--   verified   - the stored flow has the same structure and the same queues;
--   mismatch   - it differs and nothing was changed: differences say how, mismatchKind is
--                'routing' when only the queue mode or the steps' queues differ, else 'shape';
--   recompiled - it differed and, this being a local Supabase stack (is_local()), the flow was
--                deleted with all its runs and created anew.
-- A route_map that differs from the queues SQL derives raises (the worker's idea of its queues
-- would be wrong). A verified flow with step queues has its queues checked again
-- (pgflow._assert_step_queue_available). Concurrent calls for one flow (from any language's
-- compiler) are serialized by the advisory lock (1, hashtext(lower(flow_slug))).
-- Texts of differences and errors are upstream pgflow's (tools match on them).
CREATE OR REPLACE FUNCTION pgflow.ensure_flow_compiled(
    flow_slug text,
    shape jsonb,
    queue_mode text DEFAULT 'flow',
    route_map jsonb DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_mode text := coalesce(ensure_flow_compiled.queue_mode, 'flow');
    v_routes jsonb;
    v_stored_mode text;
    v_differences text[];
    v_routing text[] := '{}';
    v_stored text;
    v_expected text;
    v_at int;
BEGIN
    PERFORM pg_advisory_xact_lock(1, hashtext(lower(ensure_flow_compiled.flow_slug)));
    v_routes := pgflow._derive_queue_routes(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);

    IF ensure_flow_compiled.route_map IS NOT NULL THEN
        IF jsonb_typeof(ensure_flow_compiled.route_map) IS DISTINCT FROM 'array'
           OR jsonb_array_length(ensure_flow_compiled.route_map) <> jsonb_array_length(v_routes) THEN
            RAISE EXCEPTION USING
                MESSAGE = format('supplied route map for flow "%s" has %s entries but %s step(s) was derived',
                                 ensure_flow_compiled.flow_slug,
                                 CASE WHEN jsonb_typeof(ensure_flow_compiled.route_map) = 'array'
                                      THEN jsonb_array_length(ensure_flow_compiled.route_map) END,
                                 jsonb_array_length(v_routes)),
                HINT = 'Pass one {"stepSlug", "queueName"} per step in shape order, or no route map.';
        END IF;
        SELECT i INTO v_at
          FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS d(r, i)
         WHERE (ensure_flow_compiled.route_map->(i::int - 1)->>'stepSlug') IS DISTINCT FROM r->>'stepSlug'
            OR (ensure_flow_compiled.route_map->(i::int - 1)->>'queueName') IS DISTINCT FROM r->>'queueName'
         ORDER BY i
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION USING
                MESSAGE = format('supplied route map for flow "%s" disagrees with the derived route at position %s',
                                 ensure_flow_compiled.flow_slug, v_at),
                DETAIL = format('Supplied %s; derived %s.', ensure_flow_compiled.route_map->(v_at - 1),
                                v_routes->(v_at - 1)),
                HINT = 'Queue names derive from the flow slug, the step slugs and their order; fix the route map.';
        END IF;
    END IF;

    SELECT f.queue_mode INTO v_stored_mode FROM pgflow.flows AS f WHERE f.flow_slug = ensure_flow_compiled.flow_slug;
    IF NOT FOUND THEN
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);
        RETURN jsonb_build_object('status', 'compiled', 'differences', '[]'::jsonb, 'mismatchKind', NULL);
    END IF;

    v_differences := pgflow._compare_flow_shapes(ensure_flow_compiled.shape,
                                                 pgflow._get_flow_shape(ensure_flow_compiled.flow_slug));
    IF v_stored_mode IS DISTINCT FROM v_mode THEN
        v_routing := v_routing || format('Queue mode differs: database has ''%s'', worker expects ''%s''',
                                         v_stored_mode, v_mode);
    END IF;
    SELECT string_agg(s.step_slug || ' -> ' || s.queue_name, ', ' ORDER BY s.step_index) INTO v_stored
      FROM pgflow.steps AS s WHERE s.flow_slug = ensure_flow_compiled.flow_slug;
    SELECT string_agg((r->>'stepSlug') || ' -> ' || (r->>'queueName'), ', ' ORDER BY i) INTO v_expected
      FROM jsonb_array_elements(v_routes) WITH ORDINALITY AS t(r, i);
    IF v_stored IS DISTINCT FROM v_expected THEN
        v_routing := v_routing || format('Step routes differ: database has [%s], worker expects [%s]',
                                         coalesce(v_stored, ''), coalesce(v_expected, ''));
    END IF;

    IF cardinality(v_differences) = 0 AND cardinality(v_routing) = 0 THEN
        IF v_mode = 'step' THEN
            PERFORM pgflow._assert_step_queue_available(ensure_flow_compiled.flow_slug, r->>'queueName')
               FROM jsonb_array_elements(v_routes) AS r;
        END IF;
        RETURN jsonb_build_object('status', 'verified', 'differences', '[]'::jsonb, 'mismatchKind', NULL);
    END IF;

    IF pgflow.is_local() THEN
        PERFORM pgflow.delete_flow_and_data(ensure_flow_compiled.flow_slug);
        PERFORM pgflow._create_flow_from_shape(ensure_flow_compiled.flow_slug, ensure_flow_compiled.shape, v_mode);
        RETURN jsonb_build_object('status', 'recompiled', 'differences', to_jsonb(v_differences || v_routing),
                                  'mismatchKind', NULL);
    END IF;
    RETURN jsonb_build_object('status', 'mismatch', 'differences', to_jsonb(v_differences || v_routing),
                              'mismatchKind', CASE WHEN cardinality(v_differences) = 0 THEN 'routing' ELSE 'shape' END);
END;
$$;

-- 0218_function__assert_step_queue_available.sql
-- Whether flow p_flow_slug may use queue p_queue_name as a private step queue: true when the
-- queue must still be created, false when the flow already owns it (one of its steps routes to
-- it and pgmq lists it). Raises when another flow routes to it or has it as its default queue,
-- when pgmq lists it in several spellings, when pgmq lists it but the flow does not own it, and
-- when the flow owns it but pgmq no longer lists it (someone dropped it). The messages are
-- upstream pgflow's.
CREATE OR REPLACE FUNCTION pgflow._assert_step_queue_available(p_flow_slug text, p_queue_name text)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_owner text;
    v_listed text[];
BEGIN
    SELECT s.flow_slug INTO v_owner FROM pgflow.steps AS s
     WHERE s.queue_name = p_queue_name AND lower(s.flow_slug) <> lower(p_flow_slug)
     LIMIT 1;
    IF v_owner IS NULL THEN
        SELECT f.flow_slug INTO v_owner FROM pgflow.flows AS f
         WHERE f.queue_mode = 'flow' AND lower(f.flow_slug) = p_queue_name AND lower(f.flow_slug) <> lower(p_flow_slug)
         LIMIT 1;
    END IF;
    IF v_owner IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('cannot create flow "%s": queue "%s" is already used by another flow ("%s")',
                             p_flow_slug, p_queue_name, v_owner),
            HINT = 'Use another flow slug, or delete the other flow first.';
    END IF;

    SELECT array_agg(q.queue_name ORDER BY q.queue_name) INTO v_listed
      FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = p_queue_name;
    IF cardinality(v_listed) > 1 THEN
        RAISE EXCEPTION USING
            MESSAGE = format('queue "%s" matches multiple listed PGMQ queues (%s)', p_queue_name, v_listed),
            HINT = 'Drop the spelling nothing uses (pgmq.drop_queue), then retry.';
    END IF;

    IF EXISTS (SELECT 1 FROM pgflow.steps AS s WHERE s.flow_slug = p_flow_slug AND s.queue_name = p_queue_name) THEN
        IF v_listed IS NULL THEN
            RAISE EXCEPTION USING
                MESSAGE = format('queue "%s" owned by flow "%s" is not listed in PGMQ', p_queue_name, p_flow_slug),
                DETAIL = 'pgflow never drops a queue it owns by itself; something else dropped it, and the '
                         || 'flow''s tasks still name messages of that queue.',
                HINT = 'Find out why the queue went away; if its messages are not needed, delete the flow '
                       || '(pgflow.delete_flow_and_data) and compile it again.';
        END IF;
        RETURN false;
    END IF;
    IF v_listed IS NOT NULL THEN
        RAISE EXCEPTION USING
            MESSAGE = format('cannot create flow "%s": queue "%s" is already listed in PGMQ and not owned by this flow',
                             p_flow_slug, p_queue_name),
            HINT = 'Drop that queue if nothing uses it, or use another flow slug.';
    END IF;
    RETURN true;
END;
$$;

-- 0224_function__fail_task_type_violation.sql
-- A single step produced a non-array output for a dependent map step: the task fails keeping
-- the offending output (task:failed), the step and the run fail (step:failed, run:failed, the
-- run's other unfinished tasks cancelled) and the task's own message is archived. Not retried: the
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
    PERFORM pgmq.archive(v_task.queue_name, v_task.message_id);
END;
$$;

-- 0225_function__lock_reported_task.sql
-- First step of complete_task and fail_task: lock the task's step state row (so reports of
-- sibling tasks are applied one after another) and decide whether the report counts.
-- Returns one row - the task's flow, step settings and message (with its queue) - when run, step and task are
-- all 'started'. Returns nothing for an unknown task, and for a late report (the run failed or
-- the step is no longer started: then the task's message is archived) or a task that is not
-- started (completed already, or requeued: left alone).
CREATE OR REPLACE FUNCTION pgflow._lock_reported_task(p_run_id uuid, p_step_slug text, p_task_index int)
RETURNS TABLE (flow_slug text, step_type text, remaining_tasks int, message_id bigint, attempts_count int,
               when_exhausted text, max_attempts int, base_delay int, queue_name text)
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
    SELECT t.status, t.message_id, t.attempts_count, t.queue_name, r.status
      INTO v_task_status, message_id, attempts_count, queue_name, v_run_status
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id
     WHERE t.run_id = p_run_id AND t.step_slug = p_step_slug AND t.task_index = p_task_index;

    IF v_task_status IS NULL OR v_step_status IS NULL THEN
        RETURN;
    END IF;
    IF pgflow._is_terminal(v_run_status) OR v_step_status <> 'started' THEN
        PERFORM pgmq.archive(queue_name, message_id);
        RETURN;
    END IF;
    IF v_task_status = 'started' THEN
        RETURN NEXT;
    END IF;
END;
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
            PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
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
    PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
END;
$$;

-- 0230_function__skip_failed_step.sql
-- A task of a step with when_exhausted 'skip' or 'skip-cascade' used up its attempts: the step
-- is skipped (skip_reason 'handler_failed', keeping the error message; step:skipped), its other
-- unfinished tasks become 'skipped' with their messages archived, and the run goes on without it -
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

    PERFORM pgflow._end_active_tasks(p_run_id, 'skipped', ARRAY[p_step_slug]);
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
        PERFORM pgmq.archive(v_reported.queue_name, v_reported.message_id);
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
        SELECT m.vt INTO v_retry_at FROM pgmq.set_vt(v_reported.queue_name, v_task.message_id, v_delay) AS m;
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
    PERFORM pgmq.archive(v_reported.queue_name, v_task.message_id);
END;
$$;

-- 0240_function_requeue_stalled_tasks.sql
-- Give tasks of crashed workers another chance. A task is stalled when it has been 'started'
-- for longer than its step's effective timeout (step option, else flow option) + 30 seconds
-- while its run and its step are still started. A stalled task is requeued at most 3 times:
-- back to 'queued' (started_at and last_worker_id cleared, requeued_count + 1,
-- last_requeued_at) with its message (in the task's queue) visible at once. After that it is given up: it stays
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
        RETURNING t.queue_name, t.message_id
    ),
    given_up AS (
        UPDATE pgflow.step_tasks AS t
           SET permanently_stalled_at = now()
          FROM stalled
         WHERE stalled.requeued_count >= 3
           AND t.run_id = stalled.run_id AND t.step_slug = stalled.step_slug
           AND t.task_index = stalled.task_index
        RETURNING t.queue_name, t.message_id
    ),
    -- the two message statements below are read by the final SELECT, so they always run
    made_visible AS (
        SELECT count(*) AS n
          FROM (SELECT q.queue_name, array_agg(q.message_id) AS ids
                  FROM requeued AS q WHERE q.message_id IS NOT NULL
                 GROUP BY q.queue_name) AS batch
         CROSS JOIN LATERAL pgflow.set_vt_batch(batch.queue_name, batch.ids,
                                                array_fill(0, ARRAY[cardinality(batch.ids)])) AS m
    ),
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT g.queue_name, array_agg(g.message_id) AS ids
                  FROM given_up AS g WHERE g.message_id IS NOT NULL
                 GROUP BY g.queue_name) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.queue_name, batch.ids) AS a
    )
    SELECT (SELECT count(*)::int FROM requeued)
      FROM made_visible, archived
$$;

-- 0250_function_track_worker_function.sql
-- Register (or refresh) a worker function in pgflow.worker_functions, with how it is started:
-- 'http' (the default; a supervisor calls it over HTTP) or 'process' (a long-running process,
-- such as a Node/Bun TypeScript worker or the Python worker). Workers call it on start. An
-- existing row gets the new start_mode and updated_at; enabled, debounce and last_invoked_at
-- (when a supervisor last called the function) are kept.
CREATE OR REPLACE FUNCTION pgflow.track_worker_function(function_name text, start_mode text DEFAULT 'http')
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    INSERT INTO pgflow.worker_functions AS wf (function_name, start_mode, updated_at)
    VALUES (track_worker_function.function_name, track_worker_function.start_mode, clock_timestamp())
    ON CONFLICT (function_name)
    DO UPDATE SET start_mode = excluded.start_mode, updated_at = clock_timestamp();
$$;

-- 0260_function__prune_queue.sql
-- Prune one pgmq queue: delete the still-active messages `p_msg_ids` (messages of pruned
-- runs' tasks, read from their queue snapshots) and the archived messages archived before
-- `p_cutoff`. Returns {"messages": n, "archived_messages": n}; zeros when pgmq lists no such
-- queue (in any spelling).
CREATE OR REPLACE FUNCTION pgflow._prune_queue(p_queue_name text, p_msg_ids bigint[], p_cutoff timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_messages int := 0;
    v_archived int := 0;
BEGIN
    IF EXISTS (SELECT 1 FROM pgmq.list_queues() AS q WHERE lower(q.queue_name) = lower(p_queue_name)) THEN
        IF cardinality(p_msg_ids) > 0 THEN
            SELECT count(*) INTO v_messages FROM pgmq.delete(p_queue_name, p_msg_ids);
        END IF;
        EXECUTE format('DELETE FROM pgmq.%I WHERE archived_at < $1', pgmq.format_table_name(p_queue_name, 'a'))
          USING p_cutoff;
        GET DIAGNOSTICS v_archived = ROW_COUNT;
    END IF;
    RETURN jsonb_build_object('messages', v_messages, 'archived_messages', v_archived);
END;
$$;

-- 0261_function_prune_data_older_than.sql
-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in a queue; archived queue messages older than
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

    -- every queue of the selected flows: the queues their steps route to now, their default queue
    -- (flow mode), and the queues their pruned tasks' messages went to (task snapshots)
    SELECT jsonb_build_object(
               'messages', coalesce(sum((q.pruned->>'messages')::int), 0),
               'archived_messages', coalesce(sum((q.pruned->>'archived_messages')::int), 0))
      INTO v_counts
      FROM (SELECT s.queue_name FROM pgflow.steps AS s
             WHERE prune_data_older_than.flow_slugs IS NULL OR s.flow_slug = ANY (prune_data_older_than.flow_slugs)
            UNION
            SELECT lower(f.flow_slug) FROM pgflow.flows AS f
             WHERE f.queue_mode = 'flow'
               AND (prune_data_older_than.flow_slugs IS NULL OR f.flow_slug = ANY (prune_data_older_than.flow_slugs))
            UNION
            SELECT t.queue_name FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs)) AS route
     CROSS JOIN LATERAL pgflow._prune_queue(
            route.queue_name,
            ARRAY(SELECT t.message_id FROM pgflow.step_tasks AS t
                   WHERE t.run_id = ANY (v_runs) AND t.queue_name = route.queue_name AND t.message_id IS NOT NULL),
            v_cutoff) AS q(pruned);

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
-- The tasks are those of `msg_ids` in queue `queue_name` (NULL: the flow's queue, lower(flow_slug))
-- that are still 'started' by `worker_id`
-- in a started run and step (tasks of a finished run or step are left alone, as the sweeper
-- leaves them). Each goes back to 'queued' (started_at and last_worker_id cleared) and its
-- message becomes visible now.
-- The interrupted attempt does not count: attempts_count goes back down by one, so a deploy that
-- stops workers mid-task never uses up a task's retries, and the next claim runs the same
-- attempt number again. requeued_count is not touched (that limit is for crashed workers).
-- No event is emitted: no task event can say "queued again, same attempt" without the next
-- task:started of that attempt being ignored by forward-only subscribers (docs/reference/events.md).
-- Returns how many tasks were handed back.
CREATE OR REPLACE FUNCTION pgflow.hand_back_tasks(
    flow_slug text, msg_ids bigint[], worker_id uuid, queue_name text DEFAULT NULL)
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
         WHERE t.queue_name = coalesce(hand_back_tasks.queue_name, lower(hand_back_tasks.flow_slug))
           AND t.message_id = ANY (hand_back_tasks.msg_ids)
           AND t.flow_slug = hand_back_tasks.flow_slug
           AND t.status = 'started'
           AND t.last_worker_id = hand_back_tasks.worker_id
           AND r.run_id = t.run_id AND NOT pgflow._is_terminal(r.status)
           AND ss.run_id = t.run_id AND ss.step_slug = t.step_slug AND ss.status = 'started'
        RETURNING t.message_id
    ),
    -- read by the final SELECT, so it always runs
    made_visible AS (
        SELECT count(*) AS n
          FROM pgflow.set_vt_batch(coalesce(hand_back_tasks.queue_name, lower(hand_back_tasks.flow_slug)),
                                   ARRAY(SELECT h.message_id FROM handed_back AS h),
                                   array_fill(0, ARRAY[(SELECT count(*)::int FROM handed_back)])) AS m
    )
    SELECT (SELECT count(*)::int FROM handed_back)
      FROM made_visible
$$;

-- 0271_function__mark_steps_skipped.sql
-- Mark steps of a run skipped, each for its own reason: p_step_slugs[i] gets skip_reason
-- p_skip_reasons[i] when it is not completed, failed or skipped yet, and step:skipped is emitted
-- for it. The skipped steps' unfinished (queued or started) tasks become 'skipped' and their
-- messages are archived (pgflow._end_active_tasks), and the run's remaining_steps drops by their
-- number. Dependents are left to the caller: _skip_steps
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
        PERFORM pgflow._end_active_tasks(p_run_id, 'skipped', v_skipped);
        UPDATE pgflow.runs AS r
           SET remaining_steps = r.remaining_steps - cardinality(v_skipped)
         WHERE r.run_id = p_run_id;
    END IF;
    RETURN v_skipped;
END;
$$;

-- 0400_function_start_flow_at.sql
-- Start a run whose first tasks wait until a given time (pgflow-py addition; enqueue_in and
-- enqueue_at use it). The run and its step states are stored at once, exactly as start_flow
-- stores them; then the messages of the tasks start_flow queued are hidden until p_start_at
-- (plus the step's start_delay, which counts from when the run is due). Both happen in one
-- transaction, so no worker can see a message before it is due.
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
    SELECT * INTO v_run FROM pgflow.start_flow(p_flow_slug, p_input, p_run_id);

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
-- Returns one row per claimed task (start_tasks' columns, plus attempt, the attempt now
-- starting), each carrying `messages`, how many messages were read; when none of them gave a
-- task, a single row with `messages` and NULL elsewhere; no row when the queue had nothing.
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
    -- one prepared read per queue; a long queue name is hashed to stay within 63 bytes
    v_read text := 'pgflow_claim_next_' || CASE WHEN octet_length(claim_tasks.queue_name) <= 45
                                                THEN claim_tasks.queue_name ELSE md5(claim_tasks.queue_name) END;
BEGIN
    IF NOT pgflow._check_claim_route(NULL, claim_tasks.queue_name, claim_tasks.for_step) THEN
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
    EXECUTE format('EXECUTE %I(%s)', v_read, claim_tasks.qty) INTO v_ids;

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
            RETURNING t.flow_slug, t.run_id, t.step_slug, t.task_index, t.message_id, t.queue_name, t.output,
                CASE WHEN v_events THEN pgflow._emit(pgflow._task_event('task:completed', t)) END AS emitted
        ),
        archived AS (
            SELECT count(*) AS n
              FROM (SELECT c.queue_name, array_agg(c.message_id) AS ids FROM completed AS c GROUP BY c.queue_name) AS q
             CROSS JOIN LATERAL pgmq.archive(q.queue_name, q.ids) AS a
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

