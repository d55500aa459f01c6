-- Read and claim in one call (one round trip, one commit): up to `qty` visible messages of a
-- flow's queue (named after the flow), oldest first, then start_tasks' claim of their tasks. The
-- read is pgmq.read's (FOR UPDATE SKIP LOCKED, read_ct + 1), prepared once per session and queue
-- (pgmq.read plans its dynamic SQL on every call, which cost more than the read itself), and
-- hides each message for its step's timeout + 2 s straight away. Messages enqueued by a
-- transaction that started after this one are left for the next call: start_tasks stamps
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
    v_events boolean := pgflow._events_wanted();
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
    -- the claim of start_tasks (same eligibility, same updates, task:started), without moving
    -- the messages' visibility a second time
    RETURN QUERY
        WITH claimed AS (
            UPDATE pgflow.step_tasks AS t
               SET status = 'started',
                   attempts_count = t.attempts_count + 1,
                   started_at = now(),
                   last_worker_id = claim_tasks.worker_id
             WHERE t.ctid = ANY (ARRAY(
                       SELECT task.ctid
                         FROM unnest(v_ids) AS m (msg_id)
                        CROSS JOIN LATERAL (
                               SELECT probe.ctid
                                 FROM pgflow.step_tasks AS probe
                                WHERE probe.message_id = m.msg_id
                                  AND probe.flow_slug = claim_tasks.queue_name
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
        SELECT cardinality(v_ids), c.flow_slug, c.run_id, c.step_slug,
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
    IF NOT FOUND THEN
        RETURN QUERY SELECT cardinality(v_ids), NULL::text, NULL::uuid, NULL::text, NULL::jsonb, NULL::bigint,
                            NULL::int, NULL::jsonb, NULL::int;
    END IF;
END;
$$;
