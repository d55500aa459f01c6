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
