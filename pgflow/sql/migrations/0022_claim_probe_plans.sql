-- pgflow-py migration 0022_claim_probe_plans: drafted by scripts/build_migration.py from the schema files changed since HEAD

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
-- Fast path: a flow limited by max_running only (flow and/or steps, no per-key limit, no rate)
-- whose running tasks plus the whole batch stay within every such limit admits the batch in one
-- statement, without the per-message loop: the same answer the loop gives, as each of its tasks
-- would find room. The claim lock is kept on this path too: concurrent claims, each fitting on
-- its own, could together pass the limit if they did not see each other's started tasks (the
-- lock is held to the claim's commit, which the worker makes with synchronous_commit off, so
-- holding it costs no WAL flush).
-- Its lookups of the messages' tasks compare `status || ''`, which the partial index of queued
-- tasks does not match (see pgflow._start_tasks: stale statistics made it a scan per message).
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
        -- fast path (no per-key limit, no rate): when even every message of the batch fits in
        -- the flow's max_running and in every step's (the batch size bounds any step's share of
        -- it), all queued tasks are admitted with one statement; the loop runs only near a limit
        IF v_per_key IS NULL AND NOT v_rated
           AND (v_flow_max IS NULL OR v_running + cardinality(p_msg_ids) <= v_flow_max)
           AND NOT EXISTS (SELECT FROM jsonb_each(coalesce(v_limits->'steps', '{}')) AS s (step_slug, opts)
                            WHERE (s.opts->>'max_running')::int
                                  < coalesce((v_by_step->>s.step_slug)::int, 0) + cardinality(p_msg_ids)) THEN
            RETURN ARRAY(SELECT t.message_id
                           FROM unnest(p_msg_ids) AS m (msg_id)
                           JOIN pgflow.step_tasks AS t ON t.queue_name = p_queue_name AND t.message_id = m.msg_id
                          WHERE t.status || '' = 'queued' AND t.flow_slug = p_flow_slug
                          ORDER BY m.msg_id);
        END IF;
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
         WHERE t.status || '' = 'queued' AND t.flow_slug = p_flow_slug
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
            -- concurrently is skipped. The status is compared as `status || ''`, which the
            -- partial index of queued tasks does not match: with statistics taken while nothing
            -- was queued, the generic plan otherwise looked each message up by scanning that
            -- whole index, believed empty (a 10,000-task map then claimed 3-4 times slower).
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
                                  AND probe.status || '' = 'queued'
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

