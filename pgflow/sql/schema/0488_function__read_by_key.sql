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
                 CROSS JOIN LATERAL pgflow._queued_in_order(r.run_id, p_queue_name, v_take) AS t (message_id)
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
