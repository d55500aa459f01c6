-- pgflow-py migration 0004_core_0_17_functions: drafted by scripts/build_migration.py from the schema files changed since 44916db

-- TODO by hand: 0055_tables_workers.sql changed (ALTER ..., data repairs)
-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
DROP FUNCTION pgflow._archive_active_messages(uuid, text[]);
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
-- them and no sweeper revives them. Task rows change before their queue messages are touched:
-- the lock order of every path (requeue_stalled_tasks locks tasks, then messages too).
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
        RETURNING t.flow_slug, t.message_id
    ),
    -- read by the final SELECT, so it always runs (after every ended row is locked and updated)
    archived AS (
        SELECT count(*) AS n
          FROM (SELECT e.flow_slug, array_agg(e.message_id) AS ids
                  FROM ended AS e
                 WHERE e.message_id IS NOT NULL
                 GROUP BY e.flow_slug) AS batch
         CROSS JOIN LATERAL pgmq.archive(batch.flow_slug, batch.ids) AS a
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

-- 0170_function_start_tasks.sql
-- Claim the tasks behind messages a worker has just read from the flow's queue, in one
-- statement: pgflow._start_tasks' claim (shared with claim_tasks: a task is claimed when it is
-- queued and both its run and its step are started, and becomes 'started' with task:started;
-- messages without such a task give no row, so the worker must accept fewer tasks than
-- messages), then each claimed message is hidden for the step's timeout (step, else flow) + 2
-- seconds. When a claimed task's message cannot be hidden (it is gone from the queue) the call
-- fails ('start_tasks(): visibility updated N of M claimed messages') and claims nothing.
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
     CROSS JOIN visibility AS v
     -- a claimed task whose message was not hidden (the message is gone) must not run: the
     -- statement fails, undoing every claim and attempt of the call, with upstream's message (a
     -- SQL function cannot RAISE; the failing cast carries it)
     WHERE CASE WHEN v.extended = (SELECT count(*) FROM claimed) THEN true
                ELSE format('start_tasks(): visibility updated %s of %s claimed messages',
                            v.extended, (SELECT count(*) FROM claimed))::int4 IS NULL END
     ORDER BY c.msg_id;
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
    PERFORM pgmq.archive(v_task.flow_slug, v_task.message_id);
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

