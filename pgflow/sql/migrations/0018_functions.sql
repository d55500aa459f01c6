-- pgflow-py migration 0018_functions: drafted by scripts/build_migration.py from the schema files changed since a88107c

-- Table changes of the same release, written by hand: 0015_flow_keys (runs.concurrency_key and
-- its index); 0058_tables_flow_control.sql changed in comments only.
-- 0148_function__run_concurrency_key.sql
-- The concurrency key of a run of flow p_flow_slug about to start with input p_input and run
-- options p_options (pgflow._run_options(); pgflow-py flow control: _create_run and
-- _start_run_directly store it in runs.concurrency_key). Numbered before them (their SQL bodies
-- are checked when created):
--   the caller's run option concurrency_key (a Python callable's result),
--   else, when the flow's limits name a concurrency_key path or a per-key limit
--   (max_running_per_key, rate_limit_per_key), the text
--   at that path of the input ("customer.id" -> input #>> '{customer,id}'; a number as its
--   digits) or '' when the input lacks it (null included): the "no key" group, limited like any
--   key, so a run without a key is neither refused nor let past the limit;
--   else NULL (the flow has no per-key limit: nothing to count, one primary-key probe).
-- SQL-standard body without SET (names bound at creation), so the run insert inlines it: a start
-- pays the probe, not a function call.
CREATE OR REPLACE FUNCTION pgflow._run_concurrency_key(p_flow_slug text, p_input jsonb, p_options jsonb)
RETURNS text
LANGUAGE sql
STABLE
RETURN coalesce(
    p_options ->> 'concurrency_key',
    (SELECT CASE WHEN c.limits ?| ARRAY['concurrency_key', 'max_running_per_key', 'rate_limit_per_key']
                 THEN coalesce(p_input #>> string_to_array(c.limits ->> 'concurrency_key', '.'), '') END
       FROM pgflow.flow_controls AS c
      WHERE c.flow_slug = p_flow_slug));

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
                                 signal_key, parent_run_id, parent_step_slug, parent_task_index, priority,
                                 concurrency_key)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), f.flow_slug, p_input,
               (SELECT count(*) FROM pgflow.steps AS s WHERE s.flow_slug = f.flow_slug),
               options.o -> 'trace_context',
               options.o ->> 'signal_key', (options.o ->> 'parent_run_id')::uuid,
               options.o ->> 'parent_step_slug', (options.o ->> 'parent_task_index')::int,
               coalesce((options.o ->> 'priority')::int, 0),
               pgflow._run_concurrency_key(f.flow_slug, p_input, options.o)
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
                                 signal_key, parent_run_id, parent_step_slug, parent_task_index, priority,
                                 concurrency_key)
        SELECT coalesce(p_run_id, pgflow._new_run_id()), flow.flow_slug, p_input, flow.steps,
               options.o -> 'trace_context',
               options.o ->> 'signal_key', (options.o ->> 'parent_run_id')::uuid,
               options.o ->> 'parent_step_slug', (options.o ->> 'parent_task_index')::int,
               coalesce((options.o ->> 'priority')::int, 0),
               pgflow._run_concurrency_key(flow.flow_slug, p_input, options.o)
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

-- 0166_function__admit_claims.sql
-- Flow control at claim time (pgflow-py addition), called by pgflow._start_tasks only for a
-- flow that has a pgflow.flow_controls row: which of the tasks behind messages p_msg_ids (read
-- from queue p_queue_name) may start now. A paused flow starts none. Otherwise, under the
-- flow's claim lock (transaction-level advisory lock (3, hashtext(flow_slug)), taken only for
-- limited flows, so concurrent claims of one limited flow by any workers are serialised), the
-- flow's running tasks (status 'started': slots come from task state, a killed worker's task
-- holds its slot until it is requeued) are counted, in all and per step, and the queued tasks
-- are admitted in message order while the flow's and their step's max_running leave room, the
-- running tasks of their run's concurrency key (runs.concurrency_key, NULL counted as '', the
-- "no key" group) stay under max_running_per_key, and
-- the flow's and their step's rate_limit, and the flow's rate_limit_per_key for their run's key,
-- allow a start (GCRA, pgflow._rate_room; the scopes' theoretical arrival times are kept in
-- pgflow.flow_rate_state - step_slug '' the flow, a step's slug, or 'key:' || the run's key,
-- which no step slug can be - and move only for admitted tasks).
-- Per-key rate rows: only the rows of the keys in this batch are read, and a row whose tat has
-- passed is read as no row (the rate then allows a start either way). So that they cannot pile
-- up (one per key ever rated), a call that writes a key's first row also deletes up to 100 of
-- the flow's key rows whose tat has passed: rows are added only by such calls, each of which
-- removes every passed one or 100 of them, so the table holds the keys started within about a
-- period plus a bounded remainder; the search costs one index range of the flow's rows.
-- A refused task is not started: its message becomes visible again 250 ms later (a
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
    v_per_key int;
    v_by_key jsonb := '{}';  -- concurrency key -> its running tasks (max_running_per_key only)
    v_key_running int;
    v_now float8 := extract(epoch FROM clock_timestamp());
    v_tats jsonb := '{}';  -- scope ('' = the flow, 'key:<key>' = a key, else a step) -> tat (epoch seconds)
    v_key_rate jsonb;  -- rate_limit_per_key
    v_new_key_row boolean := false;  -- an admitted start wrote a key's first rate row
    v_scopes text[];
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
    IF NOT FOUND OR (v_control.paused_at IS NULL AND (v_control.limits - 'concurrency_key') = '{}') THEN
        RETURN p_msg_ids;
    END IF;
    v_limits := v_control.limits;
    v_flow_max := (v_limits->>'max_running')::int;
    v_per_key := (v_limits->>'max_running_per_key')::int;
    v_key_rate := v_limits->'rate_limit_per_key';
    v_rated := v_limits ?| ARRAY['rate_limit', 'rate_limit_per_key']
               OR jsonb_path_exists(v_limits, '$.steps.*.rate_limit');
    IF v_control.paused_at IS NULL THEN
        PERFORM pg_advisory_xact_lock(3, hashtext(p_flow_slug));
        -- statements after the lock: they see every claim its previous holders committed
        SELECT coalesce(sum(running.n), 0)::int, coalesce(jsonb_object_agg(running.step_slug, running.n), '{}')
          INTO v_running, v_by_step
          FROM (SELECT t.step_slug, count(*)::int AS n
                  FROM pgflow.step_tasks AS t
                 WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
                 GROUP BY t.step_slug) AS running;
        IF v_per_key IS NOT NULL THEN
            v_by_key := pgflow._running_by_key(p_flow_slug);
        END IF;
        IF v_rated THEN
            SELECT coalesce(jsonb_object_agg(r.step_slug, extract(epoch FROM r.tat)), '{}') INTO v_tats
              FROM pgflow.flow_rate_state AS r
             WHERE r.flow_slug = p_flow_slug AND r.step_slug NOT LIKE 'key:%';
            IF v_key_rate IS NOT NULL THEN
                SELECT v_tats || coalesce(jsonb_object_agg(r.step_slug, extract(epoch FROM r.tat)), '{}') INTO v_tats
                  FROM pgflow.flow_rate_state AS r
                 WHERE r.flow_slug = p_flow_slug AND r.tat > to_timestamp(v_now)
                   AND r.step_slug IN (SELECT 'key:' || coalesce(run.concurrency_key, '')
                                         FROM unnest(p_msg_ids) AS m (msg_id)
                                         JOIN pgflow.step_tasks AS t
                                           ON t.queue_name = p_queue_name AND t.message_id = m.msg_id
                                         JOIN pgflow.runs AS run ON run.run_id = t.run_id);
            END IF;
        END IF;
    END IF;
    FOR v_task IN
        SELECT t.message_id, t.step_slug,
               CASE WHEN v_per_key IS NOT NULL OR v_key_rate IS NOT NULL
                    THEN (SELECT coalesce(r.concurrency_key, '') FROM pgflow.runs AS r WHERE r.run_id = t.run_id)
               END AS run_key
          FROM unnest(p_msg_ids) AS m (msg_id)
          JOIN pgflow.step_tasks AS t ON t.queue_name = p_queue_name AND t.message_id = m.msg_id
         WHERE t.status = 'queued' AND t.flow_slug = p_flow_slug
         ORDER BY m.msg_id
    LOOP
        v_step_max := (v_limits #>> ARRAY['steps', v_task.step_slug, 'max_running'])::int;
        v_step_running := coalesce((v_by_step->>v_task.step_slug)::int, 0);
        v_key_running := coalesce((v_by_key->>v_task.run_key)::int, 0);
        v_ok := v_control.paused_at IS NULL
                AND (v_flow_max IS NULL OR v_running < v_flow_max)
                AND (v_step_max IS NULL OR v_step_running < v_step_max)
                AND (v_per_key IS NULL OR v_key_running < v_per_key);
        v_blocked_until := NULL;
        v_scopes := ARRAY['', v_task.step_slug]
                    || CASE WHEN v_key_rate IS NOT NULL THEN ARRAY['key:' || v_task.run_key] ELSE '{}' END;
        IF v_ok AND v_rated THEN
            FOREACH v_scope IN ARRAY v_scopes LOOP
                v_rate := CASE WHEN v_scope = '' THEN v_limits->'rate_limit'
                               WHEN v_scope LIKE 'key:%' THEN v_key_rate
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
            IF v_per_key IS NOT NULL THEN
                v_by_key := jsonb_set(v_by_key, ARRAY[v_task.run_key], to_jsonb(v_key_running + 1));
            END IF;
            IF v_rated THEN
                FOREACH v_scope IN ARRAY v_scopes LOOP
                    v_rate := CASE WHEN v_scope = '' THEN v_limits->'rate_limit'
                                   WHEN v_scope LIKE 'key:%' THEN v_key_rate
                                   ELSE v_limits #> ARRAY['steps', v_scope, 'rate_limit'] END;
                    CONTINUE WHEN v_rate IS NULL;
                    v_new_key_row := v_new_key_row OR (v_scope LIKE 'key:%' AND NOT v_tats ? v_scope);
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
    IF v_new_key_row THEN  -- a key's first row: sweep passed key rows (see above)
        DELETE FROM pgflow.flow_rate_state AS r
         WHERE r.ctid IN (SELECT p.ctid FROM pgflow.flow_rate_state AS p
                           WHERE p.flow_slug = p_flow_slug AND p.step_slug LIKE 'key:%'
                             AND p.tat <= to_timestamp(v_now)
                           LIMIT 100);
    END IF;
    RETURN v_admitted;
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
-- tasks are read first, pgflow._read_prioritized), else NULL;
-- keyed_flow, the queue's flow when it has a max_running_per_key (its messages are read from the
-- concurrency keys in turn, pgflow._read_by_key), else NULL. All come from index probes and the
-- flow control row; a flow with neither flow control nor priorities pays those and nothing else.
CREATE OR REPLACE FUNCTION pgflow._claim_room(p_queue_name text, OUT room int, OUT prioritized_flow text,
                                              OUT keyed_flow text)
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
    IF v_control.limits ? 'max_running_per_key' THEN
        keyed_flow := v_flow;
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
-- does, by pgflow._read_listed. Returns the message ids (NULL: none).
-- Planned on each call (dynamic SQL per queue): only flows with prioritized runs pay it.
CREATE OR REPLACE FUNCTION pgflow._read_prioritized(p_flow_slug text, p_queue_name text, p_qty int)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_candidates bigint[];
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
    RETURN pgflow._read_listed(p_queue_name, v_candidates, p_qty);
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
-- This is what a TypeScript worker calls, once per task, so it applies its one report directly
-- instead of through complete_tasks (whose set handling costs about twice as much for a single
-- report): _complete_task_apply, the per-report twin of complete_tasks' set-based path. One
-- shortcut before it: a clean report of a map task that leaves other tasks of its step (run,
-- step and task started) is applied here in three keyed statements - task, step state,
-- message - because every report of a map step waits for the same step state row lock until
-- the previous one commits (10,000 reports in a row for a 10,000-item map), so the time under
-- that lock bounds the map. Both paths leave what complete_tasks leaves for the same report:
-- guarded by tests/sql/complete_tasks/test_same_result_as_complete_task.py.
CREATE OR REPLACE FUNCTION pgflow.complete_task(run_id uuid, step_slug text, task_index int, output jsonb)
RETURNS SETOF pgflow.step_tasks
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_step_status text;
    v_remaining int;
    v_task pgflow.step_tasks;
BEGIN
    -- the step state row lock, taken first as everywhere (_complete_task_apply takes it again:
    -- a no-op)
    SELECT ss.status, ss.remaining_tasks INTO v_step_status, v_remaining
      FROM pgflow.step_states AS ss
     WHERE ss.run_id = complete_task.run_id AND ss.step_slug = complete_task.step_slug
       FOR UPDATE;
    IF v_step_status = 'started' AND v_remaining > 1 THEN
        -- a new statement, so it sees what earlier holders of the lock committed; a step with
        -- more than one task left is a map step (a single step has one), so no type check
        UPDATE pgflow.step_tasks AS t
           SET status = 'completed', output = complete_task.output, completed_at = now()
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index AND t.status = 'started'
           AND EXISTS (SELECT 1 FROM pgflow.runs AS r
                        WHERE r.run_id = complete_task.run_id AND NOT pgflow._is_terminal(r.status))
        RETURNING t.* INTO v_task;
        IF FOUND THEN
            IF pgflow._events_wanted() THEN
                PERFORM pgflow._emit(pgflow._task_event('task:completed', v_task));
            END IF;
            UPDATE pgflow.step_states AS ss
               SET remaining_tasks = ss.remaining_tasks - 1, completed_at = NULL, output = NULL
             WHERE ss.run_id = complete_task.run_id AND ss.step_slug = complete_task.step_slug;
            PERFORM pgmq.archive(v_task.queue_name, v_task.message_id);
            RETURN NEXT v_task;
            RETURN;
        END IF;
    END IF;

    PERFORM pgflow._complete_task_apply(complete_task.run_id, complete_task.step_slug, complete_task.task_index,
                                        complete_task.output);
    RETURN QUERY
        SELECT t.* FROM pgflow.step_tasks AS t
         WHERE t.run_id = complete_task.run_id AND t.step_slug = complete_task.step_slug
           AND t.task_index = complete_task.task_index;
END;
$$;

-- 0261_function_prune_data_older_than.sql
-- pgflow-py variant of prune_data_older_than: prune only the flows in `flow_slugs` (NULL = all
-- flows) and answer what was deleted:
-- {"runs", "step_states", "step_tasks", "messages", "archived_messages", "workers"}.
-- Deleted: runs that completed or failed before now() - retention_interval, with their step
-- states, tasks and any of their messages still in a queue; archived queue messages older than
-- the cutoff; workers (of those flows' queues) whose last heartbeat is older than the cutoff and
-- that stopped or have been silent for five minutes (a live worker is never pruned).
-- Started runs are never touched, however old. Keep the retention longer than any start_delay.
-- One transaction for everything: the three-argument form (0263, which does the work) bounds a
-- call to some runs, for large histories.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[])
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    RETURN pgflow.prune_data_older_than(prune_data_older_than.retention_interval,
                                        prune_data_older_than.flow_slugs, NULL::int);
END;
$$;

-- 0263_function_prune_data_older_than.sql
-- pgflow-py variant of prune_data_older_than for large histories: the same as the two-argument
-- form (which calls this one with max_runs NULL: no bound), except that one call deletes at most
-- `max_runs` runs (those that started first) and at most `max_runs` archived messages per queue.
-- Why: deleting a whole backlog in one transaction takes about 75 µs per run (the foreign-key
-- checks of each deleted row dominate: ~12 minutes for 10 million runs), and for all that time it
-- holds back every VACUUM of the database, so the busy queue tables bloat while it runs. Called
-- repeatedly, each call in a transaction of its own, until every count in its answer is below
-- `max_runs`, it prunes the same rows in short transactions that VACUUM can follow.
-- The cutoff is computed per call from now(): later calls may prune runs that finished meanwhile.
CREATE OR REPLACE FUNCTION pgflow.prune_data_older_than(retention_interval interval, flow_slugs text[],
                                                        max_runs int)
RETURNS jsonb
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_cutoff timestamptz := now() - prune_data_older_than.retention_interval;
    v_limit int := prune_data_older_than.max_runs;
    v_runs uuid[];
    v_routes text[];
    v_counts jsonb := '{}';
    v_archived int := 0;
    v_queue text;
    v_n int;
BEGIN
    IF v_limit IS NOT NULL AND v_limit < 1 THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('max_runs must be at least 1, got %s', v_limit),
            HINT = 'Pass the largest number of runs one call may delete (e.g. 10000), or NULL for no bound.';
    END IF;

    IF v_limit IS NULL THEN
        SELECT coalesce(array_agg(r.run_id), '{}') INTO v_runs
          FROM pgflow.runs AS r
         WHERE (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
           AND pgflow._is_terminal(r.status)
           AND coalesce(r.completed_at, r.failed_at) < v_cutoff;
    ELSE
        -- the earliest started first, through idx_runs_started_at (a run that finished before the
        -- cutoff also started before it: a constraint of runs)
        SELECT coalesce(array_agg(b.run_id), '{}') INTO v_runs
          FROM (SELECT r.run_id
                  FROM pgflow.runs AS r
                 WHERE r.started_at < v_cutoff
                   AND (prune_data_older_than.flow_slugs IS NULL OR r.flow_slug = ANY (prune_data_older_than.flow_slugs))
                   AND pgflow._is_terminal(r.status)
                   AND coalesce(r.completed_at, r.failed_at) < v_cutoff
                 ORDER BY r.started_at
                 LIMIT v_limit) AS b;
    END IF;

    -- every queue of the selected flows: the queues their steps route to now, their default queue
    -- (flow mode), and the queues their pruned tasks' messages went to (task snapshots). Their
    -- pruned runs' messages still in a queue go, and archived messages older than the cutoff:
    -- here when unbounded, below when bounded (no cutoff given to _prune_queue deletes none).
    v_routes := ARRAY(
        SELECT s.queue_name FROM pgflow.steps AS s
         WHERE prune_data_older_than.flow_slugs IS NULL OR s.flow_slug = ANY (prune_data_older_than.flow_slugs)
        UNION
        SELECT lower(f.flow_slug) FROM pgflow.flows AS f
         WHERE f.queue_mode = 'flow'
           AND (prune_data_older_than.flow_slugs IS NULL OR f.flow_slug = ANY (prune_data_older_than.flow_slugs))
        UNION
        SELECT t.queue_name FROM pgflow.step_tasks AS t WHERE t.run_id = ANY (v_runs));

    SELECT jsonb_build_object(
               'messages', coalesce(sum((q.pruned->>'messages')::int), 0),
               'archived_messages', coalesce(sum((q.pruned->>'archived_messages')::int), 0))
      INTO v_counts
      FROM unnest(v_routes) AS route(queue_name)
     CROSS JOIN LATERAL pgflow._prune_queue(
            route.queue_name,
            ARRAY(SELECT t.message_id FROM pgflow.step_tasks AS t
                   WHERE t.run_id = ANY (v_runs) AND t.queue_name = route.queue_name AND t.message_id IS NOT NULL),
            CASE WHEN v_limit IS NULL THEN v_cutoff END) AS q(pruned);

    IF v_limit IS NOT NULL THEN
        FOR v_queue IN
            SELECT q.queue_name FROM pgmq.list_queues() AS q
             WHERE lower(q.queue_name) IN (SELECT lower(r) FROM unnest(v_routes) AS r)
        LOOP
            EXECUTE format('DELETE FROM pgmq.%1$I WHERE msg_id = ANY (ARRAY(SELECT a.msg_id FROM pgmq.%1$I AS a '
                           'WHERE a.archived_at < $1 ORDER BY a.archived_at LIMIT $2))',
                           pgmq.format_table_name(v_queue, 'a'))
              USING v_cutoff, v_limit;
            GET DIAGNOSTICS v_n = ROW_COUNT;
            v_archived := v_archived + v_n;
        END LOOP;
        v_counts := v_counts || jsonb_build_object('archived_messages', v_archived);
    END IF;

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

-- 0415_function__run_to_rerun.sql
-- The run that retry_run or resume_run (p_action: 'retry', 'resume') starts again, locked: it
-- must exist (PF002) and have failed - a cancelled run is a failed one with cancelled_at set -
-- (PF005 "nothing to <action>" for a run still going or completed, with what to do instead).
-- Also sets the new run's options (pgflow._run_options(), merged into the caller's, if any): it
-- continues the original's trace (trace_context), and keeps the original's concurrency key when
-- the flow's per-key limits take it from a Python function (no concurrency_key path: the
-- database cannot evaluate it again, so the new run would otherwise fall into the no-key group
-- ''); a key the caller's options give wins, and a path-keyed flow reads the key from the input
-- as any start does. The settings are transaction-local: an error undoes them with the rest.
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
    PERFORM set_config('pgflow.run_options', (
        jsonb_strip_nulls(jsonb_build_object('concurrency_key', (
            SELECT v_run.concurrency_key FROM pgflow.flow_controls AS c
             WHERE c.flow_slug = v_run.flow_slug AND NOT c.limits ? 'concurrency_key'
               AND c.limits ?| ARRAY['max_running_per_key', 'rate_limit_per_key'])))
        || coalesce(pgflow._run_options(), '{}')
        || jsonb_strip_nulls(jsonb_build_object('trace_context', v_run.trace_context)))::text, true);
    RETURN v_run;
END;
$$;

-- 0420_function_retry_run.sql
-- Retry a run that ended without completing (pgflow-py addition; client.retry_run and
-- `pgflow runs retry` call it): start a new run of the same flow with the same input, its
-- retry_of naming the original (retry_kind 'retry'), and return it. The original is left as
-- it is; each call starts one more run. The new run has no idempotency key (the key stays with the original).
-- It continues the original's trace (runs.trace_context copied) and keeps a concurrency key
-- that a Python function gave (pgflow._run_to_rerun sets both as run options; other run options
-- the caller set apply as to start_flow).
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

-- 0442_function__runs_with_visible_tasks.sql
-- pgflow-py: which of some started runs (p_run_ids) have a queued task whose message a worker
-- can read now - runs that are running, not waiting for later. The dashboard's overview asks it
-- before _waiting_runs, which must read every queued task's message to prove a run waits: for a
-- run that can be worked on, one visible message answers. Each started step of a run is looked
-- at in its tasks' queue (a step's tasks share one), through the queue's vt index, up to the
-- first visible message of that run. Read-only.
CREATE OR REPLACE FUNCTION pgflow._runs_with_visible_tasks(p_run_ids uuid[])
RETURNS SETOF uuid
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_step record;
    v_found boolean;
    v_last uuid;
BEGIN
    FOR v_step IN
        SELECT ss.run_id, q.queue_name
          FROM pgflow.step_states AS ss
          CROSS JOIN LATERAL (
              SELECT t.queue_name FROM pgflow.step_tasks AS t
               WHERE t.run_id = ss.run_id AND t.step_slug = ss.step_slug AND t.status = 'queued'
                 AND t.message_id IS NOT NULL
               LIMIT 1) AS q
         WHERE ss.run_id = ANY (p_run_ids) AND ss.status = 'started'
         ORDER BY ss.run_id
    LOOP
        CONTINUE WHEN v_step.run_id = v_last;  -- already found running
        EXECUTE format(
            'SELECT EXISTS (SELECT 1 FROM pgmq.%I AS m
                              JOIN pgflow.step_tasks AS t
                                ON t.queue_name = $1 AND t.message_id = m.msg_id
                             WHERE m.vt <= clock_timestamp() AND t.run_id = $2 AND t.status = ''queued'')',
            pgmq.format_table_name(v_step.queue_name, 'q'))
        INTO v_found
        USING v_step.queue_name, v_step.run_id;
        IF v_found THEN
            v_last := v_step.run_id;
            RETURN NEXT v_step.run_id;
        END IF;
    END LOOP;
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
-- The original is left as it is; each call starts one more run. The new run continues the
-- original's trace (runs.trace_context copied) and keeps a concurrency key that a Python
-- function gave (both set by pgflow._run_to_rerun).
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
    -- the run options _run_to_rerun set (the original's trace, its key) serve this run only, as
    -- start_flow's do
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

-- 0480_function__check_flow_limits.sql
-- Check a flow's limits (flow control, pgflow-py addition) and return them tidied: keys whose
-- value is JSON null are dropped, and so are steps left without limits. The form is
--   {"max_running": n, "rate_limit": {"count": n, "per": seconds},
--    "steps": {"<step_slug>": {"max_running": n, "rate_limit": {...}}},
--    "concurrency_key": "<path>", "max_running_per_key": n, "rate_limit_per_key": {"count": n, "per": seconds}}
-- where the concurrency key (flow-wide only) is a path into the run's input - a top-level key or
-- keys joined by dots, each 1-200 characters, no empty part - and every n is a whole number from 1 to 2147483647, per a number of seconds above 0 (at
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
        IF v_item.key NOT IN ('max_running', 'rate_limit')
           AND (v_item.step_slug IS NOT NULL
                OR v_item.key NOT IN ('max_running_per_key', 'rate_limit_per_key', 'concurrency_key')) THEN
            RAISE EXCEPTION USING ERRCODE = 'PF003',
                MESSAGE = format('unknown limit %L for %s', v_item.key, v_where),
                HINT = CASE WHEN v_item.step_slug IS NULL
                            THEN 'The limits are: max_running, rate_limit, concurrency_key, max_running_per_key, '
                                 'rate_limit_per_key, steps.'
                            ELSE 'A step''s limits are: max_running, rate_limit (per-key limits are flow-wide).' END;
        END IF;
        IF v_item.key = 'concurrency_key' THEN
            IF jsonb_typeof(v_item.value) <> 'string' OR v_item.value #>> '{}' = ''
               OR EXISTS (SELECT 1 FROM unnest(string_to_array(v_item.value #>> '{}', '.')) AS part (p)
                           WHERE part.p = '' OR length(part.p) > 200) THEN
                RAISE EXCEPTION USING ERRCODE = 'PF003',
                    MESSAGE = format('concurrency_key of %s must be a path into the run input: a key, or keys '
                                     'joined by dots (each 1-200 characters), got %s', v_where, v_item.value),
                    HINT = 'For example "customer_id", or "customer.id" for {"customer": {"id": ...}}.';
            END IF;
            CONTINUE;
        END IF;
        IF v_item.key IN ('rate_limit', 'rate_limit_per_key') THEN
            IF jsonb_typeof(v_item.value) <> 'object' OR (v_item.value - 'count' - 'per') <> '{}'
               OR jsonb_typeof(v_item.value->'count') IS DISTINCT FROM 'number'
               OR jsonb_typeof(v_item.value->'per') IS DISTINCT FROM 'number'
               OR (v_item.value->>'count')::numeric <> trunc((v_item.value->>'count')::numeric)
               OR (v_item.value->>'count')::numeric NOT BETWEEN 1 AND 2147483647
               OR (v_item.value->>'per')::numeric <= 0 OR (v_item.value->>'per')::numeric > 86400 THEN
                RAISE EXCEPTION USING ERRCODE = 'PF003',
                    MESSAGE = format('%s of %s must be {"count": a whole number of at least 1, "per": '
                                     'seconds above 0 (at most 86400)}, got %s', v_item.key, v_where, v_item.value),
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
    PERFORM pgflow._key_started_runs(set_flow_limits.flow_slug, v_limits);
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
        PERFORM pgflow._key_started_runs(p_flow_slug, v_declared);
        PERFORM pgflow._drop_idle_flow_control(p_flow_slug);
    END IF;
    RETURN v_row.limits;
END;
$$;

-- 0487_function__run_held_by.sql
-- Why a started run waits (pgflow-py; get_run's Run.held_by), or NULL. First flow control: the
-- run has queued tasks with a message (its delays, if any, are over or not the point: due_at
-- says those) that its flow's flow control keeps from being claimed -
--   'paused[: <reason>]'                                   the flow is paused;
--   'concurrency limit: flow max_running <n> (<r> running)' the flow's slots are all taken;
--   'concurrency limit: key "<key>" max_running_per_key <n> (<r> running)' its key's slots are;
--   'concurrency limit: step <slug> max_running <n> (<r> running)' the slots of a step it waits in;
--   'rate limit: flow|step <slug>|key "<key>" <count> per <per> s' the rate allows no start now.
-- Else, when nothing of it can be claimed now:
--   'stalled: step <slug> task <i> started <t>, timeout <s> s passed; a sweeper requeues it'
--       a started task outlived its timeout (its worker died or hangs) and is not requeued yet;
--   'dependencies: <slug> waits for <parent>[, <parent>...][; <slug> waits for ...]'
--       it has no queued task: its next steps wait for steps still running.
-- A run of a flow without flow control costs a few index probes of its own rows.
CREATE OR REPLACE FUNCTION pgflow._run_held_by(p_run_id uuid)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls;
    v_reason text;
    v_steps text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgflow.runs AS r WHERE r.run_id = p_run_id AND r.status = 'started') THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(DISTINCT t.step_slug ORDER BY t.step_slug) INTO v_steps
      FROM pgflow.step_tasks AS t
     WHERE t.run_id = p_run_id AND t.status = 'queued' AND t.message_id IS NOT NULL;
    IF v_steps IS NOT NULL THEN
        SELECT c.* INTO v_control
          FROM pgflow.runs AS r JOIN pgflow.flow_controls AS c ON c.flow_slug = r.flow_slug
         WHERE r.run_id = p_run_id;
        IF FOUND THEN
            RETURN pgflow._run_held_by_limits(p_run_id, v_control, v_steps);
        END IF;
        RETURN NULL;  -- claimable now
    END IF;
    -- nothing to claim: a stalled task, or steps waiting for their parents
    SELECT format('stalled: step %s task %s started %s, timeout %s s passed; a sweeper requeues it',
                  t.step_slug, t.task_index, to_char(t.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
                  coalesce(st.opt_timeout, f.opt_timeout))
      INTO v_reason
      FROM pgflow.step_tasks AS t
      JOIN pgflow.steps AS st ON st.flow_slug = t.flow_slug AND st.step_slug = t.step_slug
      JOIN pgflow.flows AS f ON f.flow_slug = t.flow_slug
     WHERE t.run_id = p_run_id AND t.status = 'started'
       AND t.started_at + make_interval(secs => coalesce(st.opt_timeout, f.opt_timeout) + 2) < clock_timestamp()
     ORDER BY t.started_at, t.step_slug, t.task_index
     LIMIT 1;
    IF v_reason IS NOT NULL THEN
        RETURN v_reason;
    END IF;
    SELECT 'dependencies: ' || string_agg(w.step_slug || ' waits for ' || w.parents, '; ' ORDER BY w.step_slug)
      INTO v_reason
      FROM (SELECT ss.step_slug, string_agg(d.dep_slug, ', ' ORDER BY d.dep_slug) AS parents
              FROM pgflow.step_states AS ss
              JOIN pgflow.deps AS d ON d.flow_slug = ss.flow_slug AND d.step_slug = ss.step_slug
              JOIN pgflow.step_states AS parent
                ON parent.run_id = ss.run_id AND parent.step_slug = d.dep_slug AND parent.status = 'started'
             WHERE ss.run_id = p_run_id AND ss.status = 'created' AND ss.remaining_deps > 0
             GROUP BY ss.step_slug) AS w;
    RETURN v_reason;
END;
$$;

-- 0488_function__read_by_key.sql
-- claim_tasks' read of a flow with a per-key limit (pgflow-py flow control, max_running_per_key):
-- up to p_qty visible messages of queue p_queue_name, taken from the concurrency keys in turn so
-- that one key's backlog cannot starve the others. A plain read would take the oldest messages,
-- all of the key with the biggest backlog, which admission (pgflow._admit_claims) then refuses
-- while its slots are full: the read would spin over that backlog and never reach the keys
-- queued after it.
-- The keys are the distinct concurrency_key of the flow's started runs (a skip scan of
-- idx_runs_concurrency_key, one probe per key); each key with a free slot (max_running_per_key
-- minus its running tasks) offers the queued tasks of its oldest runs, at most its free slots
-- (and p_qty), and the read takes the keys' first tasks, then their second ones, and so on.
-- The scan goes on from where this session's last read of the flow stopped (a session setting,
-- no write), wraps around, and stops after enough candidates or greatest(4 * p_qty, 100) keys,
-- so with many keys each read serves the next ones. Admission still decides under the flow's
-- claim lock; this read only chooses which messages to offer. Runs without a key (NULL: started
-- before the flow had one) are not offered here: set_flow_limits and _declare_flow_limits give
-- started runs their key when a per-key limit appears (pgflow._key_started_runs).
-- Returns ids, the message ids read (NULL: none), and limited: true when a key's slots held some
-- of its work back (full, or fewer free slots than queued tasks offered) - claim_tasks then tells
-- the worker that flow control held work back, so it reads again when a slot frees rather than
-- taking the short read for an empty queue.
CREATE OR REPLACE FUNCTION pgflow._read_by_key(p_flow_slug text, p_queue_name text, p_qty int,
                                               OUT ids bigint[], OUT limited boolean)
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_per_key int;
    v_by_key jsonb;
    v_setting text := 'pgflow.key_cursor_' || md5(p_flow_slug);
    v_cursor text := nullif(current_setting(v_setting, true), '')::jsonb #>> '{}';
    v_key text := v_cursor;
    v_next text;
    v_wrapped boolean := v_cursor IS NULL;
    v_scanned int := 0;
    v_room int;
    v_take int;
    v_key_ids bigint[];
    v_candidates bigint[] := '{}';
    v_ranks int[] := '{}';  -- each candidate's place among its key's
    v_keys int[] := '{}';   -- and its key's place in the scan
BEGIN
    limited := false;
    SELECT (c.limits->>'max_running_per_key')::int INTO v_per_key
      FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF v_per_key IS NULL THEN
        RETURN;
    END IF;
    v_by_key := pgflow._running_by_key(p_flow_slug);
    LOOP
        -- two statements, not one with "v_key IS NULL OR": each is one probe of the index
        IF v_key IS NULL THEN
            SELECT min(r.concurrency_key) INTO v_next
              FROM pgflow.runs AS r
             WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key IS NOT NULL;
        ELSE
            SELECT min(r.concurrency_key) INTO v_next
              FROM pgflow.runs AS r
             WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key > v_key;
        END IF;
        IF v_next IS NULL THEN
            EXIT WHEN v_wrapped;
            v_wrapped := true;
            v_key := NULL;
            CONTINUE;
        END IF;
        -- back past the key where the scan began: every key was offered
        EXIT WHEN v_wrapped AND v_cursor IS NOT NULL AND v_next > v_cursor;
        v_key := v_next;
        v_scanned := v_scanned + 1;
        v_room := v_per_key - coalesce((v_by_key->>v_key)::int, 0);
        IF v_room > 0 THEN
            -- the key's oldest queued tasks, at most its free slots and the read's size; its
            -- oldest runs first (those running come first and offer nothing: skip past them)
            v_take := least(v_room, p_qty);
            v_key_ids := ARRAY(
                SELECT t.message_id
                  FROM (SELECT r.run_id, r.started_at
                          FROM pgflow.runs AS r
                         WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key = v_key
                         ORDER BY r.started_at
                         LIMIT coalesce((v_by_key->>v_key)::int, 0) + v_take * 2 + 8) AS r
                 CROSS JOIN LATERAL (
                       SELECT q.message_id
                         FROM pgflow.step_tasks AS q
                        WHERE q.run_id = r.run_id AND q.status = 'queued'
                          AND q.queue_name = p_queue_name AND q.message_id IS NOT NULL
                        ORDER BY q.message_id
                        LIMIT v_take) AS t
                 ORDER BY r.started_at, t.message_id
                 LIMIT v_take);
            v_candidates := v_candidates || v_key_ids;
            v_ranks := v_ranks || ARRAY(SELECT generate_series(1, cardinality(v_key_ids)));
            v_keys := v_keys || array_fill(v_scanned, ARRAY[cardinality(v_key_ids)]);
            -- as many as its free slots: it may have more, held back
            limited := limited OR (v_room <= p_qty AND cardinality(v_key_ids) >= v_room);
        ELSE
            limited := true;  -- full: its queued tasks (if any) wait for a slot
        END IF;
        EXIT WHEN cardinality(v_candidates) >= 2 * p_qty OR v_scanned >= greatest(4 * p_qty, 100);
    END LOOP;
    PERFORM set_config(v_setting, coalesce(to_jsonb(v_key)::text, ''), false);
    -- round robin: every key's first task, then every key's second, ...
    ids := pgflow._read_listed(p_queue_name, ARRAY(
               SELECT c.id FROM unnest(v_candidates, v_ranks, v_keys) AS c (id, rank, key_order)
                ORDER BY c.rank, c.key_order), p_qty);
END;
$$;

-- 0489_function__read_listed.sql
-- Read the messages p_candidates of queue p_queue_name that are visible now, in the order given,
-- at most p_qty (pgflow-py: the claim's reads of a flow with prioritized runs, _read_prioritized,
-- or with a per-key limit, _read_by_key): each read as pgmq.read does (FOR UPDATE SKIP LOCKED,
-- read_ct + 1) and hidden for its step's timeout + 2 s, as claim_tasks' own read (its twin for
-- the default lane; tests/sql/flow_control/test_priorities.py checks both hide and count alike).
-- Returns the message ids read, in id order (NULL: none). Prepared once per session and queue, as
-- claim_tasks' own read (planning the dynamic SQL on every call cost more than the read).
CREATE OR REPLACE FUNCTION pgflow._read_listed(p_queue_name text, p_candidates bigint[], p_qty int)
RETURNS bigint[]
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
DECLARE
    v_ids bigint[];
    v_read text := 'pgflow_read_listed_' || CASE WHEN octet_length(p_queue_name) <= 44
                                                 THEN p_queue_name ELSE md5(p_queue_name) END;
BEGIN
    IF coalesce(cardinality(p_candidates), 0) = 0 OR p_qty < 1 THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_prepared_statements AS p WHERE p.name = v_read) THEN
        EXECUTE format($read$
        PREPARE %2$I (bigint[], int) AS
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
               -- by key: the generic plan cannot know how few rows LIMIT $2 leaves
               AND q.msg_id = ANY (ARRAY(SELECT p2.msg_id FROM picked AS p2))
            RETURNING q.msg_id
        )
        SELECT array_agg(h.msg_id ORDER BY h.msg_id) FROM hidden AS h
        $read$, pgmq.format_table_name(p_queue_name, 'q'), v_read);
    END IF;
    EXECUTE format('EXECUTE %I(%L, %s)', v_read, p_candidates, p_qty) INTO v_ids;
    RETURN v_ids;
END;
$$;

-- 0490_function__key_started_runs.sql
-- Give the started runs of flow p_flow_slug that have no concurrency key (runs.concurrency_key
-- NULL: started while the flow had no per-key limit) the key their input gives under the limits
-- now in force, as pgflow._run_concurrency_key would have ('' when the input lacks it). Called by
-- set_flow_limits and _declare_flow_limits; it keys runs when the limits have a per-key limit
-- (max_running_per_key, rate_limit_per_key), so the
-- claim's fair read (pgflow._read_by_key, which offers keyed runs only) reaches those runs too.
-- Once per limit change; runs already keyed (by a callable, or before) keep their key.
CREATE OR REPLACE FUNCTION pgflow._key_started_runs(p_flow_slug text, p_limits jsonb)
RETURNS void
LANGUAGE sql
VOLATILE
SET search_path = ''
AS $$
    UPDATE pgflow.runs AS r
       SET concurrency_key = coalesce(r.input #>> string_to_array(p_limits ->> 'concurrency_key', '.'), '')
     WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key IS NULL
       AND p_limits ?| ARRAY['max_running_per_key', 'rate_limit_per_key'];
$$;

-- 0491_function__run_held_by_limits.sql
-- The flow control part of pgflow._run_held_by: why flow control v_control keeps the queued tasks
-- of run p_run_id (in steps p_steps) from being claimed, or NULL when it does not.
CREATE OR REPLACE FUNCTION pgflow._run_held_by_limits(p_run_id uuid, p_control pgflow.flow_controls, p_steps text[])
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_control pgflow.flow_controls := p_control;
    v_steps text[] := p_steps;
    v_max int;
    v_running int;
    v_step text;
    v_key text;
BEGIN
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
    v_max := (v_control.limits->>'max_running_per_key')::int;
    IF v_max IS NOT NULL THEN
        SELECT coalesce(r.concurrency_key, '') INTO v_key FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
        v_running := coalesce((pgflow._running_by_key(v_control.flow_slug)->>v_key)::int, 0);
        IF v_running >= v_max THEN
            RETURN format('concurrency limit: key %s max_running_per_key %s (%s running)',
                          CASE WHEN v_key = '' THEN '(none)' ELSE to_jsonb(v_key)::text END, v_max, v_running);
        END IF;
    END IF;
    IF v_control.limits ? 'rate_limit' AND pgflow._rate_room(v_control.limits->'rate_limit',
           (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
             WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = ''),
           extract(epoch FROM clock_timestamp())) < 1 THEN
        RETURN format('rate limit: flow %s per %s s', v_control.limits #>> '{rate_limit,count}',
                      v_control.limits #>> '{rate_limit,per}');
    END IF;
    IF v_control.limits ? 'rate_limit_per_key' THEN
        SELECT coalesce(r.concurrency_key, '') INTO v_key FROM pgflow.runs AS r WHERE r.run_id = p_run_id;
        IF pgflow._rate_room(v_control.limits->'rate_limit_per_key',
               (SELECT extract(epoch FROM r.tat) FROM pgflow.flow_rate_state AS r
                 WHERE r.flow_slug = v_control.flow_slug AND r.step_slug = 'key:' || v_key),
               extract(epoch FROM clock_timestamp())) < 1 THEN
            RETURN format('rate limit: key %s %s per %s s',
                          CASE WHEN v_key = '' THEN '(none)' ELSE to_jsonb(v_key)::text END,
                          v_control.limits #>> '{rate_limit_per_key,count}',
                          v_control.limits #>> '{rate_limit_per_key,per}');
        END IF;
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

-- 0492_function__running_by_key.sql
-- The running tasks (status 'started') of flow p_flow_slug per concurrency key of their run
-- ({"<key>": n}; '' for the no-key group and for runs without a key): the slots in use that
-- max_running_per_key limits, derived from task state (pgflow-py flow control: _admit_claims,
-- _read_by_key, _run_held_by_limits and the flow's control state read it).
CREATE OR REPLACE FUNCTION pgflow._running_by_key(p_flow_slug text)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(jsonb_object_agg(running.k, running.n), '{}')
      FROM (SELECT coalesce(r.concurrency_key, '') AS k, count(*)::int AS n
              FROM pgflow.step_tasks AS t
              JOIN pgflow.runs AS r ON r.run_id = t.run_id
             WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
             GROUP BY 1) AS running;
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
-- Fairness between keys: a flow with a max_running_per_key reads the rest from its concurrency
-- keys in turn (pgflow._read_by_key) instead of the queue's oldest messages; when a key's slots
-- held work back it also returns the row that tells the worker to look again shortly.
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
    v_keyed text;
    v_limited boolean := false;
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
    SELECT cr.room, cr.prioritized_flow, cr.keyed_flow INTO v_room, v_prioritized, v_keyed
      FROM pgflow._claim_room(claim_tasks.queue_name) AS cr;
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
    IF v_keyed IS NOT NULL AND coalesce(cardinality(v_ids), 0) < v_qty THEN
        SELECT rk.ids, rk.limited INTO v_read_ids, v_limited
          FROM pgflow._read_by_key(v_keyed, claim_tasks.queue_name, v_qty - coalesce(cardinality(v_ids), 0)) AS rk;
        v_ids := CASE WHEN v_ids IS NULL THEN v_read_ids ELSE v_ids || coalesce(v_read_ids, '{}') END;
    ELSIF coalesce(cardinality(v_ids), 0) < v_qty THEN
        EXECUTE format('EXECUTE %I(%s)', v_read, v_qty - coalesce(cardinality(v_ids), 0)) INTO v_read_ids;
        v_ids := CASE WHEN v_ids IS NULL THEN v_read_ids ELSE v_ids || coalesce(v_read_ids, '{}') END;
    END IF;

    IF v_ids IS NULL THEN
        IF v_limited THEN  -- keys' slots held work back: a row without a task says so
            RETURN QUERY SELECT 0, NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                                NULL::int, NULL::jsonb, NULL::int;
        END IF;
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
    IF NOT FOUND OR v_room < claim_tasks.qty OR v_limited THEN
        RETURN QUERY SELECT cardinality(v_ids), NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                            NULL::int, NULL::jsonb, NULL::int;
    END IF;
END;
$$;

