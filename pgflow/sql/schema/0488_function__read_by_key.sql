-- claim_tasks' read of a flow with a per-key limit (pgflow-py flow control, max_running_per_key):
-- up to p_qty visible messages of queue p_queue_name, taken from the concurrency keys in turn so
-- that one key's backlog cannot starve the others. A plain read would take the oldest messages,
-- all of the key with the biggest backlog, which admission (pgflow._admit_claims) then refuses
-- while its slots are full: the read would spin over that backlog and never reach the keys
-- queued after it.
-- The keys are the distinct concurrency_key of the flow's started runs (a skip scan of
-- idx_runs_concurrency_key, one probe per key); each key with a free slot (max_running_per_key
-- minus its running tasks) offers the queued tasks of its oldest runs, at most its free slots.
-- The scan goes on from where this session's last read of the flow stopped (a session setting,
-- no write), wraps around, and stops after enough candidates or greatest(4 * p_qty, 100) keys,
-- so with many keys each read serves the next ones. Admission still decides under the flow's
-- claim lock; this read only chooses which messages to offer. Runs without a key (NULL: started
-- before the flow had one) are not offered here: set_flow_limits and _declare_flow_limits give
-- started runs their key when a per-key limit appears (pgflow._key_started_runs).
-- Returns the message ids read; NULL when none, or '{}' when none but some key's slots are full
-- (claim_tasks then tells the worker that flow control held work back, so it looks again soon).
CREATE OR REPLACE FUNCTION pgflow._read_by_key(p_flow_slug text, p_queue_name text, p_qty int)
RETURNS bigint[]
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
    v_candidates bigint[] := '{}';
BEGIN
    SELECT (c.limits->>'max_running_per_key')::int INTO v_per_key
      FROM pgflow.flow_controls AS c WHERE c.flow_slug = p_flow_slug;
    IF v_per_key IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT coalesce(jsonb_object_agg(running.k, running.n), '{}') INTO v_by_key
      FROM (SELECT coalesce(r.concurrency_key, '') AS k, count(*)::int AS n
              FROM pgflow.step_tasks AS t
              JOIN pgflow.runs AS r ON r.run_id = t.run_id
             WHERE t.flow_slug = p_flow_slug AND t.status = 'started'
             GROUP BY 1) AS running;
    LOOP
        SELECT min(r.concurrency_key) INTO v_next
          FROM pgflow.runs AS r
         WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key IS NOT NULL
           AND (v_key IS NULL OR r.concurrency_key > v_key);
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
            v_candidates := v_candidates || ARRAY(
                SELECT t.message_id
                  FROM (SELECT r.run_id, r.started_at
                          FROM pgflow.runs AS r
                         WHERE r.flow_slug = p_flow_slug AND r.status = 'started' AND r.concurrency_key = v_key
                         ORDER BY r.started_at
                         LIMIT (v_per_key + v_room) * 2 + 8) AS r
                 CROSS JOIN LATERAL (
                       SELECT q.message_id
                         FROM pgflow.step_tasks AS q
                        WHERE q.run_id = r.run_id AND q.status = 'queued'
                          AND q.queue_name = p_queue_name AND q.message_id IS NOT NULL
                        ORDER BY q.message_id
                        LIMIT v_room) AS t
                 ORDER BY r.started_at, t.message_id
                 LIMIT v_room);
        END IF;
        EXIT WHEN cardinality(v_candidates) >= 2 * p_qty OR v_scanned >= greatest(4 * p_qty, 100);
    END LOOP;
    PERFORM set_config(v_setting, coalesce(to_jsonb(v_key)::text, ''), false);
    RETURN coalesce(pgflow._read_listed(p_queue_name, v_candidates, p_qty),
                    CASE WHEN EXISTS (SELECT 1 FROM jsonb_each_text(v_by_key) AS k WHERE k.value::int >= v_per_key)
                         THEN '{}'::bigint[] END);
END;
$$;
