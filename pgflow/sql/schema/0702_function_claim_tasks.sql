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
