-- pgflow-py migration 0006_run_control_functions: drafted by scripts/build_migration.py from the schema files changed since e90a3f9

-- TODO by hand: 0060_tables_runtime.sql changed (ALTER ..., data repairs)
-- 0070_function__emit.sql
-- Publish one state-change event. Every engine function calls this, so events come from the
-- database whichever worker (Python, TypeScript, Elixir) drove the change, and NOTIFY delivers
-- them only when the transaction commits.
--
-- Channels: 'pgflow:run:<run_id>' (one run) and 'pgflow:events' (every run), each only while
-- some session follows it (pgflow.subscribe(), a row in pgflow.subscribers): a transaction that
-- NOTIFYs takes a database-wide lock while it commits, which serialises concurrent workers'
-- commits, so events nobody follows are not sent.
-- The payload is the given object plus "ts" (clock time of the change). A payload that would
-- not fit NOTIFY's 8000-byte limit loses its large fields ("input", "output", "error_message")
-- and lists them in "truncated", telling the subscriber to fetch them from the tables.
-- When a Supabase-style realtime.send(jsonb, text, text, boolean) exists, the event is also
-- broadcast on topic 'pgflow:run:<run_id>' under pgflow's event names.
-- Setting pgflow.events (per session, role or database): 'off' silences events; 'always' sends
-- them on both channels whether or not anyone subscribed (for plain LISTEN clients).
CREATE OR REPLACE FUNCTION pgflow._emit(p_payload jsonb)
RETURNS void
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_payload jsonb;
    v_text text;
    v_event text := p_payload->>'event_type';
    v_topic text := 'pgflow:run:' || (p_payload->>'run_id');
    v_mode text := coalesce(current_setting('pgflow.events', true), '');
    v_to_run boolean := v_mode = 'always';
    v_to_all boolean := v_mode = 'always';
BEGIN
    IF v_mode = 'off' THEN
        RETURN;
    END IF;
    IF NOT v_to_all THEN
        SELECT coalesce(bool_or(s.channel = v_topic), false), coalesce(bool_or(s.channel = 'pgflow:events'), false)
          INTO v_to_run, v_to_all
          FROM pgflow.subscribers AS s
         WHERE s.channel IN (v_topic, 'pgflow:events');
    END IF;
    IF v_to_run OR v_to_all THEN
        v_payload := p_payload || jsonb_build_object('ts', clock_timestamp());
        v_text := v_payload::text;
        IF octet_length(v_text) > 7900 THEN
            v_payload := (v_payload - 'input' - 'output' - 'error_message')
                || jsonb_build_object('truncated',
                       (SELECT coalesce(jsonb_agg(k), '[]'::jsonb)
                        FROM unnest(ARRAY['input', 'output', 'error_message']) AS k
                        WHERE v_payload ? k));
            v_text := v_payload::text;
        END IF;
        IF v_to_run THEN
            PERFORM pg_notify(v_topic, v_text);
        END IF;
        IF v_to_all THEN
            PERFORM pg_notify('pgflow:events', v_text);
        END IF;
    END IF;

    -- pgflow-py's own events (task:*, run:cancelled) are not broadcast: upstream's client does not know them
    IF v_event NOT LIKE 'task:%' AND v_event <> 'run:cancelled'
       AND to_regprocedure('realtime.send(jsonb,text,text,boolean)') IS NOT NULL THEN
        EXECUTE 'SELECT realtime.send($1, $2, $3, false)'
        USING p_payload,
              CASE WHEN v_event LIKE 'step:%'
                   THEN 'step:' || (p_payload->>'step_slug') || ':' || split_part(v_event, ':', 2)
                   ELSE v_event END,
              v_topic;
    END IF;
END;
$$;

-- 0076_function__run_event.sql
-- The payload of a run event for pgflow._emit, built from the run's row as the transition left
-- it: the one place that says which fields run:started, run:completed, run:failed and
-- run:cancelled carry (docs/reference/events.md, pgflow/events.py). run:failed also names the
-- step that failed the run and its error, which the runs table does not hold.
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
           WHEN 'run:cancelled' THEN jsonb_build_object(
               'reason', p_run.cancel_reason, 'cancelled_at', p_run.cancelled_at)
       END;

-- 0261_function_prune_data_older_than.sql
-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in a queue; archived queue messages older than
-- the cutoff; workers (of those flows' queues) whose last heartbeat is older than the cutoff and
-- that stopped or have been silent for five minutes (a live worker is never pruned).
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

    -- never a live worker, whatever the cutoff: a worker is pruned once it stopped, or after five
    -- minutes without a heartbeat (health_check calls it dead after one)
    DELETE FROM pgflow.workers AS w
     WHERE w.last_heartbeat_at < v_cutoff
       AND (w.stopped_at IS NOT NULL OR w.last_heartbeat_at < clock_timestamp() - interval '5 minutes')
       AND (prune_data_older_than.flow_slugs IS NULL OR w.queue_name = ANY (prune_data_older_than.flow_slugs));
    GET DIAGNOSTICS v_n = ROW_COUNT;
    RETURN v_counts || jsonb_build_object('workers', v_n);
END;
$$;

-- 0410_function_start_flow_idempotent.sql
-- Start a run unless one with the same idempotency key already exists for the flow (pgflow-py
-- addition; the clients' start_flow / enqueue with idempotency_key= call it). Returns that
-- existing run as it stands (its input is not compared with p_input), or else the run started
-- as start_flow_at starts it, with the key stored on it.
-- A key is live while its run is active and for p_idempotency_ttl after the run ended (NULL =
-- forever). A start with an expired key clears it from the old run and starts a new one; prune
-- deletes keys with their runs.
-- Race-free: concurrent starts with one key wait for each other on an advisory lock of the
-- (flow, key) pair, so the second sees the first's committed run; the unique index
-- idx_runs_flow_idempotency_key holds the rule whatever the caller does.
-- start_flow keeps upstream's signature and cost: a start without a key never comes here.
-- Errors: PF003 a NULL or empty key, a key over 200 characters, a negative ttl; then as
-- start_flow (PF001 unknown flow, PF003 input).
CREATE OR REPLACE FUNCTION pgflow.start_flow_idempotent(
    p_flow_slug text,
    p_input jsonb,
    p_idempotency_key text,
    p_idempotency_ttl interval DEFAULT interval '24 hours',
    p_start_at timestamptz DEFAULT NULL,
    p_run_id uuid DEFAULT NULL
)
RETURNS SETOF pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
BEGIN
    IF p_idempotency_key IS NULL OR p_idempotency_key = '' OR length(p_idempotency_key) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('idempotency key %s is not valid', coalesce(quote_literal(p_idempotency_key), 'NULL')),
            HINT = 'give a non-empty text of at most 200 characters, or call start_flow / start_flow_at without a key';
    END IF;
    IF p_idempotency_ttl < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF003',
            MESSAGE = format('idempotency ttl %s is negative', p_idempotency_ttl),
            HINT = 'give how long the key is kept after the run ends (>= 0), or NULL to keep it forever';
    END IF;

    -- one start per (flow, key) at a time; classid 2 (1 serializes flow definitions)
    PERFORM pg_advisory_xact_lock(2, hashtext(p_flow_slug || E'\n' || p_idempotency_key));

    SELECT * INTO v_run
      FROM pgflow.runs AS r
     WHERE r.flow_slug = p_flow_slug AND r.idempotency_key = p_idempotency_key;

    IF FOUND THEN
        IF NOT (pgflow._is_terminal(v_run.status)
                AND v_run.idempotency_ttl IS NOT NULL
                AND greatest(v_run.completed_at, v_run.failed_at) + v_run.idempotency_ttl <= now()) THEN
            RETURN NEXT v_run;  -- the key is live: this is the run
            RETURN;
        END IF;
        UPDATE pgflow.runs AS r SET idempotency_key = NULL WHERE r.run_id = v_run.run_id;  -- expired
    END IF;

    SELECT * INTO v_run FROM pgflow.start_flow_at(p_flow_slug, p_input, p_start_at, p_run_id);
    UPDATE pgflow.runs AS r
       SET idempotency_key = p_idempotency_key, idempotency_ttl = p_idempotency_ttl
     WHERE r.run_id = v_run.run_id
    RETURNING * INTO v_run;
    RETURN NEXT v_run;
END;
$$;

-- 0415_function__run_to_rerun.sql
-- The run that retry_run or resume_run (p_action: 'retry', 'resume') starts again, locked: it
-- must exist (PF002) and have failed - a cancelled run is a failed one with cancelled_at set -
-- (PF005 "nothing to <action>" for a run still going or completed, with what to do instead).
CREATE OR REPLACE FUNCTION pgflow._run_to_rerun(p_run_id uuid, p_action text)
RETURNS pgflow.runs
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_run pgflow.runs;
BEGIN
    SELECT * INTO v_run FROM pgflow.runs AS r WHERE r.run_id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'PF002',
            MESSAGE = format('run %s not found', p_run_id),
            HINT = 'check the run id (the run may have been pruned)';
    END IF;
    IF v_run.status <> 'failed' THEN
        RAISE EXCEPTION USING ERRCODE = 'PF005',
            MESSAGE = format('nothing to %s: run %s is %s', p_action, p_run_id, v_run.status),
            HINT = CASE WHEN v_run.status = 'completed'
                        THEN 'a completed run has its output; start a new run to run the flow again'
                        ELSE format('the run is still going; wait for it to end, or cancel it, then %s', p_action) END;
    END IF;
    RETURN v_run;
END;
$$;

-- 0420_function_retry_run.sql
-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original, and return it. The original is left as it is; each call starts
-- one more run. The new run has no idempotency key (the key stays with the original).
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
    UPDATE pgflow.runs AS r SET retry_of = p_run_id WHERE r.run_id = v_run.run_id
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
    RETURN QUERY SELECT true, v_run.status, v_run.cancelled_at;
END;
$$;

-- 0440_function__task_due_times.sql
-- pgflow-py: when the queued tasks of some runs (NULL: of every started run) that are still
-- hidden become visible to workers - a run enqueued for later, a step waiting out its
-- start_delay, a task waiting out a retry's backoff. Only the task's pgmq message knows (its
-- visibility time), so each queue holding such tasks is read once, by its stored queue_name.
-- Read-only; tasks visible now are left out.
CREATE OR REPLACE FUNCTION pgflow._task_due_times(p_run_ids uuid[])
RETURNS TABLE (run_id uuid, step_slug text, task_index int, due_at timestamptz)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_queue record;
BEGIN
    FOR v_queue IN
        SELECT t.queue_name, array_agg(t.message_id) AS message_ids
          FROM pgflow.step_tasks AS t
          JOIN pgflow.runs AS r ON r.run_id = t.run_id AND r.status = 'started'
         WHERE t.status = 'queued' AND t.message_id IS NOT NULL
           AND (p_run_ids IS NULL OR t.run_id = ANY (p_run_ids))
         GROUP BY t.queue_name
    LOOP
        RETURN QUERY EXECUTE format(
            'SELECT t.run_id, t.step_slug, t.task_index, m.vt
               FROM pgmq.%I AS m
               JOIN pgflow.step_tasks AS t
                 ON t.queue_name = $1 AND t.message_id = m.msg_id AND t.status = ''queued''
              WHERE m.msg_id = ANY ($2) AND m.vt > clock_timestamp()',
            pgmq.format_table_name(v_queue.queue_name, 'q'))
        USING v_queue.queue_name, v_queue.message_ids;
    END LOOP;
END;
$$;

-- 0441_function__waiting_runs.sql
-- pgflow-py: the started runs (of `p_run_ids`, NULL: all) whose every unfinished task waits for
-- a hidden message (see _task_due_times), with the earliest time one becomes visible: runs
-- scheduled for later, not running. A run with a started task, or a queued one visible now, is
-- running and left out. The dashboard counts them apart; get_run shows the time as due_at.
CREATE OR REPLACE FUNCTION pgflow._waiting_runs(p_run_ids uuid[])
RETURNS TABLE (run_id uuid, due_at timestamptz)
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT t.run_id, min(d.due_at)
      FROM pgflow.step_tasks AS t
      JOIN pgflow.runs AS r ON r.run_id = t.run_id AND r.status = 'started'
      LEFT JOIN pgflow._task_due_times(p_run_ids) AS d
        ON d.run_id = t.run_id AND d.step_slug = t.step_slug AND d.task_index = t.task_index
     WHERE t.status IN ('queued', 'started')
       AND (p_run_ids IS NULL OR t.run_id = ANY (p_run_ids))
     GROUP BY t.run_id
    HAVING bool_and(d.due_at IS NOT NULL);
$$;

-- 0450_function_resume_run.sql
-- Resume a run that ended without completing (pgflow-py addition; client.resume_run and
-- `pgflow runs resume` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (one lineage column for retries and resumes), that reuses the
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
    UPDATE pgflow.runs AS r SET retry_of = p_run_id WHERE r.run_id = v_run_id;

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

